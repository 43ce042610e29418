"""Run the cells of a spec, resumably, in one process or several, and record them.

Resuming: a cell whose ``done`` record is in the database is skipped (its settings must not have
changed: a different config hash is an error, use another ``--results`` file); a cell whose exact
settings were finished by another spec (same config hash) reuses that record (``reused_from``).
Pre-trainings run with ``resume=True`` in ``RESULTS_DIR/pretrain/<key>/``: a finished one returns
at once, a killed one continues from its checkpoint, and one recorded under the key of older code
is linked (:mod:`synthcl.experiments.adopt`). A cell's record is written in one transaction
once the cell is complete, so a kill loses at most the cells in flight.

Parallel runs (``workers > 1``) use spawned processes, one per GPU when there are GPUs (several
workers share the GPUs round-robin); only the parent writes the database. Cells that need a
pre-training not yet finished are never started together: the scheduler holds the second back,
and a file lock on ``pretrain/<key>.lock`` also guards separate processes (``--cell`` runs on one
machine or a shared POSIX file system).

The cell executor is a parameter (``executor(cell) -> outcome``), so tests can run the runner
with a cheap stand-in; the real one is :func:`execute_cell`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from synthcl.config import with_defaults
from synthcl.errors import SynthclError, show_warnings_on_one_line
from synthcl.experiments import verdict
from synthcl.experiments.adopt import adopt_pretrainings
from synthcl.experiments.cells import Cell
from synthcl.experiments.store import ResultStore, code_version, now, write_cell_file
from synthcl.utils.progress import progress

Executor = Callable[[Cell], dict[str, Any]]


@dataclass
class RunSummary:
    done_before: int = 0
    reused: int = 0
    ran: int = 0
    failed: int = 0
    not_run: int = 0

    def line(self) -> str:
        return (f"{self.ran} cells ran, {self.done_before} were already done, {self.reused} "
                f"reused identical finished cells, {self.failed} failed, {self.not_run} not run")


# ---------------------------------------------------------------- the real executor


@lru_cache(maxsize=2)
def _load_data(path: str, format: str | None, image_size: str | None, allow_pickle: bool,
               split_seed: int = 0):
    from synthcl.data import load_dataset

    return load_dataset(path, format, image_size, allow_pickle, split_seed)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes (POSIX; elsewhere no lock)."""
    try:
        import fcntl
    except ImportError:  # Windows: the in-run scheduler still keeps pre-trainings apart
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_pretrain(config, data) -> dict[str, Any]:
    """Pre-train (or resume, or find finished) the backbone of ``config.out``; its summary."""
    from synthcl.pretraining import pretrain

    out = Path(config.out)
    with _file_lock(out.parent / f"{out.name}.lock"):
        result = pretrain(config, data)
    return {"out_dir": str(result.out_dir), "steps": result.steps,
            "final_loss": result.final_loss, "wall_time_s": result.wall_time_s,
            "images_per_s": result.images_per_s, "monitor": dict(result.monitor),
            "sizing": dict(result.sizing)}


def execute_cell(cell: Cell) -> dict[str, Any]:
    """Pre-train if the method does (shared by key), then the fine-tuning protocol for the seed."""
    from synthcl.finetune import finetune_seed

    ft = cell.finetune
    data = _load_data(ft.data, ft.format, ft.image_size, ft.allow_pickle, ft.split_seed)
    pretrain_summary = ensure_pretrain(cell.pretrain, data) if cell.pretrain else None
    metrics = dict(finetune_seed(ft, data, cell.seed))
    metrics["dataset"] = {"name": data.name, "image_shape": list(data.image_shape),
                          "classes": list(data.class_names), "split_note": data.split_note,
                          "test_size": len(data.splits["test"])}
    return {"metrics": metrics, "pretrain": pretrain_summary}


# ---------------------------------------------------------------- records


def make_record(cell: Cell, status: str, *, reason: str | None = None,
                outcome: dict[str, Any] | None = None, started_at: str | None = None,
                wall_time_s: float | None = None, reused_from: str | None = None) -> dict:
    outcome = outcome or {}
    return {"cell_id": cell.id, "spec": cell.spec, "scale": cell.scale, "kind": cell.kind,
            "dataset": cell.dataset, "dataset_path": cell.dataset_path,
            "paper_dataset": cell.paper_dataset, "n": cell.n, "method": cell.method,
            "seed": cell.seed, "sweep": cell.sweep, "status": status, "reason": reason,
            "metrics": outcome.get("metrics"), "pretrain": outcome.get("pretrain"),
            "configs": cell.configs(), "config_hash": cell.config_hash,
            "pretrain_key": cell.pretrain_key, "code_version": code_version(),
            "started_at": started_at, "finished_at": now(), "wall_time_s": wall_time_s,
            "reused_from": reused_from, "layout": cell.layout}


