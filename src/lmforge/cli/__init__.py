"""The command line: the subcommand table (main.py), its handlers (handlers.py), `lmforge demo` (demo.py)
and `lmforge doctor` (doctor.py). Console script: `lmforge = lmforge.cli:main`."""

from lmforge.cli.main import main

__all__ = ["main"]
