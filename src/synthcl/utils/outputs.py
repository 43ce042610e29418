"""Output folders synthcl owns: a marker file says synthcl wrote a folder, so ``--overwrite``
replaces only synthcl's own outputs, and a failed run removes the folder it created.

An output is never the current folder or one above it, the home folder or ``/``, and never
overlaps the input data; ``--overwrite`` never removes a folder without the marker.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from synthcl.errors import SynthclError

MARKER = ".synthcl-output"


def write_marker(folder: Path, command: str) -> None:
    """Mark ``folder`` as written by synthcl ``command``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(json.dumps({"written_by": f"synthcl {command}"}) + "\n",
                                 encoding="utf-8")


def is_synthcl_output(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _resolved(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def _inside(path: Path, other: Path) -> bool:
    return path == other or other in path.parents


def check_apart(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (),
                flag: str = "--out") -> None:
    """Refuse an output that is, holds or lies inside an input, or that is the current folder,
    one above it, the home folder or ``/``."""
    target = _resolved(out)
    for given in inputs:
        if given is None or str(given) == "elpv" or not Path(given).exists():
            continue
        source = _resolved(given)
        if _inside(target, source) or _inside(source, target):
            raise SynthclError(f"{flag} {out} overlaps the input data {given}; write the output "
                               f"to a folder outside the data")
    if target in (Path("/"), _resolved(Path.home())) or _inside(_resolved(os.getcwd()), target):
        raise SynthclError(f"{flag} {out} is the current folder, one above it, the home folder "
                           f"or /; give a new sub-folder, e.g. {flag} synthcl-out")


def check_out(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (),
              overwrite: bool = False, flag: str = "--out") -> None:
    """Refuse an output path that overlaps the inputs, or that exists when it may not be
    replaced (no ``overwrite``, or not a synthcl output, or a protected folder)."""
    check_apart(out, inputs, flag)
    target = _resolved(out)
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        return
    if not overwrite:
        raise SynthclError(f"{flag} {out} exists and is not empty; choose another folder or add "
                           f"--overwrite")
    if not target.is_dir() or not is_synthcl_output(target):
        raise SynthclError(f"{flag} {out} was not written by synthcl (no {MARKER} marker), so "
                           f"--overwrite will not remove it; choose another folder or remove "
                           f"it yourself")


def replace_with(tmp: Path, out: Path) -> None:
    """Move the finished folder ``tmp`` to ``out``, replacing an earlier synthcl output."""
    if out.is_dir() and any(out.iterdir()):
        if not is_synthcl_output(out):
            raise SynthclError(f"--out {out} was not written by synthcl; it is left as it is")
        shutil.rmtree(out)
    elif out.exists() and not out.is_dir():
        raise SynthclError(f"--out {out} is a file; it is left as it is")
    tmp.rename(out)                    # replaces an empty folder


@contextlib.contextmanager
def removed_on_failure(out: str | os.PathLike, command: str,
                       keep: Callable[[], bool] = lambda: False) -> Iterator[Path]:
    """Create and mark ``out`` if absent; if the block fails (error or signal) and ``keep()``
    is false, remove the folder again when this call created it."""
    out = Path(out)
    created = not out.exists()
    if created:
        write_marker(out, command)
    try:
        yield out
    except BaseException:
        if created and not keep():
            shutil.rmtree(out, ignore_errors=True)
        raise
