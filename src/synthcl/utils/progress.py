"""Progress bars for long work (tqdm on stderr); SYNTHCL_PROGRESS=0 turns them off."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


def progress_enabled() -> bool:
    return os.environ.get("SYNTHCL_PROGRESS", "1") not in ("0", "false", "no")


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
             unit: str = "it", leave: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar that refreshes at most once a second, so logs of background runs stay small."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, mininterval=1.0,
                dynamic_ncols=True, disable=not progress_enabled(), **kwargs)
