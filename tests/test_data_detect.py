"""Format detection, --format, --image-size parsing, the CLI helpers and `synthcl info`."""

from __future__ import annotations

import argparse
import importlib

import numpy as np
import pytest
from PIL import Image

from synthcl.data import FORMATS, add_data_arguments, load_dataset, load_for_config, load_from_args
from synthcl.data.sources.detect import detect_format, resolve
from synthcl.data.sources.options import parse_image_size
from synthcl.errors import SynthclError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHCL_CACHE", str(tmp_path / "cache"))


def _folder(root, classes=("a", "b"), n=3):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((6, 6), i * 40, np.uint8)).save(root / c / f"{i}.png")
    return root


def _npz(path):
    z = {f"{s}_{k}": (np.zeros((4, 5, 5), np.uint8) if k == "images" else np.array([0, 1, 0, 1]))
         for s in ("train", "val", "test") for k in ("images", "labels")}
    np.savez(path, **z)
    return path


@pytest.mark.parametrize("value, expected", [
    ("64", (64, 64)), ("250x190", (250, 190)), (" 32 X 16 ", (32, 16)), (7, (7, 7)),
    ((40, 30), (40, 30)), ([5, 6], (5, 6)), (None, None), ("", None)])
def test_image_size_parsing(value, expected):
    assert parse_image_size(value) == expected


@pytest.mark.parametrize("value", ["abc", "0", "10x", "x10", "-5", "1.5", "99999", "3x4x5",
                                   True, (0, 4), (2.5, 3)])
def test_image_size_nonsense_is_a_clear_error(value):
    with pytest.raises(SynthclError, match="--image-size"):
        parse_image_size(value)


def test_detection_by_path(tmp_path):
    npz = _npz(tmp_path / "x.npz")
    assert detect_format(npz) == "medmnist"
    (tmp_path / "w.pkl").write_bytes(b"")
    assert detect_format(tmp_path / "w.pkl") == "wafer-pkl"
    (tmp_path / "m.csv").write_text("path,label\n")
    assert detect_format(tmp_path / "m.csv") == "manifest"
    assert detect_format(_folder(tmp_path / "imgs")) == "folder"
    (tmp_path / "only").mkdir()
    _npz(tmp_path / "only" / "pneumoniamnist.npz")
    assert resolve(tmp_path / "only", None, tuple(FORMATS)) == (
        "medmnist", tmp_path / "only" / "pneumoniamnist.npz")
    assert resolve("elpv", None, tuple(FORMATS)) == ("elpv", None)
    assert resolve(None, None, tuple(FORMATS)) == ("elpv", None)


def test_class_folders_win_over_a_stray_csv(tmp_path):
    root = _folder(tmp_path / "d")
    (root / "notes.csv").write_text("x,y\n1,2\n")
    assert detect_format(root) == "folder"


def test_format_override_and_its_errors(tmp_path):
    root = _folder(tmp_path / "d")
    assert load_dataset(root, format="folder").format == "folder"
    with pytest.raises(SynthclError, match="unknown format; choose one of medmnist"):
        load_dataset(root, format="tiff-stack")
    with pytest.raises(SynthclError, match="not a PCam folder"):
        load_dataset(root, format="pcam-folder")
    with pytest.raises(SynthclError, match="reads one .npz file but the folder holds 0"):
        load_dataset(root, format="medmnist")
    with pytest.raises(SynthclError, match="needs --data PATH"):
        load_dataset("elpv", format="folder")
    with pytest.raises(SynthclError, match="takes no path"):
        load_dataset(root, format="elpv")


def test_path_errors(tmp_path):
    with pytest.raises(SynthclError, match="no such file or folder"):
        load_dataset(tmp_path / "missing")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "one.png")
    with pytest.raises(SynthclError, match="a single image is not a dataset"):
        load_dataset(tmp_path / "one.png")
    (tmp_path / "x.h5.gz").write_bytes(b"")
    with pytest.raises(SynthclError, match="decompress it first"):
        load_dataset(tmp_path / "x.h5.gz")
    (tmp_path / "x.weird").write_text("")
    with pytest.raises(SynthclError, match="unknown file type"):
        load_dataset(tmp_path / "x.weird")


def _parser():
    parser = argparse.ArgumentParser(prog="test")
    add_data_arguments(parser)
    return parser


def test_cli_helpers_and_config_loading(tmp_path):
    root = _folder(tmp_path / "d")
    args = _parser().parse_args(["--data", str(root), "--image-size", "4x3"])
    assert load_from_args(args).image_shape == (3, 4, 1)
    assert _parser().parse_args([]).data == "elpv"
    with pytest.raises(SystemExit):
        _parser().parse_args(["--format", "nonsense"])
    from synthcl.finetune.config import FinetuneConfig

    data = load_for_config(FinetuneConfig(data=str(root), image_size="5"))
    assert data.image_shape == (5, 5, 1)


def _info(argv):
    from synthcl.commands import info

    parser = argparse.ArgumentParser(prog="synthcl info")
    info.add_arguments(parser)
    return info.run(parser.parse_args(argv))


def test_info_prints_format_modality_classes_table_and_note(tmp_path, capsys):
    root = _folder(tmp_path / "retina_scans", classes=("healthy", "sick"), n=5)
    assert _info(["--data", str(root), "--image-size", "4"]) == 0
    out = capsys.readouterr().out
    for text in ("format    folder", "modality  retina", "4x4 (width x height), 1 channel",
                 "seeded stratified", "balanced N up to 8"):
        assert text in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert rows["healthy"] == ["4", "0", "1"] and rows["total"] == ["8", "0", "2"]


def test_info_lists_formats(capsys):
    assert _info(["--formats"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in FORMATS)


def test_info_through_the_cli_gives_one_line_errors(tmp_path, capsys):
    cli = importlib.import_module("synthcl.cli")
    try:
        cli.build_parser()
    except ModuleNotFoundError as exc:        # another engineer's command not written yet
        pytest.skip(f"the CLI cannot be built yet: {exc}")
    assert cli.main(["info", "--data", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file or folder" in err[0]
    (tmp_path / "w.pkl").write_bytes(b"")
    assert cli.main(["info", "--data", str(tmp_path / "w.pkl")]) == 2
    assert "--allow-pickle" in capsys.readouterr().err
    assert cli.main(["info", "--data", str(_folder(tmp_path / "ok"))]) == 0
    assert "format    folder" in capsys.readouterr().out
