"""A tiny real grid: real pre-trainings and fine-tunings on the embedded elpv images (16 px)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthcl.commands import report as report_command
from synthcl.commands import run as run_command
from synthcl.experiments.cells import expand_cells
from synthcl.experiments.report import write_report
from synthcl.experiments.runner import run_cells
from synthcl.experiments.spec import parse_spec
from synthcl.experiments.store import ResultStore


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks gain nothing from a second thread, and on a busy machine two threads
    waiting for each other stall for seconds."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

TINY = {"name": "tiny", "kind": "table2", "scales": {"mini": {
    "datasets": {"elpv": {"path": "elpv", "image_size": "16", "n": [8]}},
    "methods": ["scratch", "cl-all", "ours:randomcrop"],
    "seeds": [0, 1],
    "common": {"arch": "resnet18", "width": 8},
    "pretrain": {"steps": 4, "batch_size": 8, "m": 4, "d": 2, "monitor_every": 2},
    "finetune": {"epochs": 2, "lr_step": 1, "batch_sizes": [8], "lrs": [0.05]},
}}}


@pytest.mark.slow
def test_tiny_real_grid_runs_pairs_seeds_reuses_and_reports(tmp_path):
    store = ResultStore(tmp_path / "res" / "r.db")
    cells = expand_cells(parse_spec(TINY, "tiny.yaml"), "mini", store.results_dir,
                         device="cpu")
    summary = run_cells(cells, store, log=lambda s: None)
    records = {r["cell_id"]: r for r in store.records()}
    assert summary.ran == 6 and summary.failed == 0, [r["reason"] for r in records.values()]
    # one ours pre-training per seed, one cl-all for both seeds
    keys = {r["pretrain_key"] for r in records.values()} - {None}
    assert len(keys) == 3
    for key in keys:
        assert (store.results_dir / "pretrain" / key / "backbone.pt").is_file()
    for seed in (0, 1):                  # every method saw the same N images and halves
        samples = {r["method"]: r["metrics"]["sample"] for r in records.values()
                   if r["seed"] == seed}
        assert len({str(s) for s in samples.values()}) == 1
    ours = records["tiny.mini.elpv.N8.ours-randomcrop.s1"]
    assert ours["pretrain"]["steps"] == 4 and "knn_acc" in ours["pretrain"]["monitor"]
    assert ours["metrics"]["init"] == ours["configs"]["pretrain"]["out"]
    assert 0.0 <= ours["metrics"]["accuracy"] <= 1.0
    assert ours["metrics"]["dataset"]["image_shape"] == [16, 16, 1]

    again = run_cells(cells, store, log=lambda s: None)
    assert again.ran == 0 and again.done_before == 6
    text = write_report(store.path, tmp_path / "report").read_text()
    assert "| Ours (RC) |" in text and "Paired difference against scratch" in text
    assert Path(tmp_path / "report" / "report.md").is_file()


@pytest.mark.slow
def test_list_cells_then_two_cells_in_separate_processes_merge_in_report(tmp_path, capsys):
    spec = tmp_path / "tiny.yaml"
    tiny = yaml.safe_load(yaml.safe_dump(TINY))
    tiny["scales"]["mini"]["seeds"] = [0]
    spec.write_text(yaml.safe_dump(tiny))
    db = tmp_path / "res" / "r.db"
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    assert run_command.run(parser.parse_args([str(spec), "--results", str(db), "--device",
                                              "cpu", "--list-cells"])) == 0
    commands = capsys.readouterr().out.split("\n")[:-1]
    assert len(commands) == 3 and all(c.startswith("synthcl run ") for c in commands)
    chosen = [c for c in commands if "scratch" in c or "ours-randomcrop" in c]
    env = dict(os.environ, OMP_NUM_THREADS="1", SYNTHCL_PROGRESS="0")
    procs = [subprocess.Popen([sys.executable, "-m", "synthcl", *c.split()[1:]], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in chosen]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    files = sorted(p.name for p in (db.parent / "cells").glob("*.json"))
    assert files == ["tiny.mini.elpv.N8.ours-randomcrop.s0.json",
                     "tiny.mini.elpv.N8.scratch.s0.json"]
    assert not db.exists()                  # --list-cells and --cell never write the database
    out = tmp_path / "report"
    assert report_command.run(argparse.Namespace(results=str(db), out=str(out), print_=False,
                                                 previews=False)) == 0
    main = (out / "report.md").read_text().split("### Test accuracy")[1].split("###")[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in main.splitlines()
            if line.startswith("| ")}
    assert "—" not in rows["Scratch"] and "—" not in rows["Ours (RC)"].split("|")[2]
    assert "—" in rows["CL (w/ all)"]                               # not run: pending
