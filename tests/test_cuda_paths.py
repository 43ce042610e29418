"""Paths never exercised on a GPU before 2026-11-28, as a user reaches them with ``--device cuda``:
every pre-training mode, ``finetune`` then ``evaluate``, and ``compare`` through the runner."""

import json
import math

import pytest
import torch

from baseline_case import case_data
from synthcl import cli
from synthcl.pretraining import PretrainConfig, pretrain
from test_demo import TINY, tiny_folder
from test_finetune_cli import write_npz

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
DEVICE = "cuda"


@pytest.mark.filterwarnings("ignore:fair sizing")
@pytest.mark.parametrize("mode, generator", [
    ("ours", "patchshuffle"), ("ours", "mix:patchshuffle+randomcrop"), ("cl-real", "randomcrop"),
    ("cl-all", "randomcrop"), ("cl-aug", "randomcrop")])
def test_every_pretraining_mode_runs(tmp_path, mode, generator):
    result = pretrain(PretrainConfig(mode=mode, generator=generator, d=2, n=8, m=8, width=8,
                                     steps=4, batch_size=8, queue_size=16, device=DEVICE,
                                     out=str(tmp_path / "run")), case_data())
    assert result.steps >= 4 and math.isfinite(result.final_loss)   # fair sizing may add steps
    state = torch.load(result.backbone_path, weights_only=True)
    assert all(v.device.type == "cpu" for v in state.values())


def test_finetune_then_evaluate(tmp_path):
    data = write_npz(tmp_path / "toy.npz")
    out, report = tmp_path / "run", tmp_path / "report.json"
    assert cli.main(["finetune", "--data", str(data), "--seed", "0", "--out", str(out), "--n", "8",
                     "--width", "4", "--epochs", "2", "--batch-size", "4", "--lr", "0.01",
                     "--device", DEVICE]) == 0
    assert cli.main(["evaluate", "--checkpoint", str(out / "seed0"), "--out", str(report),
                     "--device", DEVICE]) == 0
    recorded = json.loads((out / "seed0" / "result.json").read_text())["accuracy"]
    assert json.loads(report.read_text())["accuracy"] == pytest.approx(recorded, abs=0.05)


def test_compare_ends_with_its_verdict(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = [a if a != "cpu" else DEVICE for a in TINY]
    assert cli.main(["compare", "--data", str(tiny_folder(tmp_path / "cells")), "--out", str(out),
                     *args]) == 0
    assert "Ours (RC) - Scratch: " in capsys.readouterr().out
    assert (out / "report.md").exists()
