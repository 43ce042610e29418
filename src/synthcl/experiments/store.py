"""Results of record: one SQLite row per cell (and seed), plus per-cell JSON files.

A row holds the cell's identity (spec, scale, dataset, N, method, seed, swept values), its status
(``done`` | ``not_run`` | ``failed``), metrics JSON, the pre-training summary, the resolved configs,
the config hash, the pretrain key, the code version, timings and the report layout of its spec.
``cell_id`` is the primary key. A ``done`` row is written in one transaction only when the cell is
complete and is never replaced, so a killed run loses nothing and counts nothing twice; ``not_run``
and ``failed`` rows are replaced when the cell later runs.

``synthcl run --cell ID`` (one cell per process, e.g. a SLURM array task) writes the same record
as ``RESULTS_DIR/cells/<ID>.json`` instead of touching the database; :func:`load_records` merges
both, and a whole-grid ``synthcl run`` imports such files before it starts.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from contextlib import closing
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from synthcl.errors import SynthclError
from synthcl.utils.atomic import write_json

COLUMNS = ("cell_id", "spec", "scale", "kind", "dataset", "dataset_path", "paper_dataset", "n",
           "method", "seed", "sweep", "status", "reason", "metrics", "pretrain", "configs",
           "config_hash", "pretrain_key", "code_version", "started_at", "finished_at",
           "wall_time_s", "reused_from", "layout")
JSON_COLUMNS = ("sweep", "metrics", "pretrain", "configs", "layout")
SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    cell_id TEXT PRIMARY KEY, spec TEXT NOT NULL, scale TEXT NOT NULL, kind TEXT NOT NULL,
    dataset TEXT NOT NULL, dataset_path TEXT, paper_dataset TEXT, n INTEGER NOT NULL,
    method TEXT NOT NULL, seed INTEGER NOT NULL, sweep TEXT NOT NULL, status TEXT NOT NULL,
    reason TEXT, metrics TEXT, pretrain TEXT, configs TEXT, config_hash TEXT, pretrain_key TEXT,
    code_version TEXT, started_at TEXT, finished_at TEXT, wall_time_s REAL, reused_from TEXT,
    layout TEXT
);
CREATE INDEX IF NOT EXISTS cells_by_hash ON cells (config_hash, status);
"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@lru_cache(maxsize=1)
def code_version() -> str:
    """``synthcl.__version__``, plus the git commit (``+dirty`` with local changes) if any."""
    from synthcl import __version__

    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=5, check=True).stdout
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+git.{commit.strip()}{'.dirty' if dirty.strip() else ''}"


def _encode(record: dict[str, Any]) -> tuple:
    return tuple(json.dumps(record.get(c), sort_keys=True, default=str) if c in JSON_COLUMNS
                 else record.get(c) for c in COLUMNS)


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    return {c: (json.loads(row[c]) if c in JSON_COLUMNS and row[c] is not None else row[c])
            for c in COLUMNS}


class ResultStore:
    """The SQLite database of cell records (default ``results/synthcl.db``).

    ``readonly=True`` (``--cell``/``--list-cells``, which may run as many processes on several
    machines) never creates or writes the file; a missing file reads as empty.
    """

    def __init__(self, path: str | os.PathLike, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if self.path.is_dir():
            raise SynthclError(f"--results {path} is a folder; give a database file, e.g. "
                               f"{self.path / 'synthcl.db'}")
        if readonly:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as db, db:
                db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise SynthclError(f"--results {path} is not a synthcl SQLite database ({exc}); "
                               f"give another file") from exc

    @property
    def results_dir(self) -> Path:
        return self.path.parent

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                 timeout=60)
        else:
            db = sqlite3.connect(self.path, timeout=60)
        db.row_factory = sqlite3.Row
        return db

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        if self.readonly and not self.path.exists():
            return []
        try:
            with closing(self._connect()) as db:
                return db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise SynthclError(f"{self.path} is not a readable synthcl results database "
                               f"({exc}); give the file synthcl run wrote") from exc

    def records(self) -> list[dict[str, Any]]:
        return [_decode(r) for r in self._query("SELECT * FROM cells ORDER BY rowid")]

    def get(self, cell_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM cells WHERE cell_id = ?", (cell_id,))
        return _decode(rows[0]) if rows else None

    def done(self, config_hash: str) -> dict[str, Any] | None:
        """A finished record with these exact settings (from any spec), to reuse."""
        rows = self._query("SELECT * FROM cells WHERE config_hash = ? AND status = 'done' "
                           "ORDER BY rowid LIMIT 1", (config_hash,))
        return _decode(rows[0]) if rows else None

    def put(self, record: dict[str, Any]) -> None:
        """Write a record in one transaction. A ``done`` row already there is never replaced:
        putting a second one for the same cell is an error (it would be counted twice)."""
        with closing(self._connect()) as db, db:
            db.execute("BEGIN IMMEDIATE")
            old = db.execute("SELECT status FROM cells WHERE cell_id = ?",
                             (record["cell_id"],)).fetchone()
            if old and old["status"] == "done":
                if record["status"] == "done":
                    raise SynthclError(f"cell {record['cell_id']} is already finished in "
                                       f"{self.path}; it is not recorded twice")
                return
            db.execute("DELETE FROM cells WHERE cell_id = ?", (record["cell_id"],))
            db.execute(f"INSERT INTO cells ({', '.join(COLUMNS)}) VALUES "
                       f"({', '.join('?' * len(COLUMNS))})", _encode(record))

    def import_cell_files(self) -> int:
        """Copy finished ``cells/<ID>.json`` records into the database; returns how many."""
        count = 0
        for record in read_cell_files(self.results_dir):
            existing = self.get(record["cell_id"])
            if record.get("status") == "done" and not (existing and existing["status"] == "done"):
                self.put(record)
                count += 1
        return count


def cell_file(results_dir: str | os.PathLike, cell_id: str) -> Path:
    return Path(results_dir) / "cells" / f"{cell_id}.json"


def write_cell_file(results_dir: str | os.PathLike, record: dict[str, Any]) -> Path:
    path = cell_file(results_dir, record["cell_id"])
    write_json(path, {c: record.get(c) for c in COLUMNS})
    return path


def read_cell_files(results_dir: str | os.PathLike) -> list[dict[str, Any]]:
    folder = Path(results_dir) / "cells"
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SynthclError(f"cell result {path} is unreadable ({exc}); delete it and "
                               f"rerun that cell") from exc
        missing = sorted(set(COLUMNS) - set(record))
        if missing:
            raise SynthclError(f"cell result {path} lacks {', '.join(missing)}; delete it and "
                               f"rerun that cell")
        records.append(record)
    return records


def load_records(db_path: str | os.PathLike) -> list[dict[str, Any]]:
    """The database's records merged with ``cells/*.json`` beside it (a finished record wins
    over an unfinished one; between two finished ones the database's wins)."""
    path = Path(db_path)
    if not path.is_file() and not (path.parent / "cells").is_dir():
        raise SynthclError(f"results database {db_path} does not exist; run "
                           f"'synthcl run SPEC --results {db_path}' first")
    merged = {r["cell_id"]: r for r in ResultStore(path, readonly=True).records()}
    for record in read_cell_files(path.parent):
        old = merged.get(record["cell_id"])
        if old is None or (old["status"] != "done" and record["status"] == "done"):
            merged[record["cell_id"]] = record
    return list(merged.values())
