"""``synthcl generate`` and ``synthcl preview`` end to end on small .npz files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from synthcl.cli import main
from synthcl.generators import build_generator
from synthcl.synthetic.sets import SyntheticSet


@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 24), ("val", 6), ("test", 6)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(n, 1)
    path = tmp_path / "tinymnist.npz"
    np.savez(path, **arrays)
    return path, arrays


def read_manifest(folder):
    with open(folder / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_generate_writes_pngs_and_a_manifest(tiny_npz, tmp_path):
    path, arrays = tiny_npz
    out = tmp_path / "set"
    argv = ["generate", "--data", str(path), "--generator", "patchshuffle", "--d", "2",
            "--n", "4", "--m", "3", "--seed", "5", "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    rows = read_manifest(out)
    assert len(rows) == 12 and len(list((out / "images").glob("*.png"))) == 12
    assert {r["generator"] for r in rows} == {"patchshuffle"}
    assert json.loads(rows[0]["params"]) == {"d": 2} and rows[0]["seed"] == "5"
    labels = arrays["train_labels"].reshape(-1)
    by_source = {}
    for r in rows:
        assert int(r["source_label"]) == labels[int(r["source_index"])]
        by_source.setdefault(r["source_index"], []).append(int(r["copy"]))
    assert len(by_source) == 4 and all(sorted(c) == [0, 1, 2] for c in by_source.values())
    assert sorted(int(r["source_label"]) for r in rows) == [0] * 6 + [1] * 6

    order = list(dict.fromkeys(int(r["source_index"]) for r in rows))
    src = torch.from_numpy(arrays["train_images"][order])[:, None]
    expected = SyntheticSet(src, build_generator("patchshuffle", d=2), 3, 5).batch(range(12))
    written = np.stack([np.array(Image.open(out / r["file"])) for r in rows])
    assert np.array_equal(written, expected[:, 0].numpy())
    for pixels, (i, r) in zip(written, enumerate(rows), strict=True):   # patchshuffle keeps pixels
        source = arrays["train_images"][int(r["source_index"])]
        assert np.array_equal(np.sort(pixels, axis=None), np.sort(source, axis=None)), i


def test_the_manifest_loads_back_as_a_dataset(tiny_npz, tmp_path):
    from synthcl.data import load_dataset

    path, _ = tiny_npz
    out = tmp_path / "set"
    assert main(["generate", "--data", str(path), "--n", "4", "--m", "3", "--out", str(out),
                 "--device", "cpu"]) == 0
    rows = read_manifest(out)
    assert {r["class"] for r in rows} == {"0", "1"}
    data = load_dataset(out / "manifest.csv")
    assert data.format == "manifest" and data.class_names == ("0", "1")
    assert sum(len(s) for s in data.splits.values()) == 12
    counts = sum(s.class_counts(2) for s in data.splits.values())
    assert counts.tolist() == [6, 6] and data.image_shape == (28, 28, 1)


def test_existing_output_is_refused_unless_overwrite(tiny_npz, tmp_path, capsys):
    path, _ = tiny_npz
    out = tmp_path / "set"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    argv = ["generate", "--data", str(path), "--n", "4", "--m", "1", "--out", str(out)]
    assert main(argv) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert main(argv + ["--overwrite"]) == 2          # not synthcl's: never removed
    assert "not written by synthcl" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    assert main(argv) == 0 and main(argv + ["--overwrite"]) == 0
    assert (out / "manifest.csv").exists() and (out / ".synthcl-output").exists()


@pytest.mark.parametrize("bad, message", [
    (["--generator", "jigsaw"], "unknown name 'jigsaw'"),
    (["--d", "40"], "too large"),
    (["--n", "5"], "N=5"),
    (["--option", "noise_std"], "expected KEY=VALUE"),
    (["--generator", "gpnn", "--option", "noise_std=abc"],
     "'noise_std': 'abc' is not a valid float"),
    (["--generator", "mix:randomcrop+gpnn", "--option", "weights=ab"],
     "'weights': 'ab' is not a valid float"),
])
def test_bad_arguments_give_one_line_and_no_output(tiny_npz, tmp_path, capsys, bad, message):
    path, _ = tiny_npz
    out = tmp_path / "set"
    argv = ["generate", "--data", str(path), "--n", "4", "--m", "2", "--out", str(out)]
    assert main(argv + bad) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tinymnist.npz"]


def test_a_failure_while_writing_leaves_nothing_behind(tiny_npz, tmp_path, monkeypatch,
                                                       capsys):
    path, _ = tiny_npz
    saved = []

    def failing_save(self, fp, *args, **kwargs):
        saved.append(fp)
        if len(saved) == 3:
            raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    assert main(["generate", "--data", str(path), "--n", "4", "--m", "2", "--out",
                 str(tmp_path / "set")]) == 2
    assert "disk full" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tinymnist.npz"]


def test_gpnn_set_from_real_pneumonia_images(pneumonia_npz, tmp_path):
    out = tmp_path / "gpnn"
    assert main(["generate", "--data", str(pneumonia_npz), "--generator", "gpnn", "--n", "4",
                 "--m", "2", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                 "--option", "iters=3", "--device", "cpu"]) == 0
    rows = read_manifest(out)
    assert len(rows) == 8 and json.loads(rows[0]["params"])["iters"] == 3
    assert list((tmp_path / "cache" / "synthetic").iterdir())
    image = np.array(Image.open(out / rows[0]["file"]))
    assert image.shape == (28, 28) and image.dtype == np.uint8


def test_preview_draws_a_grid(tiny_npz, tmp_path, capsys):
    path, _ = tiny_npz
    grid = tmp_path / "grid.png"
    assert main(["preview", "--data", str(path), "--generator", "randomcrop", "--d", "4",
                 "--rows", "3", "--m", "4", "--out", str(grid)]) == 0
    with Image.open(grid) as image:
        width, height = image.size
    assert width > height > 100                           # 3 rows x 5 columns
    assert main(["preview", "--data", str(path), "--out", str(tmp_path / "grid.jpg")]) == 2
    assert "PNG" in capsys.readouterr().err


def test_save_preview_checks_shapes(tmp_path):
    from synthcl.preview import save_preview

    src = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    save_preview(src, torch.zeros(2, 3, 3, 16, 16, dtype=torch.uint8), tmp_path / "a.png", "t")
    assert (tmp_path / "a.png").stat().st_size > 0
    with pytest.raises(ValueError, match="do not match"):
        save_preview(src, torch.zeros(3, 2, 3, 16, 16, dtype=torch.uint8), tmp_path / "b.png")
