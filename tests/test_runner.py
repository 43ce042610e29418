"""The runner with a stand-in cell executor: resuming, kill mid-grid, parallel workers.

``fake_executor`` sleeps instead of training and logs every start to ``$FAKE_LOG``; it
"pre-trains" by creating ``pretrain/<key>/done`` and fails loudly if two processes pre-train the
same key at once. Subprocesses run ``python tests/test_runner.py ARGS`` = the ``synthcl`` CLI with
this executor.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import yaml

from synthcl.commands import run as run_command
from synthcl.errors import SynthclError
from synthcl.experiments.cells import expand_cells
from synthcl.experiments.runner import describe, run_cells
from synthcl.experiments.spec import parse_spec
from synthcl.experiments.store import ResultStore

HERE = Path(__file__).resolve()
SPEC = {"name": "tiny", "kind": "table2", "scales": {"mini": {
    "datasets": {"elpv": {"path": "elpv", "n": [8]}},
    "methods": ["scratch", "cl-all", "cl-real", "ours:randomcrop"],
    "seeds": [0, 1, 2],
    "pretrain": {"steps": 5}}}}


def fake_executor(cell):
    delay = float(os.environ.get("FAKE_DELAY", "0"))
    if os.environ.get("FAKE_WARN"):
        warnings.warn(f"{os.environ['FAKE_WARN']} {cell.id}", stacklevel=1)
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(f"{cell.id}\n")
    if cell.pretrain_key:
        out = Path(cell.pretrain.out)
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "done").exists():
            try:
                (out / "running").touch(exist_ok=False)
            except FileExistsError:
                raise RuntimeError(f"pre-training {cell.pretrain_key} started twice") from None
            time.sleep(float(os.environ.get("FAKE_PRETRAIN_DELAY", delay)))
            (out / "done").touch()
            (out / "running").unlink()
    time.sleep(delay)
    accuracy = 0.5 + 0.1 * cell.seed + 0.01 * len(cell.method)
    return {"metrics": {"accuracy": accuracy, "val_accuracy": 0.6, "wall_time_s": delay,
                        "chosen": {"epoch": 3}},
            "pretrain": {"wall_time_s": delay, "monitor": {"knn_acc": 0.7,
                                                           "knn_acc_random": 0.6}}
            if cell.pretrain_key else None}


def write_spec(path: Path, **changes) -> Path:
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    spec["scales"]["mini"].update(changes)
    path.write_text(yaml.safe_dump(spec))
    return path


def cli(args: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HERE), *args], env=env, capture_output=True,
                          text=True, **kwargs)


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    log = tmp_path / "log.txt"
    log.touch()
    monkeypatch.setenv("FAKE_LOG", str(log))
    env = dict(os.environ, FAKE_LOG=str(log), SYNTHCL_PROGRESS="0",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return env, log


def test_run_records_every_cell_once_and_skips_finished(tmp_path, fake_env):
    _, log = fake_env
    spec = parse_spec(yaml.safe_load(write_spec(tmp_path / "s.yaml").read_text()), "s.yaml")
    store = ResultStore(tmp_path / "r" / "db.sqlite")
    cells = expand_cells(spec, "mini", store.results_dir)
    summary = run_cells(cells, store, fake_executor, log=lambda s: None)
    assert summary.ran == 12 and summary.failed == 0
    assert sorted(log.read_text().split()) == sorted(c.id for c in cells)
    records = store.records()
    assert len(records) == 12 and {r["status"] for r in records} == {"done"}
    record = store.get("tiny.mini.elpv.N8.ours-randomcrop.s1")
    assert record["configs"]["pretrain"]["seed"] == 1 and record["code_version"]
    assert record["pretrain_key"] == record["configs"]["pretrain"]["out"].rsplit("/", 1)[-1]
    again = run_cells(cells, store, fake_executor, log=lambda s: None)
    assert again.ran == 0 and again.done_before == 12
    assert len(log.read_text().split()) == 12


def test_changed_settings_are_refused_and_identical_cells_reused(tmp_path, fake_env):
    _, log = fake_env
    store = ResultStore(tmp_path / "db.sqlite")
    spec = parse_spec(yaml.safe_load(write_spec(tmp_path / "s.yaml").read_text()), "s.yaml")
    run_cells(expand_cells(spec, "mini", tmp_path), store, fake_executor, log=lambda s: None)
    changed = yaml.safe_load(write_spec(tmp_path / "c.yaml", pretrain={"steps": 6}).read_text())
    with pytest.raises(SynthclError, match="other settings .*pretrain.steps: 5 -> 6"):
        run_cells(expand_cells(parse_spec(changed, "c.yaml"), "mini", tmp_path), store,
                  fake_executor, log=lambda s: None)
    renamed = yaml.safe_load(write_spec(tmp_path / "n.yaml").read_text())
    renamed["name"] = "other"
    summary = run_cells(expand_cells(parse_spec(renamed, "n.yaml"), "mini", tmp_path), store,
                        fake_executor, log=lambda s: None)
    assert summary.reused == 12 and summary.ran == 0
    assert store.get("other.mini.elpv.N8.scratch.s0")["reused_from"] == \
        "tiny.mini.elpv.N8.scratch.s0"
    # a record from older code that lacks a setting (at its default now) still counts as done
    with sqlite3.connect(store.path) as con:
        for cell_id, configs in con.execute("SELECT cell_id, configs FROM cells").fetchall():
            configs = json.loads(configs)
            del configs["finetune"]["momentum"]
            con.execute("UPDATE cells SET configs = ?, config_hash = 'old' WHERE cell_id = ?",
                        (json.dumps(configs), cell_id))
    again = run_cells(expand_cells(spec, "mini", tmp_path), store, fake_executor,
                      log=lambda s: None)
    assert again.done_before == 12 and again.ran == 0


def test_failed_cell_is_recorded_and_retried(tmp_path, fake_env):
    store = ResultStore(tmp_path / "db.sqlite")
    spec = parse_spec(yaml.safe_load(write_spec(tmp_path / "s.yaml", seeds=[0]).read_text()),
                      "s.yaml")
    cells = expand_cells(spec, "mini", tmp_path)

    def broken(cell):
        if cell.method == "cl-real":
            raise ValueError("boom")
        return fake_executor(cell)

    summary = run_cells(cells, store, broken, log=lambda s: None)
    assert summary.failed == 1 and summary.ran == 3
    assert store.get("tiny.mini.elpv.N8.cl-real.s0")["reason"] == "ValueError: boom"
    summary = run_cells(cells, store, fake_executor, log=lambda s: None)
    assert summary.ran == 1 and store.get("tiny.mini.elpv.N8.cl-real.s0")["status"] == "done"
    assert len(store.records()) == 4


def test_dry_run_lists_plan_and_unknown_cell_is_an_error(tmp_path, fake_env, capsys):
    spec = write_spec(tmp_path / "s.yaml", methods=["scratch", "cl-all", "imagenet"],
                      seeds=[0, 1])
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    db = tmp_path / "r.db"
    assert run_command.run(parser.parse_args([str(spec), "--results", str(db), "--dry-run"])) == 0
    out = capsys.readouterr().out
    assert "run      tiny.mini.elpv.N8.cl-all.s1  pretrain " in out
    assert "not_run  tiny.mini.elpv.N8.imagenet.s0" in out and "ImageNet weights" in out
    assert out.strip().endswith(
        "6 cells: 4 to run (using 1 distinct pre-trainings), 0 done, 0 reused, 2 not run")
    assert not db.exists()
    with pytest.raises(SynthclError, match="no such cell.*--list-cells"):
        run_command.run(parser.parse_args([str(spec), "--results", str(db), "--cell", "nope"]))


@pytest.mark.slow
def test_killed_run_resumes_without_loss_or_double_counting(tmp_path, fake_env):
    env, log = fake_env
    spec = write_spec(tmp_path / "s.yaml")
    db = tmp_path / "res" / "r.db"
    args = ["run", str(spec), "--results", str(db)]
    proc = subprocess.Popen([sys.executable, str(HERE), *args], start_new_session=True,
                            env=dict(env, FAKE_DELAY="0.4"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    finished_before: set[str] = set()
    while time.time() < deadline and len(finished_before) < 4:
        time.sleep(0.2)
        if db.exists():
            with sqlite3.connect(db) as con:
                finished_before = {r[0] for r in con.execute(
                    "SELECT cell_id FROM cells WHERE status = 'done'")}
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 4 <= len(finished_before) < 12, "kill the run mid-grid"
    started_before = len(log.read_text().split())
    rerun_cells = expand_cells(parse_spec(yaml.safe_load(spec.read_text()), str(spec)), "mini",
                               db.parent)
    summary = run_cells(rerun_cells, ResultStore(db), fake_executor, log=lambda s: None)
    assert summary.done_before == len(finished_before) and summary.failed == 0
    rerun = log.read_text().split()[started_before:]
    assert not set(rerun) & finished_before                  # finished cells not recomputed
    with sqlite3.connect(db) as con:
        ids = [r[0] for r in con.execute("SELECT cell_id FROM cells WHERE status = 'done'")]
    assert len(ids) == len(set(ids)) == 12                    # every cell exactly once


@pytest.mark.slow
def test_parallel_workers_never_pretrain_one_key_twice(tmp_path, fake_env, monkeypatch):
    spec = yaml.safe_load(write_spec(    # 6 cells needing the same pre-training
        tmp_path / "s.yaml", methods=["cl-all"], seeds=[0, 1],
        datasets={"elpv": {"path": "elpv", "n": [8, 16, 24]}}).read_text())
    store = ResultStore(tmp_path / "r.db")
    cells = expand_cells(parse_spec(spec, "s.yaml"), "mini", tmp_path)
    monkeypatch.setenv("FAKE_DELAY", "0.1")
    monkeypatch.setenv("FAKE_PRETRAIN_DELAY", "3")
    summary = run_cells(cells, store, fake_executor, workers=2, log=lambda s: None)
    records = store.records()
    assert summary.ran == 6 and summary.failed == 0, [r["reason"] for r in records]
    assert len(records) == 6 and all(r["status"] == "done" for r in records)


def test_a_warning_in_a_worker_process_reaches_the_user_as_one_line(tmp_path, fake_env, capfd,
                                                                      monkeypatch):
    """Workers are spawned, so the command line's one-line warnings had to be set in each: the
    log of a two-worker run showed Python's 'file:line: UserWarning' and the source line."""
    spec = yaml.safe_load(write_spec(tmp_path / "s.yaml", methods=["scratch"], seeds=[0, 1]
                                     ).read_text())
    cells = expand_cells(parse_spec(spec, "s.yaml"), "mini", tmp_path)
    monkeypatch.setenv("FAKE_WARN", "sizing note for")
    summary = run_cells(cells, ResultStore(tmp_path / "r.db"), fake_executor, workers=2,
                        log=lambda s: None)
    assert summary.ran == 2 and summary.failed == 0
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "sizing note for" in line]
    assert sorted(lines) == sorted(f"synthcl: warning: sizing note for {c.id}" for c in cells)
    assert "UserWarning" not in err and "warnings.warn" not in err


