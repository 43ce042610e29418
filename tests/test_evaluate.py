import json
import os
import pickle

import pytest
import torch

from synthcl import cli


class Marker:
    """Unpickling this makes the folder ``path``: proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.makedirs, (self.path,)


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ("finetune", "evaluate"))


def _finetune(data, out, *extra):
    assert cli.main(["finetune", "--data", str(data), "--seed", "0", "--out", str(out), "--n", "8",
                     "--width", "4", "--epochs", "1", "--batch-size", "4", "--lr", "0.01",
                     "--device", "cpu", *extra]) == 0


def _one_error_line(capsys, *names):
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert all(str(name) in err for name in names), err
    return err


def test_evaluate_refuses_a_pretraining_checkpoint_saying_what_it_wants(tmp_path, capsys):
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    checkpoint.parent.mkdir()
    torch.save({"format": "synthcl-pretrain-v1", "backbone": {}}, checkpoint)
    assert cli.main(["evaluate", "--checkpoint", str(checkpoint)]) == 2
    _one_error_line(capsys, checkpoint, "pre-training checkpoint", "model.pt",
                    f"synthcl finetune --init {tmp_path / 'run'}")
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "absent.pt")]) == 2
    _one_error_line(capsys, "no such file")


def test_evaluate_of_eight_random_bytes_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(bytes.fromhex("72a6ff4cd0126586"))
    assert cli.main(["evaluate", "--checkpoint", str(bad)]) == 2
    _one_error_line(capsys, bad, "not a readable PyTorch file")


def test_evaluate_checks_classes_and_image_size_against_the_model(tmp_path, capsys):
    from test_finetune_cli import write_npz

    data = write_npz(tmp_path / "toy.npz")
    out = tmp_path / "run"
    _finetune(data, out)
    other = write_npz(tmp_path / "bigger.npz", size=16)
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(out / "seed0"), "--data", str(other)]) == 2
    assert "--image-size 12x12" in capsys.readouterr().err
    assert cli.main(["evaluate", "--checkpoint", str(out / "seed0"), "--data", str(other),
                     "--image-size", "12x12", "--split", "val"]) == 0


def test_a_models_relative_data_path_is_read_from_the_models_folder(tmp_path, capsys,
                                                                     monkeypatch):
    """Issue 9: evaluate run from another folder read the relative path against that folder."""
    from test_finetune_cli import write_npz

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    write_npz(project / "toy.npz")
    write_npz(elsewhere / "toy.npz", size=16)              # a decoy of the same name
    monkeypatch.chdir(project)
    _finetune("toy.npz", "run")
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    report = tmp_path / "report.json"
    assert cli.main(["evaluate", "--checkpoint", str(project / "run" / "seed0" / "model.pt"),
                     "--out", str(report)]) == 0
    assert json.loads(report.read_text())["data"]["data"] == str(project / "toy.npz")


def test_a_models_pickle_opt_in_is_not_inherited_by_new_data(tmp_path, capsys):
    """Issue 9: the opt-in stored in a model let ``evaluate --data evil.pkl`` unpickle."""
    from test_finetune_cli import write_npz

    out = tmp_path / "run"
    _finetune(write_npz(tmp_path / "toy.npz"), out, "--allow-pickle")
    assert torch.load(out / "seed0" / "model.pt", weights_only=True)["data"]["allow_pickle"]
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(Marker(marker)))
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(out / "seed0"), "--data", str(evil)]) == 2
    _one_error_line(capsys, evil, "--allow-pickle")
    assert not marker.exists()
    assert cli.main(["evaluate", "--checkpoint", str(out / "seed0")]) == 0   # its own npz


def test_a_marker_object_in_a_model_file_never_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    model = tmp_path / "model.pt"
    torch.save({"format": "synthcl-finetune-v1", "evil": Marker(marker)}, model)
    assert cli.main(["evaluate", "--checkpoint", str(model)]) == 2
    _one_error_line(capsys, model, "weights_only=True")
    assert not marker.exists()
