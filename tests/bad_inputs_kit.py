"""Builders of the bad-input corpus: tiny datasets of every format, hostile files (a pickle and a
``torch.save`` object whose loading touches a marker file) and the checks every case makes."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from synthcl.cli import main

FIX_WORDS = ("give", "pass", "use", "choose", "remove", "fix", "add", "type", "check", "move",
             "decompress", "point", "delete", "set", "run", "list", "write", "save", "expected",
             "must", "needs", "need", "resize", "only", "put", "omit", "rename", "valid",
             "name it")


class Evil:
    """Unpickling this touches ``marker``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def evil_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(Evil(marker)))
    return path


def evil_torch(path: Path, marker: Path) -> Path:
    import torch

    torch.save({"model": Evil(marker), "state_dict": Evil(marker), "step": 1}, path)
    return path


def npz(path: Path, size: int = 8, per_class: int = 8, classes: int = 2, **override) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", per_class * classes), ("val", 2 * classes),
                     ("test", 2 * classes)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % classes).reshape(n, 1)
    arrays.update(override)
    np.savez(path, **arrays)
    return path


def png(path: Path, size: int = 8, mode: str = "L", seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def image_folder(root: Path, classes=("a", "b"), per_class: int = 6, size: int = 8) -> Path:
    for c in classes:
        for i in range(per_class):
            png(root / c / f"{c}{i}.png", size, seed=i)
    return root


def wafer_pickle(path: Path, per_class: int = 3, bad_label: str | None = None) -> Path:
    import pandas as pd

    from synthcl.data.sources.wafer import CLASS_NAMES

    rng = np.random.default_rng(0)
    rows = []
    for name in CLASS_NAMES:
        for i in range(per_class):
            rows.append({"waferMap": rng.integers(0, 3, (10, 10)),
                         "failureType": np.array([[bad_label or name]]),
                         "trianTestLabel": np.array([["Test" if i == 0 else "Training"]])})
    pd.DataFrame(rows).to_pickle(path)
    return path


def manifest(path: Path, rows: list[dict], fmt: str = "csv") -> Path:
    if fmt == "json":
        path.write_text(json.dumps(rows))
        return path
    keys = list(rows[0])
    lines = [",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file and folder under ``roots``: what a case must not change."""
    state = {}
    for root in roots:
        for top, dirs, files in os.walk(root):
            for name in dirs + files:
                full = os.path.join(top, name)
                stat = os.lstat(full)
                state[full] = (stat.st_size if name in files else 0, stat.st_mtime_ns)
    return state


def run_cli(argv: list, capsys) -> tuple[int, str]:
    """``synthcl ARGV`` in this process: (exit status, stderr)."""
    status, _, err = run_cli_out(argv, capsys)
    return status, err


def run_cli_out(argv: list, capsys) -> tuple[int, str, str]:
    """``synthcl ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:                  # argparse's own errors
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_refused(status: int, err: str, names: str | tuple[str, ...], expected: int = 2
                   ) -> str:
    """The documented status, no traceback, one error line that names the input and a fix."""
    assert "Traceback" not in err, err
    assert status == expected, err
    errors = [line for line in err.splitlines() if ": error:" in line]
    assert len(errors) == 1, err
    line = errors[0]
    names = (names,) if isinstance(names, str) else names
    assert any(n.lower() in line.lower() for n in names), (names, line)
    assert any(w in line.lower() for w in FIX_WORDS), line
    return line
