"""The real datasets in ../shared/data and the embedded elpv set load as documented."""

from __future__ import annotations

import time

import numpy as np
import pytest

from synthcl.data import load_dataset, sample_balanced
from synthcl.data.sources import elpv
from synthcl.data.sources.images import read_image

pytestmark = pytest.mark.shared_data


@pytest.fixture(autouse=True)
def _module_cache(tmp_path_factory, monkeypatch):
    """One private cache for this module: each set is decoded once, then read from the cache."""
    cache = tmp_path_factory.getbasetemp() / "real-data-cache"
    monkeypatch.setenv("SYNTHCL_CACHE", str(cache))


def _counts(data):
    return {s: data.splits[s].class_counts(data.num_classes).tolist() for s in data.splits}


def test_pneumoniamnist(pneumonia_npz):
    data = load_dataset(pneumonia_npz.parent)
    assert data.format == "medmnist" and data.modality == "xray"
    assert data.class_names == ("normal", "pneumonia") and data.image_shape == (28, 28, 1)
    assert _counts(data) == {"train": [1213, 3477], "val": [135, 389], "test": [234, 387]}


def test_pcam_folder_and_its_cache(pcam_dir):
    start = time.perf_counter()
    data = load_dataset(pcam_dir)
    first = time.perf_counter() - start
    assert data.format == "pcam-folder" and data.class_names == ("normal", "tumor")
    assert data.image_shape == (96, 96, 3) and data.modality == "histology"
    assert _counts(data) == {"train": [2500, 2500], "val": [250, 250], "test": [1500, 1500]}
    start = time.perf_counter()
    again = load_dataset(pcam_dir)
    second = time.perf_counter() - start
    np.testing.assert_array_equal(again.splits["test"].images, data.splits["test"].images)
    assert second < first
    sample = sample_balanced(data.splits["train"], 400, seed=0, class_names=data.class_names)
    assert sample.train.class_counts(2).tolist() == [100, 100]


def test_infrared_solar_modules_manifest(solar_json):
    data = load_dataset(solar_json.parent)
    assert data.format == "manifest" and data.modality == "thermal"
    assert data.image_shape == (40, 24, 1) and data.num_classes == 12
    totals = {name: int(sum(c[k] for c in _counts(data).values()))
              for k, name in enumerate(data.class_names)}
    assert totals["No-Anomaly"] == 10000 and totals["Diode-Multi"] == 175
    assert sum(totals.values()) == 20000
    assert len(data.splits["test"]) == 4000 and len(data.splits["val"]) == 0
    assert "seeded stratified" in data.split_note


def test_dr_mini_folder_resized(dr_dir):
    data = load_dataset(dr_dir, image_size=64)
    assert data.format == "folder" and data.modality == "retina"
    assert data.class_names == ("Mild", "Moderate", "No_DR", "Proliferate", "Severe")
    assert data.image_shape == (64, 64, 3)
    assert _counts(data)["train"] == [8] * 5 and _counts(data)["test"] == [2] * 5


def test_embedded_elpv():
    data = load_dataset(None, image_size=64)              # None: the embedded default
    assert data.format == "elpv" and data.modality == "electroluminescence"
    assert data.class_names == ("p=0.00", "p=0.33", "p=0.67", "p=1.00")
    assert data.image_shape == (64, 64, 1)
    totals = np.sum([data.splits[s].class_counts(4) for s in data.splits], axis=0)
    assert totals.tolist() == [1508, 295, 106, 715]
    native = read_image(elpv.labels_file().parent / "images" / "cell0001.png")
    assert native.shape == (300, 300) and native.dtype == np.uint8
