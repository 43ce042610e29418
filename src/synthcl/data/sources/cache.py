"""On-disk cache of decoded arrays, so folders of thousands of small files load in a blink.

One ``.npz`` per (kind, source, settings) under ``$SYNTHCL_CACHE/data`` (default
``~/.cache/synthcl/data``), holding the arrays and a fingerprint of the inputs (file names,
sizes, modification times). A changed input makes the fingerprint differ and the entry is rebuilt
in place, so the cache holds one entry per dataset and size. Entries are written atomically;
an unreadable entry is rebuilt; ``SYNTHCL_DATA_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from synthcl.utils.atomic import atomic_path

_FINGERPRINT = "__fingerprint__"


def default_cache_dir() -> Path:
    """``$SYNTHCL_CACHE`` or ``~/.cache/synthcl``: the root of every synthcl cache."""
    return Path(os.environ.get("SYNTHCL_CACHE") or Path.home() / ".cache" / "synthcl")


def cache_root() -> Path:
    return default_cache_dir() / "data"


def cache_enabled() -> bool:
    return os.environ.get("SYNTHCL_DATA_CACHE", "1").lower() not in ("0", "false", "no", "off")


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def files_fingerprint(paths: Sequence[str | Path]) -> list[tuple[str, int, int]]:
    """(path, size, mtime in ns) of every file: any added, removed or changed file shows.
    Raises FileNotFoundError for a missing file."""
    result = []
    for path in paths:
        stat = os.stat(path)
        result.append((os.fspath(path), stat.st_size, stat.st_mtime_ns))
    return result


def cache_file(kind: str, identity: object) -> Path:
    return cache_root() / f"{kind}-{_digest(identity)[:24]}.npz"


def cached_arrays(kind: str, identity: object, fingerprint: object,
                  compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, from the cache when ``identity`` (which dataset, which settings)
    has an entry whose stored ``fingerprint`` (the state of the inputs) still matches."""
    if not cache_enabled():
        return compute()
    path = cache_file(kind, identity)
    stamp = _digest(fingerprint)
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored[_FINGERPRINT]) == stamp:
                return {key: stored[key] for key in stored.files if key != _FINGERPRINT}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        pass  # absent or unreadable: rebuild it
    arrays = compute()
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays, **{_FINGERPRINT: np.array(stamp)})
    except OSError as exc:
        warnings.warn(f"could not write the data cache {path} ({exc}); set SYNTHCL_CACHE to a "
                      f"writable folder or SYNTHCL_DATA_CACHE=0", stacklevel=2)
    return arrays
