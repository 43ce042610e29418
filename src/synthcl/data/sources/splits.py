"""Split names, and the seeded stratified split for datasets without an official test split.

The rule (also written into ``ImageData.split_note``): within every class, a seeded random 20%
of the images (rounded to the nearest whole image, halves up, and at least one for a class of
two or more) goes to ``test`` and the rest to ``train``. No validation split is carved out:
the paper's protocol takes its validation half from the N sampled training images. When a
dataset has an official ``val`` split but no ``test``, ``val`` is kept and ``test`` is cut from
``train`` by the same rule. The draw is a pure function of ``split_seed`` and the labels.
"""

from __future__ import annotations

import numpy as np

from synthcl.data.types import SPLITS, Split
from synthcl.errors import SynthclError

TEST_FRACTION = 0.2

_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
            "validation": "val", "dev": "val", "test": "test", "testing": "test"}


def split_name(name: str) -> str | None:
    """The canonical split for a folder or manifest value (e.g. 'valid' -> 'val'), else None."""
    return _ALIASES.get(str(name).strip().lower())


def split_aliases() -> str:
    return ", ".join(_ALIASES)


def stratified_test_indices(labels: np.ndarray, seed: int) -> np.ndarray:
    """Sorted indices of the test part under the module's rule."""
    from synthcl.utils.seeding import derive_seed  # imports torch: keep `synthcl --help` quick

    rng = np.random.Generator(np.random.PCG64(derive_seed("synthcl-test-split", seed)))
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = int(TEST_FRACTION * len(members) + 0.5)
        if len(members) >= 2:
            count = max(1, count)
        chosen.append(rng.permutation(members)[:count])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def seeded_note(seed: int, kept: str = "") -> str:
    kept_text = f"{kept}; " if kept else ""
    return (f"{kept_text}no official test split: seeded stratified split (split_seed={seed}), "
            f"{TEST_FRACTION:.0%} of each class to test (at least 1 per class of 2+ images), "
            f"the rest to train" + ("" if kept else "; val empty"))


def carve_test(train: Split, seed: int) -> tuple[Split, Split]:
    """(train, test) cut from one split by the stratified rule."""
    test_idx = stratified_test_indices(train.labels, seed)
    keep = np.ones(len(train), dtype=bool)
    keep[test_idx] = False
    return train.subset(np.flatnonzero(keep)), train.subset(test_idx)


def empty_like(split: Split) -> Split:
    return Split(split.images[:0], split.labels[:0])


def complete_splits(splits: dict[str, Split], seed: int, official: str,
                    source: object) -> tuple[dict[str, Split], str]:
    """Fill in a missing ``test`` (and ``val``) split; returns the splits and the split note.

    ``official`` describes where the given splits came from, e.g. "official splits (folders)".
    """
    if "train" not in splits or len(splits["train"]) == 0:
        raise SynthclError(f"{source}: no training images (found splits: "
                           f"{', '.join(s for s in splits if len(splits[s])) or 'none'})")
    splits = dict(splits)
    if "test" in splits and len(splits["test"]):
        note = official
    else:
        splits["train"], splits["test"] = carve_test(splits["train"], seed)
        has_val = "val" in splits and len(splits["val"])
        note = seeded_note(seed, kept=f"val from {official}" if has_val else "")
    splits.setdefault("val", empty_like(splits["train"]))
    return {name: splits[name] for name in SPLITS}, note
