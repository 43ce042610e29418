import pytest
import torch
import torchvision
from torch import nn

from synthcl.errors import SynthclError
from synthcl.finetune.init import (
    initialised_classifier,
    load_backbone,
    read_init,
    resolve_architecture,
)
from synthcl.models import backbone_state_dict, build_backbone


class NotWeights:
    """A pickled custom object: torch.load(weights_only=True) must refuse it."""


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
                "step": 1, "backbone": state, "queue": torch.zeros(4, 2)}, run / "checkpoint.pt")
    torch.save(state, run / "backbone.pt")
    return run, state


@pytest.mark.parametrize("target", ["", "checkpoint.pt", "backbone.pt"])
def test_synthcl_pretraining_run_loads_with_every_backbone_key(pretrain_run, target):
    run, state = pretrain_run
    weights = read_init(str(run / target) if target else str(run))
    assert weights.kind == "synthcl"
    assert weights.architecture == {"arch": "resnet18", "width": 8, "small_stem": True}
    if not target:
        assert weights.path.endswith("backbone.pt")
    _assert_backbone_equals(_classifier(weights), state)


def test_folder_of_an_unfinished_run_falls_back_to_its_checkpoint(pretrain_run):
    run, state = pretrain_run
    (run / "backbone.pt").unlink()
    weights = read_init(str(run))
    assert weights.path.endswith("checkpoint.pt")
    _assert_backbone_equals(_classifier(weights), state)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_torchvision_imagenet_state_dict_loads_with_fc_dropped(tmp_path, arch):
    source = getattr(torchvision.models, arch)(weights=None).state_dict()
    path = tmp_path / f"{arch}.pth"
    torch.save(source, path)
    weights = read_init(f"imagenet:{path}")
    assert weights.kind == "imagenet"
    assert weights.architecture == {"arch": arch, "width": 64, "small_stem": False}
    assert not any(k.startswith("fc.") for k in weights.state)
    model = _classifier(weights, image_hw=(28, 28))
    assert not model.backbone.small_stem  # ImageNet's own stem, also for small images
    _assert_backbone_equals(model, {k: v for k, v in source.items() if not k.startswith("fc.")})


def test_bare_imagenet_reads_torchvisions_cache_folder_or_says_what_to_download(
        tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(SynthclError) as err:
        read_init("imagenet:resnet18")
    message = str(err.value)
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(),
               folder / "resnet18-f37072fd.pth")
    assert read_init("imagenet", arch="resnet18").architecture["arch"] == "resnet18"


def test_missing_imagenet_file_names_the_urls(tmp_path):
    with pytest.raises(SynthclError, match="resnet50-0676ba61.pth") as err:
        read_init(f"imagenet:{tmp_path / 'nope.pth'}")
    assert "nothing is downloaded" in str(err.value)


def test_moco_checkpoint_is_converted_dropping_the_mlp_head_and_key_encoder(tmp_path):
    encoder = torchvision.models.resnet18(weights=None)
    encoder.fc = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 128))
    query = encoder.state_dict()
    state = {f"module.encoder_q.{k}": v for k, v in query.items()}
    state.update({f"module.encoder_k.{k}": v + 1 for k, v in query.items()})
    state["module.queue"] = torch.zeros(128, 16)
    state["module.queue_ptr"] = torch.zeros(1, dtype=torch.long)
    path = tmp_path / "checkpoint_0199.pth.tar"
    torch.save({"epoch": 200, "arch": "resnet18", "state_dict": state,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.03}]}}, path)
    weights = read_init(f"moco:{path}")
    assert weights.kind == "moco"
    assert sorted(k for k in query if k.startswith("fc.")) == [
        "fc.0.bias", "fc.0.weight", "fc.2.bias", "fc.2.weight"]
    assert not any(k.startswith("fc.") for k in weights.state)
    _assert_backbone_equals(_classifier(weights),
                            {k: v for k, v in query.items() if not k.startswith("fc.")})


def test_moco_file_without_query_encoder_names_its_keys(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"encoder.conv1.weight": torch.zeros(1)}}, path)
    with pytest.raises(SynthclError, match="encoder.conv1.weight"):
        read_init(f"moco:{path}")


def test_key_errors_name_the_missing_unexpected_and_misshaped_keys():
    backbone = build_backbone("resnet18", width=8, small_stem=True)
    state = backbone_state_dict(backbone)
    del state["layer2.0.conv1.weight"]
    state["layer5.weight"] = torch.zeros(3)
    state["layer1.0.bn1.weight"] = torch.zeros(5)
    with pytest.raises(SynthclError) as err:
        load_backbone(build_backbone("resnet18", width=8, small_stem=True), state, "ckpt.pt")
    message = str(err.value)
    assert "missing key(s): layer2.0.conv1.weight" in message
    assert "unexpected key(s): layer5.weight" in message
    assert "layer1.0.bn1.weight (5,)" in message and "(8,)" in message


def test_a_torchvision_file_passed_as_a_synthcl_backbone_says_to_use_imagenet_prefix(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    weights = read_init(str(path))
    with pytest.raises(SynthclError, match=r"fc\.weight.*imagenet:FILE"):
        _classifier(weights)


def test_explicit_architecture_contradicting_the_weights_is_an_error(pretrain_run):
    weights = read_init(str(pretrain_run[0]))
    with pytest.raises(SynthclError, match="--width 64") as err:
        resolve_architecture(weights, "resnet18", 64, None, explicit={"width"})
    assert "width 8" in str(err.value)
    assert resolve_architecture(weights, "resnet50", 64, None) == weights.architecture
    assert resolve_architecture(weights, "resnet18", 8, True, explicit={"width", "arch"}) == \
        weights.architecture


def test_unsafe_or_foreign_files_are_refused_clearly(tmp_path):
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"obj": NotWeights()}, unsafe)
    with pytest.raises(SynthclError, match="NotWeights.*weights_only=True"):
        read_init(str(unsafe))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(SynthclError, match="not a readable PyTorch file"):
        read_init(str(garbage))
    finetuned = tmp_path / "model.pt"
    torch.save({"format": "synthcl-finetune-v1"}, finetuned)
    with pytest.raises(SynthclError, match="synthcl evaluate"):
        read_init(str(finetuned))
    with pytest.raises(SynthclError, match="no such file or folder"):
        read_init(str(tmp_path / "absent"))
    with pytest.raises(SynthclError, match="neither backbone.pt nor checkpoint.pt"):
        read_init(str(tmp_path))
