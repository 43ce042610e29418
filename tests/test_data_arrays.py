"""Array-based sources built in tmp_path: MedMNIST .npz, PCam HDF5, WM-811K pickle."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from synthcl.data import load_dataset
from synthcl.data.sources.images import resize_nearest
from synthcl.errors import SynthclError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHCL_CACHE", str(tmp_path / "cache"))


def _medmnist(path, shape=(28, 28), k=2, sizes=(20, 6, 8), labels_shape=1, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        labels = np.arange(n) % k
        arrays[f"{split}_labels"] = np.repeat(labels[:, None], labels_shape, axis=1)
    np.savez(path, **arrays)
    return arrays


def test_medmnist_grayscale_gets_a_channel_axis_and_named_classes(tmp_path):
    arrays = _medmnist(tmp_path / "pneumoniamnist.npz")
    data = load_dataset(tmp_path / "pneumoniamnist.npz")
    assert data.format == "medmnist" and data.modality == "xray"
    assert data.class_names == ("normal", "pneumonia")
    assert data.split_note.startswith("official")
    for split in ("train", "val", "test"):
        got = data.splits[split]
        assert got.images.shape == (*arrays[f"{split}_images"].shape, 1)
        np.testing.assert_array_equal(got.images[..., 0], arrays[f"{split}_images"])
        np.testing.assert_array_equal(got.labels, arrays[f"{split}_labels"][:, 0])
        assert got.labels.dtype == np.int64


def test_medmnist_size_variant_and_tissue_names(tmp_path):
    _medmnist(tmp_path / "tissuemnist_64.npz", shape=(64, 64), k=8, sizes=(16, 8, 8))
    data = load_dataset(tmp_path / "tissuemnist_64.npz")
    assert data.name == "tissuemnist" and data.modality == "microscopy"
    assert data.num_classes == 8 and data.class_names[0] == "Collecting Duct, Connecting Tubule"
    assert data.image_shape == (64, 64, 1)


def test_medmnist_unknown_colour_set_numbers_its_classes_and_resizes(tmp_path):
    _medmnist(tmp_path / "mystery.npz", shape=(28, 28, 3), k=3, sizes=(9, 3, 3))
    data = load_dataset(tmp_path / "mystery.npz", image_size="14x20")
    assert data.class_names == ("0", "1", "2") and data.modality == "unknown"
    assert data.image_shape == (20, 14, 3)


def test_medmnist_refuses_multilabel_and_incomplete_files(tmp_path):
    _medmnist(tmp_path / "chestmnist.npz", labels_shape=14)
    with pytest.raises(SynthclError, match="multi-label"):
        load_dataset(tmp_path / "chestmnist.npz")
    np.savez(tmp_path / "partial.npz", train_images=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(SynthclError, match="missing .*train_labels"):
        load_dataset(tmp_path / "partial.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(SynthclError, match="broken.npz"):
        load_dataset(tmp_path / "broken.npz")


def _pcam_h5(folder, sizes=(("train", 12), ("valid", 4), ("test", 6)), seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, n in sizes:
        x = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        y = (np.arange(n) % 2).astype(np.uint8).reshape(n, 1, 1, 1)
        with h5py.File(folder / f"camelyonpatch_level_2_split_{split}_x.h5", "w") as f:
            f.create_dataset("x", data=x, chunks=(2, 96, 96, 3), compression="gzip")
        with h5py.File(folder / f"camelyonpatch_level_2_split_{split}_y.h5", "w") as f:
            f.create_dataset("y", data=y)
        written[split] = (x, y)
    return written


def test_pcam_h5_from_folder_or_file_keeps_official_splits(tmp_path):
    written = _pcam_h5(tmp_path / "pcam")
    for path in (tmp_path / "pcam",
                 tmp_path / "pcam" / "camelyonpatch_level_2_split_test_y.h5"):
        data = load_dataset(path)
        assert data.format == "pcam-h5" and data.modality == "histology"
        assert data.class_names == ("normal", "tumor")
        for ours, theirs in (("train", "train"), ("val", "valid"), ("test", "test")):
            x, y = written[theirs]
            np.testing.assert_array_equal(data.splits[ours].images, x)
            np.testing.assert_array_equal(data.splits[ours].labels, y.reshape(-1))


def test_pcam_h5_without_valid_has_empty_val_and_needs_test(tmp_path):
    _pcam_h5(tmp_path / "a", sizes=(("train", 6), ("test", 4)))
    data = load_dataset(tmp_path / "a", image_size=32)
    assert len(data.splits["val"]) == 0 and data.image_shape == (32, 32, 3)
    _pcam_h5(tmp_path / "b", sizes=(("train", 6),))
    with pytest.raises(SynthclError, match="split_test_x.h5 is missing"):
        load_dataset(tmp_path / "b")


WAFER_CLASSES = ["Center", "Donut", "Edge-Loc", "Edge-Ring", "Loc", "Near-full", "Random",
                 "Scratch", "none"]


def _wafer_frame(rng, n_per_class=3, split_column="trianTestLabel", unlabelled=4):
    rows = []
    for k, name in enumerate(WAFER_CLASSES):
        for i in range(n_per_class):
            h, w = int(rng.integers(20, 70)), int(rng.integers(20, 70))
            rows.append({"waferMap": rng.integers(0, 3, (h, w)).astype(np.uint8),
                         "failureType": np.array([[name]]),
                         split_column: np.array([["Training" if i else "Test"]]),
                         "k": k})
    for _ in range(unlabelled):
        rows.append({"waferMap": rng.integers(0, 3, (30, 30)).astype(np.uint8),
                     "failureType": np.array([]), split_column: np.array([]), "k": -1})
    return pd.DataFrame(rows)


def test_wafer_pickle_needs_opt_in_and_says_why(tmp_path):
    _wafer_frame(np.random.default_rng(0)).to_pickle(tmp_path / "LSWMD.pkl")
    with pytest.raises(SynthclError, match="run arbitrary code.*--allow-pickle"):
        load_dataset(tmp_path / "LSWMD.pkl")


def test_wafer_pickle_labelled_maps_official_split_dies_kept(tmp_path):
    frame = _wafer_frame(np.random.default_rng(1))
    frame.to_pickle(tmp_path / "LSWMD.pkl")
    data = load_dataset(tmp_path, allow_pickle=True)
    assert data.format == "wafer-pkl" and data.modality == "wafer"
    assert data.class_names == tuple(WAFER_CLASSES)
    assert data.image_shape == (45, 45, 1)
    assert len(data.splits["train"]) == 18 and len(data.splits["test"]) == 9
    assert len(data.splits["val"]) == 0 and "official" in data.split_note
    np.testing.assert_array_equal(data.splits["test"].labels, np.arange(9))
    values = np.unique(np.concatenate([s.images.ravel() for s in data.splits.values()]))
    assert set(values.tolist()) <= {0, 1, 2} and set(values.tolist()) == {0, 1, 2}


def test_wafer_nearest_resize_is_exact_on_integer_upscales(tmp_path):
    rng = np.random.default_rng(2)
    small = [rng.integers(0, 3, (45, 45)).astype(np.uint8) for _ in WAFER_CLASSES]
    frame = pd.DataFrame({"waferMap": [np.kron(m, np.ones((2, 3), np.uint8)) for m in small],
                          "failureType": [np.array([[c]]) for c in WAFER_CLASSES]})
    frame.to_pickle(tmp_path / "maps.pkl")
    data = load_dataset(tmp_path / "maps.pkl", allow_pickle=True)
    assert "seeded stratified" in data.split_note     # no trianTestLabel column
    everything = {int(lbl): img[..., 0] for s in data.splits.values()
                  for img, lbl in zip(s.images, s.labels, strict=True)}
    for k, original in enumerate(small):
        np.testing.assert_array_equal(everything[k], original)
    np.testing.assert_array_equal(resize_nearest(small[0], (45, 45)), small[0])
    np.testing.assert_array_equal(resize_nearest(np.array([[0, 1], [2, 0]]), (4, 2)),
                                  [[0, 0, 1, 1], [2, 2, 0, 0]])


def test_wafer_accepts_old_pandas_module_names(tmp_path):
    """Pickles from pandas < 0.20 name 'pandas.indexes.*'; protocol 2 stores module names as
    text, so renaming them in the bytes makes such a file."""
    frame = _wafer_frame(np.random.default_rng(3), n_per_class=2, unlabelled=0)
    frame.index = pd.Index(np.arange(len(frame)) * 2)      # an Index object that is pickled
    frame.to_pickle(tmp_path / "new.pkl", protocol=2)
    raw = (tmp_path / "new.pkl").read_bytes()
    assert b"pandas.core.indexes" in raw
    (tmp_path / "old.pkl").write_bytes(raw.replace(b"pandas.core.indexes", b"pandas.indexes"))
    with pytest.raises(ModuleNotFoundError):
        pd.read_pickle(tmp_path / "old.pkl")
    data = load_dataset(tmp_path / "old.pkl", allow_pickle=True, image_size=20)
    assert data.image_shape == (20, 20, 1) and len(data.splits["train"]) == 9


def test_wafer_rejects_foreign_pickles_and_unknown_labels(tmp_path):
    pd.DataFrame({"a": [1, 2]}).to_pickle(tmp_path / "other.pkl")
    with pytest.raises(SynthclError, match="waferMap and failureType"):
        load_dataset(tmp_path / "other.pkl", allow_pickle=True)
    pd.DataFrame({"waferMap": [np.zeros((5, 5), np.uint8)],
                  "failureType": [np.array([["Bogus"]])]}).to_pickle(tmp_path / "bad.pkl")
    with pytest.raises(SynthclError, match="'Bogus'"):
        load_dataset(tmp_path / "bad.pkl", allow_pickle=True)
