"""The one exception type for errors a user can cause and fix, and how warnings reach the user."""

import sys
import warnings


class SynthclError(Exception):
    """A bad input or setting: the message names the input and the fix.

    The command line prints the message without a traceback and exits with status 2.
    """


def show_warnings_on_one_line() -> None:
    """Print every warning as one ``synthcl: warning: ...`` line, without Python's file, line
    number and source line (warnings are for the user). Each process that runs synthcl's work
    calls it: the command line and every worker process of ``synthcl run``."""
    warnings.showwarning = _one_line_warning


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # one write of the whole line: print's separate newline let two workers' lines interleave
    sys.stderr.write(f"synthcl: warning: {message}\n")
    sys.stderr.flush()
