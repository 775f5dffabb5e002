"""Errors the CLI turns into one line and an exit code, never a traceback."""


class UserError(Exception):
    """Bad usage, config or input file: the CLI prints the message and exits 2."""

    exit_code = 2


class RunFailed(Exception):
    """A run or check that failed (NaN loss, fatal inspect finding): exit 1."""

    exit_code = 1
