"""Runs one variant of one benchmark: `python -m bench.child train lmforge '{"n": 10}'`.

The benchmark module has a `VARIANTS` dict of name -> function(params) -> dict of numbers; the dict is
printed as the last line of stdout, for the harness to read.
"""

from __future__ import annotations

import importlib
import json
import sys


def main() -> None:
    module, variant, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    mod = importlib.import_module(f"bench.{module}")
    res = mod.VARIANTS[variant](params)
    sys.stdout.flush()
    print(json.dumps(res, default=float), flush=True)


if __name__ == "__main__":
    main()
