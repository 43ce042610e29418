"""``synthcl demo``: ``synthcl compare`` on the embedded elpv solar-cell images (no download)."""

from __future__ import annotations

import argparse

from synthcl.commands import compare

HELP = ("the main job on embedded data: synthcl compare on the elpv solar-cell images (ours "
        "against scratch, paired seeds, at most 10 minutes on 2 CPU cores)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    compare.add_arguments(parser, data="elpv", out="results/demo", image_size="32")


def run(args: argparse.Namespace) -> int:
    return compare.run(args)
