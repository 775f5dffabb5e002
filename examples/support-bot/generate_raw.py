"""Write the demo's raw support-desk chats, its eval set and exp.yaml: deliberately messy, deterministic (seeded).

Run from the repository root: `python examples/support-bot/generate_raw.py`. The generator lives in the
package (`lmforge.cli.demo_data`, its topics in `lmforge.cli.demo_topics`), so that `lmforge demo` can write
the same files after a plain `pip install`; this script writes them here. See README.md for what is planted.
"""

from __future__ import annotations

from pathlib import Path

from lmforge.cli.demo_data import write_example

if __name__ == "__main__":
    counts = write_example(Path(__file__).parent)
    print(
        f"wrote {counts['jsonl']} + {counts['jsonl_broken']} broken jsonl lines, {counts['csv']} csv rows, "
        f"{counts['eval']} eval rows, exp.yaml"
    )
