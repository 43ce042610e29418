"""Settings every loader receives, and the parsing of ``--image-size``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from synthcl.errors import SynthclError

MAX_SIDE = 8192


@dataclass(frozen=True)
class LoadOptions:
    """``image_size`` is (width, height) or None (native size); ``split_seed`` seeds the
    stratified split of datasets that have no official test split; ``outside_paths`` lets a
    manifest list images outside its own folder."""

    image_size: tuple[int, int] | None = None
    allow_pickle: bool = False
    split_seed: int = 0
    outside_paths: bool = False


def parse_image_size(
        value: str | int | tuple[int, int] | list[int] | None) -> tuple[int, int] | None:
    """``"S"`` -> (S, S); ``"WxH"`` -> (W, H) (width x height, as in the paper's "250 x 190");
    an int or a (width, height) pair is taken as is; None or "" -> None (keep the native size)."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        size = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        size = tuple(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+)\s*)?", value)
        if not match:
            raise SynthclError(
                f"--image-size {value!r}: expected S (a square S x S) or WxH (width x height), "
                f"e.g. 224 or 250x190")
        width = int(match.group(1))
        size = (width, int(match.group(2)) if match.group(2) else width)
    else:
        raise SynthclError(f"--image-size {value!r}: expected S or WxH, e.g. 224 or 250x190")
    if not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_SIDE
               for s in size):
        raise SynthclError(f"--image-size {value!r}: width and height must be whole numbers "
                           f"from 1 to {MAX_SIDE}")
    return size  # type: ignore[return-value]
