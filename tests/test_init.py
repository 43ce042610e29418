"""The classifier fine-tuning starts from (synthcl.finetune.init); the files themselves are read by
synthcl.weights (tests/test_weights.py)."""

import pytest
import torch

from synthcl import cli
from synthcl.errors import SynthclError
from synthcl.finetune.init import initialised_classifier, resolve_architecture
from synthcl.models import backbone_state_dict, build_backbone, torchvision_resnet
from synthcl.weights import read_init


def _classifier(weights, architecture=None, seed=0, image_hw=(16, 16)):
    architecture = architecture or weights.architecture
    return initialised_classifier(weights, architecture, 3, image_hw, seed)


def _assert_backbone_equals(model, state):
    loaded = model.backbone.state_dict()
    assert set(state) <= set(loaded)
    missing = [k for k in loaded if k not in state and not k.endswith("num_batches_tracked")]
    assert missing == []
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


SCRATCH_ARCH = {"arch": "resnet18", "width": 8, "small_stem": True}


def test_scratch_is_seeded_random_and_leaves_the_global_rng_alone():
    weights = read_init("scratch")
    before = torch.get_rng_state()
    a = _classifier(weights, SCRATCH_ARCH, seed=0)
    b = _classifier(weights, SCRATCH_ARCH, seed=0)
    c = _classifier(weights, SCRATCH_ARCH, seed=1)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a.backbone.conv1.weight, b.backbone.conv1.weight)
    assert torch.equal(a.head.weight, b.head.weight)
    assert not torch.equal(a.backbone.conv1.weight, c.backbone.conv1.weight)
    assert not torch.equal(a.backbone.layer4[1].conv2.weight, c.backbone.layer4[1].conv2.weight)
    assert not torch.equal(a.head.weight, c.head.weight)


@pytest.fixture
def pretrain_run(tmp_path):
    backbone = build_backbone("resnet18", width=8, small_stem=True)
    state = backbone_state_dict(backbone)
    run = tmp_path / "pretrain"
    run.mkdir()
    torch.save({"format": "synthcl-pretrain-v1", "config": {"arch": "resnet18", "width": 8},
                "step": 1, "finished": True, "backbone": state, "queue": torch.zeros(4, 2)},
               run / "checkpoint.pt")
    torch.save(state, run / "backbone.pt")
    return run, state


@pytest.mark.parametrize("target", ["", "checkpoint.pt", "backbone.pt"])
def test_synthcl_pretraining_run_loads_with_every_backbone_key(pretrain_run, target):
    run, state = pretrain_run
    weights = read_init(str(run / target) if target else str(run))
    assert weights.kind == "synthcl"
    assert weights.architecture == {"arch": "resnet18", "width": 8, "small_stem": True}
    assert weights.path.endswith(target or "checkpoint.pt")
    _assert_backbone_equals(_classifier(weights), state)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_torchvision_imagenet_weights_keep_their_own_stem(tmp_path, arch):
    source = torchvision_resnet(arch).state_dict()
    path = tmp_path / f"{arch}.pth"
    torch.save(source, path)
    model = _classifier(read_init(f"imagenet:{path}"), image_hw=(28, 28))
    assert not model.backbone.small_stem  # ImageNet's own stem, also for small images
    _assert_backbone_equals(model, {k: v for k, v in source.items() if not k.startswith("fc.")})


def test_explicit_architecture_contradicting_the_weights_is_an_error(pretrain_run):
    weights = read_init(str(pretrain_run[0]))
    with pytest.raises(SynthclError, match="--width 64") as err:
        resolve_architecture(weights, "resnet18", 64, None, explicit={"width"})
    assert "width 8" in str(err.value)
    assert resolve_architecture(weights, "resnet50", 64, None) == weights.architecture
    assert resolve_architecture(weights, "resnet18", 8, True, explicit={"width", "arch"}) == \
        weights.architecture


@pytest.mark.parametrize("content", ["bytes", "unfinished"])
def test_finetune_init_of_a_bad_file_or_unfinished_run_is_one_line_and_exit_2(
        tmp_path, capsys, monkeypatch, content):
    """Issue 9: ``finetune --init bad.pt`` (8 random bytes) raised IndexError."""
    from test_finetune_cli import write_npz

    monkeypatch.setattr(cli, "COMMANDS", ("finetune",))
    if content == "bytes":
        init = tmp_path / "bad.pt"
        init.write_bytes(bytes.fromhex("72a6ff4cd0126586"))
        expected = "not a readable PyTorch file"
    else:
        init = tmp_path / "run"
        init.mkdir()
        state = backbone_state_dict(build_backbone("resnet18", width=8, small_stem=True))
        torch.save({"format": "synthcl-pretrain-v1", "step": 3, "finished": False,
                    "backbone": state}, init / "checkpoint.pt")
        expected = "has not finished"
    data = write_npz(tmp_path / "toy.npz")
    out = tmp_path / "out"
    assert cli.main(["finetune", "--data", str(data), "--init", str(init), "--seed", "0",
                     "--out", str(out), "--n", "8", "--epochs", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert expected in err and str(init) in err
