"""synthcl.weights: every layout loads the same weights into the same networks; one lookup order;
unfinished pre-trainings refused unless asked; one-line errors; nothing is ever unpickled."""

import os

import pytest
import torch
from torch import nn

from synthcl import weights
from synthcl.errors import SynthclError
from synthcl.models import backbone_state_dict, build_backbone, torchvision_resnet
from synthcl.pretraining.moco import Encoder
from synthcl.weights import apply_init, imagenet_architecture, load_backbone, read_init

BAD_BYTES = bytes.fromhex("72a6ff4cd0126586")
WIDTH8 = {"arch": "resnet18", "width": 8, "small_stem": True}


class Marker:
    """Unpickling this makes the folder ``path``: proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.makedirs, (self.path,)


def _backbone_state(seed=0):
    torch.manual_seed(seed)
    return backbone_state_dict(build_backbone("resnet18", width=8, small_stem=True))


def _head_state(seed=0, dim=16):
    torch.manual_seed(seed)
    return Encoder(build_backbone("resnet18", width=8, small_stem=True), dim).head.state_dict()


def _checkpoint(path, finished=True, seed=0):
    state, head = _backbone_state(seed), _head_state(seed)
    model = {f"encoder_q.head.{k}": v for k, v in head.items()}
    model.update({f"encoder_k.head.{k}": v + 1 for k, v in head.items()})
    weights.save_checkpoint(path, {"config": {}, "step": 7, "finished": finished,
                                   "backbone": state, "model": model})
    return state, head


def _equal(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def _one_line_error(call, *names):
    with pytest.raises(SynthclError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message and all(str(n) in message for n in names), message
    return message


# -- layouts ---------------------------------------------------------------------------------
def test_pretraining_folder_is_read_through_its_checkpoint_then_backbone_pt(tmp_path):
    run = tmp_path / "run"
    state, head = _checkpoint(run / "checkpoint.pt")
    torch.save(state, run / "backbone.pt")
    loaded = read_init(str(run))
    assert loaded.kind == "synthcl" and loaded.path == str(run / "checkpoint.pt")
    assert loaded.architecture == WIDTH8
    assert _equal(loaded.backbone, state) and _equal(loaded.head, head)
    (run / "checkpoint.pt").unlink()
    alone = read_init(str(run))
    assert alone.path == str(run / "backbone.pt") and alone.head is None
    assert _equal(alone.backbone, state)
    (run / "backbone.pt").unlink()
    _one_line_error(lambda: read_init(str(run)), "neither checkpoint.pt nor backbone.pt")


@pytest.mark.parametrize("target", ["", "checkpoint.pt"])
def test_unfinished_pretraining_is_refused_unless_asked(tmp_path, target):
    run = tmp_path / "run"
    state, head = _checkpoint(run / "checkpoint.pt", finished=False)
    torch.save(_backbone_state(seed=1), run / "backbone.pt")      # stale: never preferred
    init = str(run / target)
    _one_line_error(lambda: read_init(init), "has not finished", "step 7",
                    f"synthcl pretrain --resume --out {run}", "allow_unfinished")
    loaded = read_init(init, allow_unfinished=True)
    assert loaded.path == str(run / "checkpoint.pt")
    assert _equal(loaded.backbone, state) and _equal(loaded.head, head)


def _reference_moco(path, wrap=True, prefix="module.encoder_q."):
    encoder = torchvision_resnet("resnet18")
    encoder.fc = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 128))
    query = encoder.state_dict()
    state = {f"{prefix}{k}": v for k, v in query.items()}
    state.update({f"module.encoder_k.{k}": v + 1 for k, v in query.items()})
    state["module.queue"] = torch.zeros(128, 16)
    torch.save({"epoch": 200, "state_dict": state} if wrap else state, path)
    return query


@pytest.mark.parametrize("form", ["moco:{}", "{}"])
@pytest.mark.parametrize("wrap", [True, False])
def test_reference_moco_layout_keeps_the_query_encoder_and_its_head_apart(tmp_path, form, wrap):
    path = tmp_path / "checkpoint_0199.pth.tar"
    query = _reference_moco(path, wrap, prefix="module.encoder_q." if wrap else "encoder_q.")
    loaded = read_init(form.format(path))
    assert loaded.kind == "moco" and loaded.architecture["width"] == 64
    assert _equal(loaded.backbone, {k: v for k, v in query.items() if not k.startswith("fc.")})
    assert _equal(loaded.head, {k[3:]: v for k, v in query.items() if k.startswith("fc.")})


def test_moco_prefix_on_another_file_names_its_keys(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"encoder.conv1.weight": torch.zeros(1)}}, path)
    _one_line_error(lambda: read_init(f"moco:{path}"), path, "encoder.conv1.weight")


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_torchvision_state_dict_loads_with_fc_dropped_as_imagenet_or_by_path(tmp_path, arch):
    source = torchvision_resnet(arch).state_dict()
    path = tmp_path / f"{arch}.pth"
    torch.save(source, path)
    backbone = {k: v for k, v in source.items() if not k.startswith("fc.")}
    by_prefix, by_path = read_init(f"imagenet:{path}"), read_init(str(path))
    assert (by_prefix.kind, by_path.kind) == ("imagenet", "torchvision")
    for loaded in (by_prefix, by_path):
        assert loaded.architecture == {"arch": arch, "width": 64, "small_stem": False}
        assert _equal(loaded.backbone, backbone) and loaded.head is None
    assert imagenet_architecture(str(path)) == by_prefix.architecture


def test_bare_imagenet_reads_torchvisions_cache_folder_or_says_what_to_download(
        tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    _one_line_error(lambda: read_init("imagenet:resnet18"),
                    "https://download.pytorch.org/models/resnet18-f37072fd.pth", folder)
    folder.mkdir(parents=True)
    torch.save(torchvision_resnet("resnet18").state_dict(), folder / "resnet18-f37072fd.pth")
    assert read_init("imagenet", arch="resnet18").architecture["arch"] == "resnet18"
    _one_line_error(lambda: read_init(f"imagenet:{tmp_path / 'nope.pth'}"),
                    "resnet50-0676ba61.pth", "nothing is downloaded")


# -- loading into networks -------------------------------------------------------------------
def test_apply_init_loads_backbone_and_head_into_a_pretraining_encoder(tmp_path):
    state, head = _checkpoint(tmp_path / "checkpoint.pt")
    loaded = read_init(str(tmp_path))
    encoder = Encoder(build_backbone("resnet18", width=8, small_stem=True), 16)
    assert apply_init(encoder, loaded, str(tmp_path))
    assert _equal(backbone_state_dict(encoder.backbone), state)
    assert _equal(encoder.head.state_dict(), head)
    other_dim = Encoder(build_backbone("resnet18", width=8, small_stem=True), 32)
    assert not apply_init(other_dim, loaded, str(tmp_path))       # head of another shape
    assert not apply_init(encoder, read_init("scratch"), "scratch")
    wider = Encoder(build_backbone("resnet18", width=16, small_stem=True), 16)
    _one_line_error(lambda: apply_init(wider, loaded, str(tmp_path)), "--set width=8")


def test_key_errors_name_the_missing_unexpected_and_misshaped_keys():
    state = _backbone_state()
    del state["layer2.0.conv1.weight"]
    state["layer5.weight"] = torch.zeros(3)
    state["layer1.0.bn1.weight"] = torch.zeros(5)
    backbone = build_backbone("resnet18", width=8, small_stem=True)
    message = _one_line_error(lambda: load_backbone(backbone, state, "ckpt.pt"), "ckpt.pt")
    assert "missing key(s): layer2.0.conv1.weight" in message
    assert "unexpected key(s): layer5.weight" in message
    assert "layer1.0.bn1.weight (5,)" in message and "(8,)" in message


# -- errors and safety -----------------------------------------------------------------------
def _every_load_path(tmp_path, name):
    """(label, call) for every function that reads a weights file, all reading ``name``."""
    folder = tmp_path / "run"
    return [
        ("path", lambda: read_init(str(folder / name))),
        ("folder", lambda: read_init(str(folder))),
        ("moco", lambda: read_init(f"moco:{folder / name}")),
        ("imagenet", lambda: read_init(f"imagenet:{folder / name}")),
        ("resume", lambda: weights.load_checkpoint(folder / name)),
        ("model", lambda: weights.load_model(folder / name)),
        ("spec imagenet", lambda: imagenet_architecture(str(folder / name))),
    ]


def test_a_marker_object_in_a_weights_file_never_runs_in_any_load_path(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    marker = tmp_path / "ran"
    torch.save({"conv1.weight": torch.zeros(1), "evil": Marker(marker)},
               folder / "checkpoint.pt")
    torch.load(folder / "checkpoint.pt", weights_only=False)     # the object is live...
    assert marker.exists()
    marker.rmdir()
    for label, call in _every_load_path(tmp_path, "checkpoint.pt"):
        message = _one_line_error(call, folder / "checkpoint.pt", "weights_only=True")
        assert "makedirs" in message, label         # names the object it refused
        assert not marker.exists(), label                      # ...and never unpickled here


def test_a_file_of_eight_random_bytes_is_one_error_line_everywhere(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "checkpoint.pt").write_bytes(BAD_BYTES)
    for label, call in _every_load_path(tmp_path, "checkpoint.pt"):
        message = _one_line_error(call, folder / "checkpoint.pt")
        assert "not a readable PyTorch file" in message, label


def test_foreign_files_and_missing_paths_say_what_to_pass(tmp_path):
    finetuned = tmp_path / "model.pt"
    torch.save({"format": "synthcl-finetune-v1"}, finetuned)
    _one_line_error(lambda: read_init(str(finetuned)), "synthcl evaluate")
    _one_line_error(lambda: read_init(str(tmp_path / "absent")), "no such file or folder",
                    "scratch")
    not_state = tmp_path / "list.pt"
    torch.save([1, 2], not_state)
    _one_line_error(lambda: read_init(str(not_state)), "does not hold a state dict")
    _one_line_error(lambda: weights.load_checkpoint(not_state), "--resume", "another --out")


def test_model_file_refuses_a_pretraining_checkpoint_saying_what_it_wants(tmp_path):
    _checkpoint(tmp_path / "run" / "checkpoint.pt")
    _one_line_error(lambda: weights.load_model(tmp_path / "run" / "checkpoint.pt"),
                    "pre-training checkpoint", "model.pt", f"finetune --init {tmp_path / 'run'}")
    _one_line_error(lambda: weights.load_model(tmp_path / "run"), "no such file", "model.pt")


def _model_meta(data):
    return {"classifier": {}, "architecture": WIDTH8, "class_names": ["a", "b"],
            "image_hw": [8, 8], "data": {"data": data, "format": None}, "config": {},
            "result": {}}


def test_model_file_records_its_data_path_relative_to_itself(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "toy.npz").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "out" / "seed0" / "model.pt"
    weights.save_model(path, _model_meta("data/toy.npz"))
    others = {name: tmp_path / f"{name}.pt" for name in ("elpv", str(tmp_path / "abs.npz"))}
    for data, other in others.items():
        weights.save_model(other, _model_meta(data))
    stored = torch.load(path, weights_only=True)
    assert stored["format"] == "synthcl-finetune-v1"
    assert stored["data"]["data"] == os.path.join("..", "..", "data", "toy.npz")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert weights.load_model(path)[1]["data"]["data"] == str(tmp_path / "data" / "toy.npz")
    for data, other in others.items():                 # the embedded set and absolute paths
        assert weights.load_model(other)[1]["data"]["data"] == data


def test_an_incomplete_model_file_is_one_error_line(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"format": "synthcl-finetune-v1", "classifier": {}}, path)
    _one_line_error(lambda: weights.load_model(path), path, "incomplete", "architecture")
