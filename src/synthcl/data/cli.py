"""The ``--data/--format/--image-size/--allow-pickle/--split-seed`` options every data-reading
command shares."""

from __future__ import annotations

import argparse

from synthcl.data.types import ImageData


def add_data_arguments(parser: argparse.ArgumentParser, default: str = "elpv") -> None:
    from synthcl.data.sources import FORMATS

    group = parser.add_argument_group("data")
    group.add_argument("--data", default=default, metavar="PATH",
                       help=f"dataset file or folder, or 'elpv' for the embedded solar-cell "
                            f"images (default: {default})")
    group.add_argument("--format", default=None, choices=tuple(FORMATS), metavar="FORMAT",
                       help=f"force a format instead of detecting it: {', '.join(FORMATS)}")
    group.add_argument("--image-size", default=None, metavar="S|WxH",
                       help="resize every image at load: S (S x S) or WxH (width x height), "
                            "e.g. 224 or 250x190")
    group.add_argument("--allow-pickle", action="store_true",
                       help="allow loading a pickle (WM-811K LSWMD.pkl); only for files you "
                            "trust, since unpickling can run code")
    group.add_argument("--split-seed", type=int, default=0, metavar="S",
                       help="seed of the stratified test split of datasets without an official "
                            "one (default: 0)")
    group.add_argument("--allow-outside-paths", action="store_true",
                       help="let a manifest list images outside its own folder (e.g. ../x.png)")


def load_from_args(args: argparse.Namespace) -> ImageData:
    from synthcl.data import load_dataset

    return load_dataset(args.data, args.format, args.image_size, args.allow_pickle,
                        args.split_seed, outside_paths=args.allow_outside_paths)