def test_the_log_line_of_a_cell_puts_balanced_accuracy_first():
    record = {"status": "done", "wall_time_s": 12.4, "metrics": {
        "accuracy": 0.7, "balanced_accuracy": 0.55, "val_accuracy": 0.85,
        "probes": {"pretrained": {"linear": {"balanced_accuracy": 0.625}}}}}
    assert describe(record) == ("test balanced acc 55.0%, acc 70.0%, linear probe 62.5% "
                                "(val acc 85.0%) in 12 s")
    assert describe({"status": "failed", "reason": "RuntimeError: boom"}) == \
        "failed: RuntimeError: boom"


if __name__ == "__main__":            # synthcl run ..., cells executed by fake_executor
    parser = argparse.ArgumentParser(prog="synthcl")
    run_command.add_arguments(parser.add_subparsers().add_parser("run"))
    sys.exit(run_command.run(parser.parse_args(sys.argv[1:]), executor=fake_executor))


def test_pretrainings_recorded_under_an_older_key_are_linked_not_run_again(tmp_path, fake_env):
    """A setting added to the code (here ``split_seed``, absent from the older records) changes
    every key; a later grid on the same pre-trainings links to them instead of pre-training."""
    store = ResultStore(tmp_path / "db.sqlite")
    spec = parse_spec(yaml.safe_load(write_spec(tmp_path / "s.yaml").read_text()), "s.yaml")
    run_cells(expand_cells(spec, "mini", tmp_path), store, fake_executor, log=lambda s: None)
    old_keys = {}
    with sqlite3.connect(store.path) as db:        # rewrite the records as older code wrote them
        for cell_id, key, configs in db.execute("SELECT cell_id, pretrain_key, configs FROM "
                                                "cells WHERE pretrain_key IS NOT NULL").fetchall():
            configs = json.loads(configs)
            del configs["pretrain"]["split_seed"]
            old_keys[key] = f"old{key}"
            db.execute("UPDATE cells SET pretrain_key = ?, configs = ? WHERE cell_id = ?",
                       (f"old{key}", json.dumps(configs), cell_id))
    for key, old in old_keys.items():
        (tmp_path / "pretrain" / key).rename(tmp_path / "pretrain" / old)
        (tmp_path / "pretrain" / old / "backbone.pt").touch()
    later = parse_spec(dict(yaml.safe_load(write_spec(tmp_path / "l.yaml", finetune={
        "epochs": 7}).read_text()), name="later"), "l.yaml")
    messages = []
    summary = run_cells(expand_cells(later, "mini", tmp_path), store, fake_executor,
                        log=messages.append)
    assert summary.ran == 12 and any(f"linked {len(old_keys)} pre-training" in m
                                     for m in messages)
    for key, old in old_keys.items():
        assert os.readlink(tmp_path / "pretrain" / key) == old
    other = parse_spec(dict(yaml.safe_load(write_spec(tmp_path / "o.yaml", pretrain={
        "steps": 6}).read_text()), name="other"), "o.yaml")
    cells = expand_cells(other, "mini", tmp_path)
    run_cells(cells, store, fake_executor, log=messages.append)
    assert not any(Path(c.pretrain.out).is_symlink() for c in cells if c.pretrain)
