"""Sub-commands of the ``synthcl`` CLI (see :mod:`synthcl.cli`)."""
