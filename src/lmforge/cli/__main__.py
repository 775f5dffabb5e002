"""`python -m lmforge.cli ...` (how `train.num_processes` relaunches itself under torchrun)."""

import sys

from lmforge.cli.main import main

sys.exit(main())
