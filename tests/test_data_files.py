"""Image folders, manifests, the PCam folder layout, decoding and the decoded-image cache."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from synthcl.data import load_dataset
from synthcl.data.sources import cache, images
from synthcl.data.sources.splits import stratified_test_indices
from synthcl.errors import SynthclError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHCL_CACHE", str(tmp_path / "cache"))


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return array


def _class_folders(root, classes=("cat", "dog"), n=5, size=(12, 10), channels=1, seed=0):
    """root/class/i.png with random pixels; returns {(class, i): array}."""
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((3,) if channels == 3 else ())
    return {(c, i): _save(root / c / f"{i}.png", rng.integers(0, 256, shape, dtype=np.uint8))
            for c in classes for i in range(n)}


def test_class_folders_keep_pixels_and_get_a_seeded_stratified_split(tmp_path):
    written = _class_folders(tmp_path / "data", n=10)
    data = load_dataset(tmp_path / "data")
    assert data.format == "folder" and data.class_names == ("cat", "dog")
    assert data.image_shape == (10, 12, 1)
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [16, 0, 4]
    assert data.splits["test"].class_counts(2).tolist() == [2, 2]
    assert "seeded stratified" in data.split_note and "val empty" in data.split_note
    pool = {written[k].tobytes() for k in written}
    got = [img[..., 0].tobytes() for s in data.splits.values() for img in s.images]
    assert sorted(got) == sorted(pool)
    again = load_dataset(tmp_path / "data")
    np.testing.assert_array_equal(again.splits["test"].images, data.splits["test"].images)
    other = load_dataset(tmp_path / "data", split_seed=1)
    assert not np.array_equal(other.splits["test"].images, data.splits["test"].images)


@settings(max_examples=50, deadline=None)
@given(counts=st.lists(st.integers(1, 40), min_size=1, max_size=6), seed=st.integers(0, 999))
def test_stratified_test_split_rule(counts, seed):
    labels = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    test = stratified_test_indices(labels, seed)
    assert len(np.unique(test)) == len(test) and np.all(np.diff(test) > 0)
    for k, n in enumerate(counts):
        expected = 0 if n == 1 else max(1, int(0.2 * n + 0.5))
        assert int((labels[test] == k).sum()) == expected
    np.testing.assert_array_equal(test, stratified_test_indices(labels, seed))
    if min(counts) >= 10:        # another seed may pick the same few by chance; five will not
        assert any(not np.array_equal(test, stratified_test_indices(labels, seed + k))
                   for k in range(1, 6))


def test_split_folders_are_official_and_missing_test_is_carved_from_train(tmp_path):
    for split, n in (("train", 6), ("valid", 2), ("test", 3)):
        _class_folders(tmp_path / "full" / split, n=n, seed=n)
    data = load_dataset(tmp_path / "full")
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [12, 4, 6]
    assert data.split_note.startswith("official")
    for split, n in (("training", 10), ("validation", 2)):
        _class_folders(tmp_path / "notest" / split, n=n, seed=n)
    data = load_dataset(tmp_path / "notest")
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [16, 4, 4]
    assert "val from official" in data.split_note and "no official test" in data.split_note


def test_channels_rgb_rgba_palette_and_grey(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    alpha = np.where(np.arange(8) < 4, 255, 0).astype(np.uint8)[None, :].repeat(8, 0)
    _save(tmp_path / "rgb.png", rgb)
    _save(tmp_path / "rgba.png", np.dstack([rgb, alpha]))
    _save(tmp_path / "grey.png", rgb[..., 0])
    Image.fromarray(rgb).quantize(8).save(tmp_path / "pal.png")
    np.testing.assert_array_equal(images.read_image(tmp_path / "rgb.png"), rgb)
    with_alpha = images.read_image(tmp_path / "rgba.png")
    np.testing.assert_array_equal(with_alpha[:, :4], rgb[:, :4])
    assert (with_alpha[:, 4:] == 0).all()                      # transparent -> black
    np.testing.assert_array_equal(images.read_image(tmp_path / "grey.png"), rgb[..., 0])
    assert images.read_image(tmp_path / "pal.png").shape == (8, 8, 3)


def test_a_set_mixing_grey_and_colour_becomes_rgb(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    _save(tmp_path / "mix" / "a" / "0.png", rgb[..., 1])       # grey first, then colour
    _save(tmp_path / "mix" / "b" / "0.png", rgb)
    stacked = images.decode_files(sorted(str(p) for p in (tmp_path / "mix").rglob("*.png")))
    assert stacked.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(stacked[0], np.repeat(rgb[..., 1:2], 3, axis=2))
    np.testing.assert_array_equal(stacked[1], rgb)
    assert load_dataset(tmp_path / "mix").image_shape == (8, 8, 3)


def test_sixteen_bit_grey_is_scaled_to_eight_bits(tmp_path):
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    Image.fromarray(deep).save(tmp_path / "deep.tif")
    np.testing.assert_array_equal(images.read_image(tmp_path / "deep.tif"),
                                  np.round(deep / 257).astype(np.uint8))


def test_differing_sizes_name_both_files_and_suggest_image_size(tmp_path):
    _save(tmp_path / "d" / "a" / "1.png", np.zeros((10, 12), np.uint8))
    _save(tmp_path / "d" / "b" / "2.png", np.zeros((7, 9), np.uint8))
    with pytest.raises(SynthclError) as err:
        load_dataset(tmp_path / "d")
    text = str(err.value)
    assert "1.png is 12x10" in text and "2.png is 9x7" in text and "--image-size" in text
    data = load_dataset(tmp_path / "d", image_size="6x4")
    assert data.image_shape == (4, 6, 1)


def test_resize_is_antialiased_bilinear(tmp_path):
    stripes = np.tile(np.array([0, 255], np.uint8), (16, 8))     # 16x16, alternate columns
    _save(tmp_path / "s" / "a" / "1.png", stripes)
    _save(tmp_path / "s" / "b" / "1.png", stripes)
    data = load_dataset(tmp_path / "s", image_size=4)
    every = np.concatenate([s.images for s in data.splits.values()])
    assert every.shape[1:] == (4, 4, 1)
    assert np.all(np.abs(every.astype(int) - 128) <= 16)   # averaged (sampling gives 0 or 255)


def test_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SynthclError, match="cannot tell its format"):
        load_dataset(tmp_path / "empty")
    _save(tmp_path / "loose" / "x.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(SynthclError, match="one sub-folder per class"):
        load_dataset(tmp_path / "loose", format="folder")
    _class_folders(tmp_path / "mixed" / "train")
    _class_folders(tmp_path / "mixed" / "extra")
    with pytest.raises(SynthclError, match="mixes split folders"):
        load_dataset(tmp_path / "mixed")
    _class_folders(tmp_path / "one", classes=("only",))
    with pytest.raises(SynthclError, match="at least two"):
        load_dataset(tmp_path / "one")
    _class_folders(tmp_path / "bad")
    (tmp_path / "bad" / "cat" / "zz.png").write_bytes(b"not a png")
    with pytest.raises(SynthclError, match="cannot read image .*zz.png"):
        load_dataset(tmp_path / "bad")


def test_natural_class_order_and_hidden_files_ignored(tmp_path):
    _class_folders(tmp_path / "n", classes=("10", "2", "1"), n=2)
    _save(tmp_path / "n" / "2" / ".hidden.png", np.zeros((3, 3), np.uint8))
    (tmp_path / "n" / "2" / "notes.txt").write_text("ignored")
    data = load_dataset(tmp_path / "n")
    assert data.class_names == ("1", "2", "10")
    assert sum(len(s) for s in data.splits.values()) == 6


def test_pcam_folder_layout(tmp_path):
    for split, n in (("train", 4), ("valid", 2), ("test", 3)):
        _class_folders(tmp_path / "pc" / split, classes=("0", "1"), n=n, channels=3, seed=n)
    data = load_dataset(tmp_path / "pc")
    assert data.format == "pcam-folder" and data.modality == "histology"
    assert data.class_names == ("normal", "tumor")
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [8, 4, 6]
    assert load_dataset(tmp_path / "pc", format="folder").class_names == ("0", "1")


def _manifest_tree(root, n=6):
    written = _class_folders(root / "imgs", classes=("a", "b", "c"), n=n)
    records = [{"File": f"imgs/{c}/{i}.png", "Label": c,
                "split": "test" if i == 0 else ("valid" if i == 1 else "train")}
               for (c, i) in written]
    return written, records


def test_csv_manifest_with_split_column(tmp_path):
    written, records = _manifest_tree(tmp_path / "m")
    with open(tmp_path / "m" / "list.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["File", "Label", "split"])
        writer.writeheader()
        writer.writerows(records)
    data = load_dataset(tmp_path / "m" / "list.csv")
    assert data.format == "manifest" and data.class_names == ("a", "b", "c")
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [12, 3, 3]
    assert "manifest" in data.split_note
    test = data.splits["test"]
    for img, label in zip(test.images, test.labels, strict=True):
        np.testing.assert_array_equal(img[..., 0], written[(data.class_names[label], 0)])


def test_json_manifest_mapping_ids_to_records_like_solar_modules(tmp_path):
    written, records = _manifest_tree(tmp_path / "thermal_set")
    mapping = {str(i): {"image_filepath": r["File"], "anomaly_class": r["Label"]}
               for i, r in enumerate(records)}
    (tmp_path / "thermal_set" / "meta.json").write_text(json.dumps(mapping))
    data = load_dataset(tmp_path / "thermal_set")          # folder with one manifest + images/
    assert data.format == "manifest" and data.modality == "thermal"
    assert data.name == "thermal_set"
    assert sum(len(s) for s in data.splits.values()) == len(written)
    (tmp_path / "thermal_set" / "list.json").write_text(json.dumps(list(mapping.values())))
    listed = load_dataset(tmp_path / "thermal_set" / "list.json")
    np.testing.assert_array_equal(listed.splits["train"].images, data.splits["train"].images)


def test_manifest_errors(tmp_path):
    _, records = _manifest_tree(tmp_path / "m")
    (tmp_path / "m" / "nolabel.json").write_text(json.dumps([{"path": "imgs/a/0.png"}]))
    with pytest.raises(SynthclError, match="needs an image path .*anomaly_class"):
        load_dataset(tmp_path / "m" / "nolabel.json")
    (tmp_path / "m" / "missing.json").write_text(
        json.dumps([{"path": "imgs/a/0.png", "label": "a"}, {"path": "nope.png", "label": "b"}]))
    with pytest.raises(SynthclError, match="nope.png does not exist"):
        load_dataset(tmp_path / "m" / "missing.json")
    (tmp_path / "m" / "badsplit.json").write_text(
        json.dumps([{"path": "imgs/a/0.png", "label": "a", "split": "holdout"}]))
    with pytest.raises(SynthclError, match="split='holdout'"):
        load_dataset(tmp_path / "m" / "badsplit.json")
    (tmp_path / "m" / "garbage.json").write_text("{")
    with pytest.raises(SynthclError, match="cannot read"):
        load_dataset(tmp_path / "m" / "garbage.json")


def test_cache_is_reused_invalidated_by_changes_and_can_be_disabled(tmp_path, monkeypatch):
    _class_folders(tmp_path / "c", n=4)
    first = load_dataset(tmp_path / "c")
    entries = list((tmp_path / "cache" / "data").glob("*.npz"))
    assert len(entries) == 1
    assert not list((tmp_path / "cache" / "data").glob("*.tmp"))

    def fail(*args, **kwargs):
        raise AssertionError("decoded again although nothing changed")

    monkeypatch.setattr("synthcl.data.sources.labelled_files.decode_files", fail)
    cached = load_dataset(tmp_path / "c")
    np.testing.assert_array_equal(cached.splits["train"].images, first.splits["train"].images)
    monkeypatch.undo()
    monkeypatch.setenv("SYNTHCL_CACHE", str(tmp_path / "cache"))

    changed = np.full((10, 12), 7, np.uint8)
    _save(tmp_path / "c" / "cat" / "0.png", changed)
    os.utime(tmp_path / "c" / "cat" / "0.png", ns=(1, 1))
    refreshed = load_dataset(tmp_path / "c")
    assert any(np.array_equal(img[..., 0], changed)
               for s in refreshed.splits.values() for img in s.images)
    assert len(list((tmp_path / "cache" / "data").glob("*.npz"))) == 1   # rebuilt in place

    entries[0].write_bytes(b"corrupt")
    assert load_dataset(tmp_path / "c").num_classes == 2                 # rebuilt, no crash

    monkeypatch.setenv("SYNTHCL_DATA_CACHE", "0")
    monkeypatch.setenv("SYNTHCL_CACHE", str(tmp_path / "cache2"))
    load_dataset(tmp_path / "c")
    assert not (tmp_path / "cache2").exists()


def test_cached_arrays_keys_by_identity(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3)}

    for identity in ("a", "a", "b"):
        out = cache.cached_arrays("unit", identity, fingerprint=[1], compute=compute)
        np.testing.assert_array_equal(out["x"], np.arange(3))
    assert len(calls) == 2


def test_decoding_threads_only_for_big_files(tmp_path):
    small = [str(tmp_path / f"s{i}.bin") for i in range(100)]
    big = [str(tmp_path / f"b{i}.bin") for i in range(100)]
    for path in small:
        open(path, "wb").write(b"x" * 600)
    for path in big:
        open(path, "wb").write(b"x" * 40_000)
    assert images.decode_workers(small) == 1
    assert images.decode_workers(big) == images.worker_count()