def run_guarded(executor: Executor, cell: Cell) -> dict[str, Any]:
    """Run one cell; a failure becomes a ``failed`` record (with its reason), not a crash."""
    started, t0 = now(), time.perf_counter()
    try:
        outcome = executor(cell)
    except SynthclError as exc:
        return make_record(cell, "failed", reason=str(exc), started_at=started,
                           wall_time_s=time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - one broken cell must not stop the grid
        traceback.print_exc(file=sys.stderr)
        return make_record(cell, "failed", reason=f"{type(exc).__name__}: {exc}",
                           started_at=started, wall_time_s=time.perf_counter() - t0)
    return make_record(cell, "done", outcome=outcome, started_at=started,
                       wall_time_s=time.perf_counter() - t0)


_LOGGED = (("balanced_accuracy", "balanced acc"), ("accuracy", "acc"), ("linear", "linear probe"))


def describe(record: dict[str, Any]) -> str:
    """A finished cell in one log line: balanced accuracy first (the test split may be
    unbalanced), then accuracy and the linear probe, with the validation accuracy it chose by."""
    if record["status"] != "done":
        return f"{record['status']}: {record['reason']}"
    shown = [f"{label} {value:.1f}%" for name, label in _LOGGED
             if (value := verdict.BY_NAME[name].read(record)) is not None]
    text = "test " + ", ".join(shown) if shown else "no test score"
    val = (record["metrics"] or {}).get("val_accuracy")
    if val is not None:
        text += f" (val acc {100 * val:.1f}%)"
    return text + f" in {record['wall_time_s'] or 0:.0f} s"


# ---------------------------------------------------------------- planning


def changed_settings(record: dict[str, Any], cell: Cell) -> list[str]:
    """The settings of a finished record that differ from what the cell resolves to now.

    Where they must: paths of outputs and the device are ignored, and a setting the record lacks
    (a field added to the code since) counts as unchanged when the cell has it at its default.
    """
    if record["config_hash"] == cell.config_hash:
        return []
    from synthcl.finetune.config import FinetuneConfig
    from synthcl.pretraining.config import PretrainConfig

    old, new = record.get("configs") or {}, cell.configs()
    ignored = {"out", "device", "resume"} | ({"init"} if new["pretrain"] else set())
    changed = []
    for section, cls in (("pretrain", PretrainConfig), ("finetune", FinetuneConfig)):
        before, after = old.get(section), new[section]
        if (before is None) != (after is None):
            changed.append(section)
            continue
        was = with_defaults(cls, before or {})
        for key in sorted((set(before or {}) | set(after or {})) - ignored):
            if was.get(key) != after.get(key):
                changed.append(f"{section}.{key}: {was.get(key)!r} -> {after.get(key)!r}")
    return changed


def check_settings_unchanged(cells: list[Cell], store: ResultStore) -> None:
    for cell in cells:
        if cell.steps_pending:             # --dry-run: compared when the cell runs
            continue
        old = store.get(cell.id)
        changed = changed_settings(old, cell) if old and old["status"] == "done" else []
        if changed:
            raise SynthclError(
                f"cell {cell.id} finished in {store.path} with other settings than the spec now "
                f"gives ({'; '.join(changed[:4])}); use another --results file, or delete that "
                f"cell's rows")


def plan(cells: list[Cell], store: ResultStore) -> dict[str, list[Cell]]:
    """Cells by what a run would do with them: done, reuse, run, not_run."""
    check_settings_unchanged(cells, store)
    groups: dict[str, list[Cell]] = {"done": [], "reuse": [], "run": [], "not_run": []}
    for cell in cells:
        old = store.get(cell.id)
        if old and old["status"] == "done":
            groups["done"].append(cell)
        elif cell.not_run:
            groups["not_run"].append(cell)
        elif store.done(cell.config_hash):
            groups["reuse"].append(cell)
        else:
            groups["run"].append(cell)
    return groups


# ---------------------------------------------------------------- running


def run_cells(cells: list[Cell], store: ResultStore, executor: Executor = execute_cell,
              workers: int = 1, log: Callable[[str], None] = print) -> RunSummary:
    """Run every unfinished cell and record it; returns what happened."""
    imported = store.import_cell_files()
    if imported:
        log(f"imported {imported} finished cell result file(s) from {store.results_dir / 'cells'}")
    adopted = adopt_pretrainings(cells, store)
    if adopted:
        log(f"linked {adopted} pre-training folder(s) to finished ones of the same settings "
            f"recorded under an older key")
    groups = plan(cells, store)
    summary = RunSummary(done_before=len(groups["done"]), not_run=len(groups["not_run"]))
    for cell in groups["not_run"]:
        store.put(make_record(cell, "not_run", reason=cell.not_run))
    for cell in groups["reuse"]:
        source = store.done(cell.config_hash)
        store.put(make_record(cell, "done", outcome=source, started_at=now(),
                              wall_time_s=0.0, reused_from=source["cell_id"]))
        summary.reused += 1
    todo = groups["run"]
    keys = len({c.pretrain_key for c in todo} - {None})
    log(f"{len(cells)} cells: {len(todo)} to run (using {keys} distinct pre-trainings), "
        f"{summary.done_before} done, {summary.reused} reused, {summary.not_run} not run")
    bar = progress(total=len(todo), desc="cells", unit="cell")

    def finish(record: dict[str, Any]) -> None:
        store.put(record)
        summary.ran += record["status"] == "done"
        summary.failed += record["status"] == "failed"
        bar.update(1)
        bar.write(f"{record['cell_id']}: {describe(record)}")

    try:
        if workers <= 1 or len(todo) <= 1:
            for cell in todo:
                finish(run_guarded(executor, cell))
        else:
            _run_parallel(todo, executor, workers, finish)
    finally:
        bar.close()
    return summary


def _device_slots(workers: int) -> list[str | None]:
    """The device each worker uses: GPUs round-robin when there are any, else none forced."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i % gpus}" for i in range(workers)] if gpus else [None] * workers


def _run_parallel(todo: list[Cell], executor: Executor, workers: int,
                  finish: Callable[[dict[str, Any]], None]) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    slots = ctx.Queue()
    for slot in _device_slots(workers):
        slots.put(slot)
    threads = max(1, (os.cpu_count() or 1) // workers)
    pending = list(todo)
    running: dict[Any, Cell] = {}
    busy_keys: set[str] = set()      # pre-trainings possibly being computed right now
    ready_keys: set[str] = set()     # pre-trainings finished in this run
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(slots, threads, os.getpid())) as pool, _stopping(pool):
        while pending or running:
            while len(running) < workers:
                cell = next((c for c in pending if c.pretrain_key is None
                             or c.pretrain_key in ready_keys
                             or c.pretrain_key not in busy_keys), None)
                if cell is None:
                    break
                pending.remove(cell)
                if cell.pretrain_key and cell.pretrain_key not in ready_keys:
                    busy_keys.add(cell.pretrain_key)
                running[pool.submit(_worker_run, executor, cell)] = cell
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                cell = running.pop(future)
                try:
                    record = future.result()
                except BrokenProcessPool as exc:
                    raise SynthclError(
                        f"a worker process died while running {cell.id} (out of memory or "
                        f"killed?); finished cells are kept: run the same command again, with "
                        f"fewer --workers if memory is short") from exc
                if cell.pretrain_key:
                    busy_keys.discard(cell.pretrain_key)
                    if record["status"] == "done":
                        ready_keys.add(cell.pretrain_key)
                finish(record)


@contextlib.contextmanager
def _stopping(pool: ProcessPoolExecutor) -> Iterator[None]:
    """On an interrupt or error, stop the workers' cells now instead of waiting for them."""
    try:
        yield
    except BaseException:
        for process in list(pool._processes.values()):
            process.terminate()              # SIGTERM: the worker's finally blocks still run
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


_WORKER_DEVICE: str | None = None


def _init_worker(slots, threads: int, parent_pid: int) -> None:
    global _WORKER_DEVICE
    import torch

    _WORKER_DEVICE = slots.get()
    torch.set_num_threads(threads)
    os.environ["SYNTHCL_PROGRESS"] = "0"     # one bar (the parent's), not one per worker
    show_warnings_on_one_line()              # spawned: the command line's setting is not inherited
    signal.signal(signal.SIGINT, signal.SIG_IGN)         # the parent stops the workers
    signal.signal(signal.SIGTERM, _exit_cleanly)

    def watch_parent() -> None:              # a killed parent must not leave workers behind
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch_parent, daemon=True).start()


