"""Pre-trainings recorded under an older key: a cell's pre-training folder is
``pretrain/<key>``, the key a hash of its settings, so a setting added to the code since (at its
default, so computing the same thing) changes the key and would pre-train again. Before a run,
each cell whose folder is missing is linked to a finished folder of the same settings that a
record of the database names (settings compared with absent ones at their defaults)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from synthcl.config import to_dict, with_defaults
from synthcl.experiments.cells import Cell
from synthcl.experiments.store import ResultStore
from synthcl.pretraining.config import OPERATIONAL, PretrainConfig

FINISHED = "backbone.pt"


def settings_text(values: dict) -> str:
    """The settings that decide what a pre-training computes, absent ones at their defaults."""
    filled = with_defaults(PretrainConfig, values)
    return json.dumps({f.name: filled[f.name] for f in dataclasses.fields(PretrainConfig)
                       if f.name not in OPERATIONAL}, sort_keys=True, default=str)


def adopt_pretrainings(cells: list[Cell], store: ResultStore) -> int:
    """Link ``pretrain/<key>`` of every cell lacking it to a finished pre-training of the same
    settings recorded under another key; returns how many were linked."""
    recorded: dict[str, str] = {}
    for record in store.records():
        values = (record.get("configs") or {}).get("pretrain")
        if record["status"] == "done" and values and record.get("pretrain_key"):
            recorded.setdefault(settings_text(values), record["pretrain_key"])
    linked = 0
    for cell in cells:
        if cell.pretrain is None:
            continue
        folder = Path(cell.pretrain.out)
        old = recorded.get(settings_text(to_dict(cell.pretrain)))
        if (old and old != folder.name and not folder.exists() and not folder.is_symlink()
                and (folder.parent / old / FINISHED).is_file()):
            folder.symlink_to(old, target_is_directory=True)
            linked += 1
    return linked
