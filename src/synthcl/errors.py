"""The one exception type for errors a user can cause and fix."""


class SynthclError(Exception):
    """A bad input or setting: the message names the input and the fix.

    The command line prints the message without a traceback and exits with status 2.
    """