def _worker_run(executor: Executor, cell: Cell) -> dict[str, Any]:
    if _WORKER_DEVICE and cell.finetune.device in ("auto", "cuda"):
        cell = dataclasses.replace(
            cell, finetune=dataclasses.replace(cell.finetune, device=_WORKER_DEVICE),
            pretrain=(dataclasses.replace(cell.pretrain, device=_WORKER_DEVICE)
                      if cell.pretrain else None))
    return run_guarded(executor, cell)


def run_single(cell: Cell, store: ResultStore, executor: Executor = execute_cell,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """``--cell ID``: run one cell and write ``RESULTS_DIR/cells/<ID>.json`` (not the database,
    which processes on other machines may not share safely)."""
    from synthcl.experiments.store import cell_file, read_cell_files

    path = cell_file(store.results_dir, cell.id)
    old = store.get(cell.id)
    for record in [old] + [r for r in read_cell_files(store.results_dir)
                           if r["cell_id"] == cell.id]:
        if record and record["status"] == "done":
            changed = changed_settings(record, cell)
            if changed:
                raise SynthclError(f"cell {cell.id} finished with other settings "
                                   f"({'; '.join(changed[:4])}) in {path}; use another "
                                   f"--results file or delete it")
            log(f"{cell.id}: already done ({describe(record)})")
            return record
    if cell.not_run:
        record = make_record(cell, "not_run", reason=cell.not_run)
    else:
        record = run_guarded(executor, cell)
    write_cell_file(store.results_dir, record)
    log(f"{cell.id}: {describe(record)}; wrote {path}")
    return record
