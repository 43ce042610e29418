"""Pre-training end to end on small real data: learning, files, CLI, modes, initialisation."""

import json
import math
from pathlib import Path

import pytest
import torch
import torchvision

from synthcl.cli import main
from synthcl.data import load_dataset
from synthcl.errors import SynthclError
from synthcl.pretraining import PretrainConfig, pretrain
from synthcl.weights import PRETRAIN_FORMAT as FORMAT


@pytest.fixture
def pneumonia16(pneumonia_npz):
    return load_dataset(str(pneumonia_npz), image_size="16")


def tiny(tmp_path, **kw):
    settings = dict(mode="ours", generator="randomcrop", d=2, n=8, m=8, width=8, steps=12,
                    batch_size=16, queue_size=32, device="cpu", out=str(tmp_path / "run"),
                    checkpoint_every=100, lr=1e-3)
    settings.update(kw)
    return PretrainConfig(**settings)


def records(out):
    return [json.loads(line) for line in (Path(out) / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_ours_learns_to_discriminate_its_synthetic_instances(tmp_path, pneumonia16):
    config = tiny(tmp_path, steps=300, batch_size=32, m=8, queue_size=32, monitor_every=300,
                  lr=3e-3, temperature=0.1, key_momentum=0.99, amp=False)
    result = pretrain(config, pneumonia16)
    losses = [r["loss"] for r in records(config.out) if "loss" in r]
    chance = math.log(32 + 1)                 # InfoNCE when the positive scores like a negative
    start, end = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert start > chance - 0.3                # a random network is near chance ...
    assert end < chance - 0.5 and end < start - 0.5   # ... the trained one clearly below it
    assert result.steps == 300 and math.isfinite(result.final_loss)
    # The held-out instance probe is logged but not asserted: at this size the random network
    # scores about as high (see synthcl.pretraining.monitor); measured 2/256 and 6/256 in two
    # versions of this run, one hit apart from chance. The frozen probes measure transfer.
    assert set(result.monitor) == {"knn_acc", "knn_acc_random", "instance_acc",
                                   "instance_acc_random"}


def test_outputs_load_safely_and_backbone_fits_torchvision(tmp_path, pneumonia16):
    config = tiny(tmp_path, width=64, steps=2, batch_size=8, queue_size=16)
    result = pretrain(config, pneumonia16)
    state = torch.load(result.checkpoint_path, weights_only=True)
    assert state["format"] == FORMAT and state["step"] == 2 and state["finished"]
    assert {"model", "optimizer", "scheduler", "rng", "backbone", "config"} <= set(state)
    assert state["model"]["queue"].shape == (128, 16)
    backbone = torch.load(result.backbone_path, weights_only=True)
    model = torchvision.models.resnet18()
    model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)          # the small-image stem
    model.maxpool = torch.nn.Identity()
    missing = model.load_state_dict(backbone, strict=False)
    assert sorted(missing.missing_keys) == ["fc.bias", "fc.weight"]
    assert not missing.unexpected_keys
    assert (Path(config.out) / "config.yaml").exists()
    assert any(p.name.startswith("events.out.tfevents") for p in Path(config.out).iterdir())
    first = records(config.out)[0]
    assert first["knn_acc"] == first["knn_acc_random"]             # step 0: the random network


def test_finished_run_is_returned_and_other_settings_refused(tmp_path, pneumonia16):
    config = tiny(tmp_path, steps=2)
    first = pretrain(config, pneumonia16)
    with pytest.raises(SynthclError, match="--resume"):
        pretrain(config, pneumonia16)
    again = pretrain(tiny(tmp_path, steps=2, resume=True), pneumonia16)
    assert again.final_loss == first.final_loss and again.steps == 2
    with pytest.raises(SynthclError, match="lr"):
        pretrain(tiny(tmp_path, steps=2, resume=True, lr=0.5), pneumonia16)


def test_fair_sizing_is_announced_and_recorded(tmp_path, pneumonia16):
    with pytest.warns(UserWarning, match=r"queue 48 \(asked 4096\)"):
        result = pretrain(tiny(tmp_path, steps=1, queue_size=4096), pneumonia16)  # 64 instances
    assert result.sizing["queue_size"] == 48 and "fair sizing" in result.sizing["note"]
    saved = (Path(result.out_dir) / "config.yaml").read_text()
    assert "queue_size: 48" in saved and "batch_size: 16" in saved


@pytest.mark.parametrize("mode", ["cl-real", "cl-aug", "cl-all", "universal"])
def test_every_mode_trains(tmp_path, pneumonia16, mode):
    result = pretrain(tiny(tmp_path, mode=mode, steps=2, universal_size=500), pneumonia16)
    assert result.steps == result.sizing["steps"] and math.isfinite(result.final_loss)
    # the same pairs in every mode: 2 steps of 16 asked, batches capped for small sets
    assert result.steps * result.sizing["batch_size"] >= 2 * 16
    assert 0 <= result.monitor["knn_acc"] <= 1


@pytest.mark.parametrize("change, message", [
    ({"queue_size": 8}, "shorter than one batch"),
    ({"deterministic": True, "device": "cuda"}, "deterministic=true is for the CPU"),
    ({"weight_decay": -1.0}, "must not be negative"),
])
def test_bad_settings_are_refused_before_any_work(tmp_path, change, message):
    with pytest.raises(SynthclError, match=message):
        pretrain(tiny(tmp_path, **change))
    assert not (tmp_path / "run").exists()


def test_nan_loss_stops_with_the_step_and_a_cause(tmp_path, pneumonia16):
    with pytest.raises(SynthclError, match=r"at step \d+: the loss is (nan|inf).*learning rate"):
        pretrain(tiny(tmp_path, lr=1e30, steps=5), pneumonia16)


def test_moco_reference_checkpoint_initialises_pre_training(tmp_path, pneumonia16):
    first = pretrain(tiny(tmp_path, steps=1, out=str(tmp_path / "a")), pneumonia16)
    state = torch.load(first.checkpoint_path, weights_only=True)["model"]
    moco = {"module." + k.replace(".backbone.", ".").replace(".head.", ".fc."): v
            for k, v in state.items() if k.startswith("encoder_")}
    path = tmp_path / "checkpoint_0199.pth.tar"
    torch.save({"epoch": 200, "arch": "resnet18", "state_dict": moco}, path)
    second = tiny(tmp_path, steps=1, out=str(tmp_path / "b"), init=str(path))
    trainer_out = pretrain(second, pneumonia16)
    first_probe = records(trainer_out.out_dir)[0]
    assert first_probe["knn_acc_random"] == records(first.out_dir)[-1]["knn_acc"]
    with pytest.raises(SynthclError, match="width"):
        pretrain(tiny(tmp_path, steps=1, out=str(tmp_path / "c"), width=16, init=str(path)),
                 pneumonia16)


def test_cli_runs_and_resumes_from_its_own_config(tmp_path, pneumonia_npz, capsys):
    out = tmp_path / "cli"
    args = ["pretrain", "--data", str(pneumonia_npz), "--image-size", "16", "--mode", "cl-real",
            "--n", "8", "--width", "8", "--steps", "2", "--batch-size", "4", "--seed", "1",
            "--device", "cpu", "--out", str(out), "--set", "queue_size=4"]
    assert main(args) == 0
    assert "kNN probe" in capsys.readouterr().out
    assert main(["pretrain", "--out", str(out), "--resume"]) == 0
    assert main(args) == 2                                       # exists, no --resume
    assert "--resume" in capsys.readouterr().err
