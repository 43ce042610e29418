"""The bad-input corpus: every command, every data format, one hostile input at a time.

Each case runs ``synthcl`` in this process and asserts the promises of docs/promises.md: exit
status 2 (a user error), one error line naming the input and a fix, no traceback, no ``--out``
left behind, nothing outside ``--out`` changed (the data and the current folder are
snapshotted), and no marker-pickle or marker-``torch.save`` object ever unpickled. Every file is
built here; nothing is committed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from bad_inputs_kit import (
    Evil,
    assert_refused,
    evil_pickle,
    image_folder,
    manifest,
    npz,
    png,
    run_cli,
    snapshot,
    wafer_pickle,
)

# ------------------------------------------------------------------ the hostile datasets


def _bad_data(root: Path, marker: Path) -> dict[str, tuple[str, list[str], tuple[str, ...]]]:
    """name -> (--data path, extra data options, words the error line must hold)."""
    cases: dict[str, tuple[str, list[str], tuple[str, ...]]] = {}

    def add(name, path, extra=(), names=None):
        cases[name] = (str(path), list(extra), names or (Path(path).name,))

    add("missing-path", root / "no-such-folder")
    (root / "garbage.npz").write_bytes(b"\x72\xa6\xff\x4c\xd0\x12\x65\x86")
    add("npz-garbage", root / "garbage.npz")
    npz_ok = npz(root / "good.npz")
    (root / "truncated.npz").write_bytes(npz_ok.read_bytes()[:300])
    add("npz-truncated", root / "truncated.npz")
    np.savez(root / "noarrays.npz", x=np.zeros(3))
    add("npz-missing-arrays", root / "noarrays.npz")
    labels = (np.arange(16) % 2).reshape(16, 1)
    labels[3] = 7
    add("npz-label-out-of-range", npz(root / "label7.npz", train_labels=labels))
    add("npz-splits-differ-in-size", npz(root / "sizes.npz", test_images=np.zeros(
        (4, 6, 6), np.uint8)), names=("size",))
    add("npz-float-images", npz(root / "float.npz", train_images=np.zeros((16, 8, 8))))
    add("npz-multilabel", npz(root / "multi.npz", train_labels=np.zeros((16, 3), np.int64)))
    add("npz-3d-images", npz(root / "vol.npz", train_images=np.zeros((16, 4, 8, 8), np.uint8)))
    add("npz-negative-label", npz(root / "neg.npz", test_labels=-np.ones((4, 1), np.int64)))
    add("npz-one-class", npz(root / "oneclass.npz", classes=1), names=("class",))
    obj = np.empty(2, dtype=object)
    obj[:] = [Evil(marker), 1]
    np.savez(root / "pickled.npz", train_images=obj, train_labels=obj, val_images=obj,
             val_labels=obj, test_images=obj, test_labels=obj)
    add("npz-holding-a-pickle", root / "pickled.npz")
    add("pkl-without-allow-pickle", evil_pickle(root / "LSWMD.pkl", marker),
        names=("LSWMD.pkl",))
    (root / "pkl-folder").mkdir()
    evil_pickle(root / "pkl-folder" / "data.pickle", marker)
    add("pickle-in-a-folder", root / "pkl-folder", names=("data.pickle",))
    add("wafer-unknown-failure-type", wafer_pickle(root / "badwafer.pkl", bad_label="Blob"),
        ["--allow-pickle"], names=("Blob",))
    (root / "garbage.h5").write_bytes(b"not hdf5 at all")
    add("h5-garbage", root / "garbage.h5")
    h5_dir = root / "pcam-h5-partial"
    h5_dir.mkdir()
    (h5_dir / "camelyonpatch_level_2_split_train_x.h5").write_bytes(b"x")
    add("h5-missing-split-files", h5_dir, names=("pcam-h5-partial", "camelyonpatch"))
    pcam = root / "pcam-folder"
    for split in ("train", "valid", "test"):
        for c in ("0", "1"):
            png(pcam / split / c / "ok.png", seed=1)
    (pcam / "train" / "0" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    add("pcam-folder-corrupt-jpeg", pcam, ["--format", "pcam-folder"], names=("broken.jpg",))
    (root / "empty").mkdir()
    add("folder-empty", root / "empty")
    add("folder-one-class", image_folder(root / "oneclass", classes=("only",)),
        names=("only", "class"))
    sizes = image_folder(root / "sizes")
    png(sizes / "a" / "big.png", size=12)
    add("folder-image-sizes-differ", sizes, names=("big.png",))
    corrupt = image_folder(root / "corrupt")
    (corrupt / "b" / "zz.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    add("folder-corrupt-png", corrupt, names=("zz.png",))
    loose = root / "loose"
    for i in range(4):
        png(loose / f"x{i}.png")
    add("folder-images-only-at-top", loose, ["--format", "folder"], names=("loose",))
    mixed = image_folder(root / "mixed" / "train")
    image_folder(root / "mixed" / "extra")
    add("folder-mixes-split-and-class-folders", mixed.parent, ["--format", "folder"],
        names=("mixed",))
    masks = root / "masks-only"
    for c in ("a", "b"):
        for i in range(3):
            png(masks / c / f"x{i}_mask.png")
    add("folder-only-masks", masks, ["--format", "folder"], names=("masks-only",))
    mdir = root / "manifests"
    image_folder(mdir / "images")
    add("manifest-missing-columns", manifest(mdir / "cols.csv", [{"name": "x", "kind": "a"}]),
        names=("cols.csv",))
    add("manifest-path-outside", manifest(mdir / "escape.csv", [
        {"file": "../../../../../../etc/passwd", "label": "a"},
        {"file": "images/a/a0.png", "label": "b"}]), names=("escape.csv",))
    add("manifest-missing-image", manifest(mdir / "gone.csv", [
        {"file": "images/a/nope.png", "label": "a"},
        {"file": "images/b/b0.png", "label": "b"}]), names=("nope.png",))
    add("manifest-json-not-records", manifest(mdir / "scalar.json", [1, 2], "json"),
        names=("scalar.json",))
    add("manifest-bad-split", manifest(mdir / "split.csv", [
        {"file": "images/a/a0.png", "label": "a", "split": "holdout"},
        {"file": "images/b/b0.png", "label": "b", "split": "train"}]), names=("holdout",))
    (mdir / "latin1.csv").write_bytes("file,label\nimages/a/\xe9.png,a\n".encode("latin-1"))
    add("manifest-not-utf8", mdir / "latin1.csv")
    add("manifest-empty-label", manifest(mdir / "nolabel.csv", [
        {"file": "images/a/a0.png", "label": ""}]), names=("nolabel.csv",))
    with gzip.open(root / "data.npz.gz", "wb") as fh:
        fh.write(npz_ok.read_bytes())
    add("gzipped", root / "data.npz.gz")
    add("single-image", png(root / "lonely.png"))
    (root / "notes.txt").write_text("hello")
    add("unknown-extension", root / "notes.txt")
    add("format-mismatch", npz_ok, ["--format", "pcam-folder"], names=("good.npz",))
    add("format-embedded-with-path", npz_ok, ["--format", "elpv"], names=("elpv",))
    add("image-size-garbage", npz_ok, ["--image-size", "big"], names=("--image-size",))
    add("image-size-zero", npz_ok, ["--image-size", "0"], names=("--image-size",))
    return cases


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    marker = root / "MARKER-code-ran"
    data = root / "data"
    data.mkdir()
    return {"root": root, "marker": marker, "data": data, "bad": _bad_data(data, marker),
            "good": str(npz(data / "good.npz"))}


BAD_DATA = [          # the keys of _bad_data, listed here for the test ids
    "missing-path", "npz-garbage", "npz-truncated", "npz-missing-arrays",
    "npz-label-out-of-range", "npz-splits-differ-in-size", "npz-float-images", "npz-multilabel",
    "npz-3d-images", "npz-negative-label", "npz-one-class", "npz-holding-a-pickle",
    "pkl-without-allow-pickle", "pickle-in-a-folder", "wafer-unknown-failure-type",
    "h5-garbage", "h5-missing-split-files", "pcam-folder-corrupt-jpeg", "folder-empty",
    "folder-one-class", "folder-image-sizes-differ", "folder-corrupt-png",
    "folder-images-only-at-top", "folder-mixes-split-and-class-folders", "folder-only-masks",
    "manifest-missing-columns", "manifest-path-outside", "manifest-missing-image",
    "manifest-json-not-records", "manifest-bad-split", "manifest-not-utf8",
    "manifest-empty-label", "gzipped", "single-image", "unknown-extension", "format-mismatch",
    "format-embedded-with-path", "image-size-garbage", "image-size-zero"]

# ------------------------------------------------------------------ the commands reading data

TINY = {
    "info": lambda out: [],
    "generate": lambda out: ["--n", "2", "--m", "1", "--device", "cpu", "--out", out],
    "preview": lambda out: ["--rows", "1", "--m", "1", "--device", "cpu", "--out",
                            f"{out}.png"],
    "pretrain": lambda out: ["--mode", "cl-real", "--n", "4", "--width", "4", "--steps", "1",
                             "--batch-size", "2", "--device", "cpu", "--out", out,
                             "--set", "queue_size=4"],
    "finetune": lambda out: ["--n", "4", "--epochs", "1", "--no-grid", "--no-probes", "--lr",
                             "0.01", "--batch-size", "2", "--width", "4", "--device", "cpu",
                             "--out", out],
    "compare": lambda out: ["--n", "4", "--budget", "10s", "--seeds", "1", "--steps", "1",
                            "--width", "4", "--workers", "1", "--device", "cpu", "--out", out],
}


@pytest.fixture
def sandbox(corpus, tmp_path, monkeypatch):
    """An empty current folder and home; returns a function checking nothing changed there or
    in the corpus, and that no marker object ran."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = snapshot(corpus["data"], cwd)

    def unchanged(*outs: Path) -> None:
        assert not corpus["marker"].exists(), "a pickle or torch.save object was executed"
        for out in outs:
            assert not Path(out).exists() and not Path(f"{out}.png").exists(), out
        assert snapshot(corpus["data"], cwd) == before

    return unchanged


@pytest.mark.parametrize("command", list(TINY))
@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_is_refused_by_every_reading_command(command, case, corpus, sandbox, tmp_path,
                                                      capsys):
    path, extra, names = corpus["bad"][case]
    out = tmp_path / "out"
    status, err = run_cli([command, "--data", path, *extra, *TINY[command](str(out))], capsys)
    assert_refused(status, err, names)
    sandbox(out)
