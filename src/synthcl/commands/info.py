"""``synthcl info``: what a dataset path holds, as synthcl will read it."""

from __future__ import annotations

import argparse

HELP = "show a dataset's detected format, modality, classes, split sizes and image size"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from synthcl.data.cli import add_data_arguments

    add_data_arguments(parser)
    parser.add_argument("--formats", action="store_true",
                        help="list the supported formats and exit")


def format_table() -> str:
    from synthcl.data.sources import FORMATS

    width = max(map(len, FORMATS))
    return "\n".join(f"{name:<{width}}  {fmt.reads}" for name, fmt in FORMATS.items())


def describe(data) -> str:
    """A short report: source, format, modality, image size, split note, class x split table."""
    from synthcl.data import SPLITS

    height, width, channels = data.image_shape
    counts = {s: data.splits[s].class_counts(data.num_classes) for s in SPLITS}
    max_n = int(counts["train"].min()) // 2 * 2 * data.num_classes
    lines = [
        f"dataset   {data.name}",
        f"source    {data.source}",
        f"format    {data.format}",
        f"modality  {data.modality}",
        f"images    {width}x{height} (width x height), {channels} channel"
        f"{'s' if channels > 1 else ''} ({'RGB' if channels == 3 else 'grayscale'})",
        f"splits    {data.split_note}",
        f"classes   {data.num_classes}; balanced N up to {max_n} (the smallest class in train "
        f"holds {int(counts['train'].min())})",
        "",
    ]
    name_width = max(5, *(len(c) for c in data.class_names))
    header = f"{'class':<{name_width}}" + "".join(f"{s:>9}" for s in SPLITS)
    lines += [header, "-" * len(header)]
    for k, name in enumerate(data.class_names):
        lines.append(f"{name:<{name_width}}" + "".join(f"{counts[s][k]:>9}" for s in SPLITS))
    lines.append("-" * len(header))
    lines.append(f"{'total':<{name_width}}" + "".join(f"{int(counts[s].sum()):>9}"
                                                       for s in SPLITS))
    lines += [f"note      {note}" for note in data.notes]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.formats:
        print(format_table())
        return 0
    import warnings

    from synthcl.data import DataWarning, load_from_args

    with warnings.catch_warnings():          # the notes are part of the report
        warnings.simplefilter("ignore", DataWarning)
        print(describe(load_from_args(args)))
    return 0
