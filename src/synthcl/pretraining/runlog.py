"""A run's metrics: one JSON object per line in ``log.jsonl`` and TensorBoard scalars, side by side.

On resumption both are cut back to the checkpoint's step first (records written after the last
checkpoint of a killed run would otherwise appear twice).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from synthcl.utils.atomic import write_text

LOG_NAME = "log.jsonl"


def _kept_lines(path: Path, step: int) -> list[str]:
    """Complete records of ``path`` up to ``step`` (a killed run can leave a partial last line)."""
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("step", 0) <= step:
            kept.append(line)
    return kept


class RunLog:
    """Writes records ``{"step": ..., "time": ..., **values}``; a no-op when ``enabled`` is False
    (every rank but the first of a multi-process run)."""

    def __init__(self, out: Path, step: int, enabled: bool = True):
        self.enabled = enabled
        self.path = out / LOG_NAME
        self.writer = None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            kept = _kept_lines(self.path, step)
            write_text(self.path, "".join(line + "\n" for line in kept))
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(out), purge_step=step if step else None)

    def write(self, step: int, **values: Any) -> None:
        if not self.enabled:
            return
        record = {"step": step, "time": round(time.time(), 3), **values}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"pretrain/{key}", value, step)

    def close(self) -> None:
        if self.enabled:
            self.file.close()
            self.writer.close()
