import pytest
import torch

from synthcl import cli


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ("finetune", "evaluate"))


def test_evaluate_refuses_a_pretraining_checkpoint_and_missing_files(tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"format": "synthcl-pretrain-v1", "backbone": {}}, checkpoint)
    assert cli.main(["evaluate", "--checkpoint", str(checkpoint)]) == 2
    err = capsys.readouterr().err
    assert "not a fine-tuned synthcl model" in err and "synthcl finetune --init" in err
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "absent.pt")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_evaluate_checks_classes_and_image_size_against_the_model(tmp_path, capsys):
    from test_finetune_cli import write_npz

    data = write_npz(tmp_path / "toy.npz")
    out = tmp_path / "run"
    assert cli.main(["finetune", "--data", str(data), "--seed", "0", "--out", str(out), "--n", "8",
                     "--width", "4", "--epochs", "1", "--batch-size", "4", "--lr", "0.01",
                     "--device", "cpu"]) == 0
    other = write_npz(tmp_path / "bigger.npz", size=16)
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(out / "seed0"), "--data", str(other)]) == 2
    assert "--image-size 12x12" in capsys.readouterr().err
    assert cli.main(["evaluate", "--checkpoint", str(out / "seed0"), "--data", str(other),
                     "--image-size", "12x12", "--split", "val"]) == 0
