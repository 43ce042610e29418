import json

import numpy as np
import pytest
import torch

from synthcl import cli
from synthcl.models import backbone_state_dict, build_backbone


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch):
    """Parse with the two fine-tuning commands alone (independent of the other commands)."""
    monkeypatch.setattr(cli, "COMMANDS", ("finetune", "evaluate"))


def write_npz(path, size=12):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, counts in (("train", (10, 10)), ("val", (2, 2)), ("test", (6, 18))):
        labels = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
        base = np.where(labels == 0, 50, 200)[:, None, None]
        images = np.clip(base + rng.normal(0, 20, (len(labels), size, size)), 0, 255)
        arrays[f"{split}_images"] = images.astype(np.uint8)
        arrays[f"{split}_labels"] = labels.reshape(-1, 1).astype(np.uint8)
    np.savez(path, **arrays)
    return path


FAST = ["--n", "8", "--width", "4", "--epochs", "2", "--batch-sizes", "4", "--lrs", "0.01,0.05",
        "--device", "cpu"]


def test_finetune_then_evaluate_end_to_end(tmp_path, capsys):
    data = write_npz(tmp_path / "toy.npz")
    out = tmp_path / "run"
    code = cli.main(["finetune", "--data", str(data), "--init", "scratch", "--seeds", "0,1",
                     "--out", str(out), *FAST])
    printed = capsys.readouterr().out
    assert code == 0
    report = json.loads((out / "result.json").read_text())
    assert report["complete"] and [r["seed"] for r in report["seeds"]] == [0, 1]
    assert report["dataset"]["test_class_counts"] == {"0": 6, "1": 18}
    assert report["summary"]["accuracy"]["values"] == [r["accuracy"] for r in report["seeds"]]
    for r in report["seeds"]:
        assert len(r["val_curve"]) == 2 and len(r["grid"]) == 2
        assert sum(map(sum, r["confusion_matrix"])) == 24
    assert (out / "config.yaml").is_file() and (out / "seed1" / "model.pt").is_file()
    assert "+-" in printed and "0 6 (25.0%)" in printed and "wall time" in printed

    code = cli.main(["evaluate", "--checkpoint", str(out / "seed0" / "model.pt"),
                     "--out", str(tmp_path / "eval.json")])
    evaluated = json.loads(capsys.readouterr().out)
    assert code == 0
    assert evaluated["accuracy"] == pytest.approx(report["seeds"][0]["accuracy"])
    assert evaluated["confusion_matrix"] == report["seeds"][0]["confusion_matrix"]
    assert evaluated["model"]["chosen"] == report["seeds"][0]["chosen"]
    assert evaluated["model"]["val_curve"] == report["seeds"][0]["val_curve"]
    assert json.loads((tmp_path / "eval.json").read_text())["balanced_accuracy"] == \
        evaluated["balanced_accuracy"]


@pytest.mark.parametrize("args,message", [
    (["--no-grid", "--lr", "0.01"], "--batch-size"),
    (["--seed", "0", "--seeds", "1,2"], "either --seed"),
    (["--init", "imagenet:missing.pth"], "download.pytorch.org"),
    (["--init", "nowhere/checkpoint.pt"], "no such file or folder"),
    (["--augment", "zoom"], "--augment zoom"),
    (["--n", "7"], "N=7"),
    (["--epochs", "0"], "epochs=0"),
])
def test_finetune_user_errors_exit_2_with_one_line(tmp_path, capsys, args, message):
    data = write_npz(tmp_path / "toy.npz")
    code = cli.main(["finetune", "--data", str(data), "--out", str(tmp_path / "o"), *FAST, *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def test_checkpoint_architecture_is_read_and_an_explicit_clash_refused(tmp_path, capsys):
    data = write_npz(tmp_path / "toy.npz")
    run = tmp_path / "pretrain"
    run.mkdir()
    torch.save({"format": "synthcl-pretrain-v1", "config": {}, "step": 1, "finished": True,
                "backbone": backbone_state_dict(build_backbone("resnet18", 8, True))},
               run / "checkpoint.pt")
    args = ["finetune", "--data", str(data), "--init", str(run), "--n", "8", "--epochs", "1",
            "--batch-size", "4", "--lr", "0.01", "--device", "cpu", "--out", str(tmp_path / "o")]
    assert cli.main([*args, "--width", "16"]) == 2
    assert "--width 16" in capsys.readouterr().err
    assert cli.main(args) == 0
    report = json.loads((tmp_path / "o" / "result.json").read_text())
    assert report["seeds"][0]["architecture"] == {"arch": "resnet18", "width": 8,
                                                  "small_stem": True}
    assert report["seeds"][0]["init_weights"]["kind"] == "synthcl"
