"""The ``synthcl`` command: one sub-command per module in ``synthcl.commands``.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
User errors (:class:`SynthclError`) print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from synthcl import __version__
from synthcl.errors import SynthclError, show_warnings_on_one_line
from synthcl.utils.signals import exit_status, interrupts

COMMANDS = ("info", "generate", "preview", "pretrain", "finetune", "evaluate", "run", "report",
            "compare", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthcl",
        description="Pre-train a CNN by contrastive learning on synthetic images made from your "
                    "own few real images, fine-tune it on your labels, and benchmark it.")
    parser.add_argument("--version", action="version", version=f"synthcl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"synthcl.commands.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    show_warnings_on_one_line()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        with interrupts():
            return int(args._run(args) or 0)
    except SynthclError as exc:
        print(f"synthcl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:                      # unwritable --out, full disk, missing file
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"synthcl {args.command}: error: {exc.strerror or exc}{where}; check the path "
              f"and free space", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:            # SIGINT or SIGTERM (see utils.signals)
        print(f"synthcl {args.command}: interrupted", file=sys.stderr)
        return exit_status(exc)


if __name__ == "__main__":
    raise SystemExit(main())
