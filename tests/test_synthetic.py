"""SyntheticSet: pure per-image draws, vectorised batches, DataLoader workers, on-disk cache."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from synthcl.errors import SynthclError
from synthcl.generators import GPNN, RandomCrop, build_generator
from synthcl.synthetic.sets import SyntheticSet, synthesize
from synthcl.utils.seeding import make_generator


def sources(n: int = 3, channels: int = 1, size: int = 24) -> torch.Tensor:
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))


def test_image_is_the_generator_applied_with_its_own_seed():
    src, gen = sources(), RandomCrop(4)
    dataset = SyntheticSet(src, gen, m=5, seed=3)
    assert len(dataset) == 15
    i, copy = 2, 4
    expected = gen.apply(src[i:i + 1], gen.draw(1, 1, 24, 24, make_generator(3, i, copy)))
    assert torch.equal(dataset[i * 5 + copy], expected[0])
    assert torch.equal(dataset[-1], dataset[14])


def test_batches_equal_single_items_in_any_order_and_across_instances():
    src = sources(channels=3)
    dataset = SyntheticSet(src, build_generator("patchshuffle", d=3), m=4, seed=1)
    order = [7, 0, 11, 3, 7]
    batch = dataset.batch(torch.tensor(order))
    assert torch.equal(batch, torch.stack([dataset[k] for k in order]))
    again = SyntheticSet(src.clone(), build_generator("patchshuffle", d=3), m=4, seed=1)
    assert torch.equal(batch, again.batch(order))
    other_seed = SyntheticSet(src, build_generator("patchshuffle", d=3), m=4, seed=2)
    assert not torch.equal(batch, other_seed.batch(order))
    copies = dataset.batch(range(4))                       # the 4 copies of source 0 differ
    assert len({bytes(c.numpy()) for c in copies}) == 4


def test_index_and_argument_errors():
    dataset = SyntheticSet(sources(), RandomCrop(2), m=2, seed=0)
    with pytest.raises(IndexError):
        dataset[6]
    with pytest.raises(IndexError):
        dataset.batch([0, 6])
    with pytest.raises(SynthclError, match="too large"):
        SyntheticSet(sources(size=8), RandomCrop(9), m=2, seed=0)
    with pytest.raises(SynthclError, match="M >= 1"):
        SyntheticSet(sources(), RandomCrop(2), m=0, seed=0)


def small_gpnn() -> GPNN:
    return GPNN(iters=2)


def test_dataloader_workers_give_the_same_bytes(tmp_path):
    for gen in (RandomCrop(4), small_gpnn()):
        dataset = SyntheticSet(sources(n=2), gen, m=4, seed=5, cache_dir=tmp_path, device="cpu")
        single = torch.stack([dataset[k] for k in range(len(dataset))])
        loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2)
        assert torch.equal(torch.cat(list(loader)), single)


def test_costly_sets_are_cached_once_and_reused(tmp_path, monkeypatch):
    src = sources(n=3, size=20)
    first = SyntheticSet(src, small_gpnn(), m=3, seed=0, cache_dir=tmp_path, device="cpu")
    files = sorted(p.name for p in first.cache.iterdir())
    assert files == ["meta.json", "source000000.npy", "source000001.npy", "source000002.npy"]
    assert not list(tmp_path.rglob("*.tmp"))
    images = first.batch(range(9))
    assert torch.equal(images[4], synthesize(src, small_gpnn(), 0, torch.tensor([1]),
                                             torch.tensor([1]))[0])

    calls = []
    original = GPNN.apply
    monkeypatch.setattr(GPNN, "apply", lambda self, x, d: calls.append(len(x)) or original(
        self, x, d))
    reused = SyntheticSet(src, small_gpnn(), m=3, seed=0, cache_dir=tmp_path, device="cpu")
    assert calls == [] and torch.equal(reused.batch(range(9)), images)

    (first.cache / "source000001.npy").unlink()            # an interrupted run resumes
    resumed = SyntheticSet(src, small_gpnn(), m=3, seed=0, cache_dir=tmp_path, device="cpu")
    assert calls == [3] and torch.equal(resumed.batch(range(9)), images)

    for changed in (dict(m=4, seed=0), dict(m=3, seed=1)):
        other = SyntheticSet(src, small_gpnn(), cache_dir=tmp_path, device="cpu", **changed)
        assert other.cache != first.cache
    assert SyntheticSet(src, GPNN(iters=3), m=3, seed=0, cache_dir=tmp_path,
                        device="cpu").cache != first.cache
    assert SyntheticSet(src.flip(0), small_gpnn(), m=3, seed=0, cache_dir=tmp_path,
                        device="cpu").cache != first.cache


def test_a_damaged_cache_file_is_discarded_and_made_again(tmp_path):
    dataset = SyntheticSet(sources(n=1, size=20), small_gpnn(), m=2, seed=0, cache_dir=tmp_path,
                           device="cpu")
    expected = dataset.batch([0, 1])
    file = dataset.cache / "source000000.npy"
    np.save(file, np.zeros((1, 2, 3), np.uint8))                    # wrong shape
    fresh = SyntheticSet(sources(n=1, size=20), small_gpnn(), m=2, seed=0, cache_dir=tmp_path,
                         device="cpu")
    assert torch.equal(fresh.batch([0, 1]), expected)
    file.write_bytes(file.read_bytes()[:-50])                       # truncated after opening
    in_worker = pickle.loads(pickle.dumps(fresh))                   # as a DataLoader worker
    assert torch.equal(in_worker.batch([0, 1]), expected)


def test_mix_with_a_costly_generator_is_cached(tmp_path):
    gen = build_generator("mix:randomcrop+gpnn", d=4, iters=2)
    dataset = SyntheticSet(sources(n=2, size=20), gen, m=4, seed=0, cache_dir=tmp_path,
                           device="cpu")
    assert dataset.cache is not None and dataset.cache.name.startswith("mix-randomcrop+gpnn-")
    assert dataset.batch(range(8)).shape == (8, 1, 20, 20)


def test_cache_filled_in_chunks_equals_direct_generation(tmp_path, monkeypatch):
    import synthcl.synthetic.sets as synthetic

    monkeypatch.setattr(synthetic, "CACHE_CHUNK", 2)
    src = sources(n=2, size=20)
    dataset = SyntheticSet(src, small_gpnn(), m=5, seed=4, cache_dir=tmp_path, device="cpu")
    pairs = torch.tensor([[1, 0], [1, 3], [0, 4]])
    direct = synthesize(src, small_gpnn(), 4, pairs[:, 0], pairs[:, 1])
    assert torch.equal(dataset.batch(pairs[:, 0] * 5 + pairs[:, 1]), direct)
