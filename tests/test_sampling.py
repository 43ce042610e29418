"""Class-balanced choice of N labelled images, half train / half validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthcl.data import Split, sample_balanced
from synthcl.errors import SynthclError

NAMES = ("normal", "benign", "tumour")


def _split(counts, seed=0):
    labels = np.concatenate([np.full(c, k) for k, c in enumerate(counts)]).astype(np.int64)
    labels = np.random.default_rng(seed).permutation(labels)
    images = np.arange(len(labels), dtype=np.int64).astype(np.uint8)[:, None, None, None]
    images = np.broadcast_to(images, (len(labels), 2, 2, 1)).copy()
    return Split(images, labels)


def test_balanced_disjoint_halves_indexing_the_source():
    split = _split((30, 12, 50))
    sample = sample_balanced(split, 24, seed=3, class_names=NAMES)
    assert len(sample.train) == len(sample.val) == 12
    assert sample.train.class_counts(3).tolist() == [4, 4, 4]
    assert sample.val.class_counts(3).tolist() == [4, 4, 4]
    assert not set(sample.train_indices) & set(sample.val_indices)
    np.testing.assert_array_equal(sample.train.labels, split.labels[sample.train_indices])
    np.testing.assert_array_equal(sample.val.images, split.images[sample.val_indices])
    assert len(sample.all) == 24
    np.testing.assert_array_equal(sample.all.labels,
                                  np.concatenate([sample.train.labels, sample.val.labels]))


def test_same_seed_same_images_other_seed_other_images():
    split = _split((40, 40, 40))
    a = sample_balanced(split, 12, seed=7, class_names=NAMES)
    b = sample_balanced(split, 12, seed=7, class_names=NAMES)
    c = sample_balanced(split, 12, seed=8, class_names=NAMES)
    np.testing.assert_array_equal(a.train_indices, b.train_indices)
    np.testing.assert_array_equal(a.val_indices, b.val_indices)
    assert not np.array_equal(np.sort(np.r_[a.train_indices, a.val_indices]),
                              np.sort(np.r_[c.train_indices, c.val_indices]))


def test_a_class_can_give_all_its_images():
    split = _split((6, 10, 10))
    sample = sample_balanced(split, 18, seed=0, class_names=NAMES)
    chosen = np.r_[sample.train_indices, sample.val_indices]
    assert set(np.flatnonzero(split.labels == 0)) <= set(chosen)


def test_too_large_n_names_the_class_and_its_count():
    split = _split((30, 5, 50))
    with pytest.raises(SynthclError, match=r"N=30 needs 10 .*'benign' has 5.*N <= 12"):
        sample_balanced(split, 30, seed=0, class_names=NAMES)


@pytest.mark.parametrize("n, suggestion", [(31, "N=30"), (15, "N=18"), (1, "N=6")])
def test_uneven_n_is_an_error_with_a_valid_suggestion(n, suggestion):
    with pytest.raises(SynthclError, match=rf"N={n} cannot be split evenly.*{suggestion}"):
        sample_balanced(_split((40, 40, 40)), n, seed=0, class_names=NAMES)


@pytest.mark.parametrize("n", [0, -6])
def test_non_positive_n_is_an_error(n):
    with pytest.raises(SynthclError, match="must be positive"):
        sample_balanced(_split((4, 4, 4)), n, seed=0, class_names=NAMES)


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(0, 30), min_size=2, max_size=6),
       per_class_half=st.integers(1, 8), seed=st.integers(0, 2**32))
def test_balance_invariants(counts, per_class_half, seed):
    k, per_class = len(counts), 2 * per_class_half
    names = tuple(f"c{i}" for i in range(k))
    split = _split(counts, seed=1)
    if min(counts) < per_class:
        with pytest.raises(SynthclError, match="needs"):
            sample_balanced(split, per_class * k, seed, names)
        return
    sample = sample_balanced(split, per_class * k, seed, names)
    for half in (sample.train, sample.val):
        assert half.class_counts(k).tolist() == [per_class_half] * k
    everything = np.r_[sample.train_indices, sample.val_indices]
    assert len(np.unique(everything)) == per_class * k
    assert np.all(np.diff(sample.train_indices) > 0) and np.all(np.diff(sample.val_indices) > 0)
