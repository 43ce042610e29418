"""Synthetic sets: M synthetic images per source image, each a pure function of its seed.

Image ``index = i * m + copy`` of a :class:`SyntheticSet` is ``f_S(source i)`` with the random
parameters drawn from ``make_generator(seed, i, copy)`` (:mod:`synthcl.utils.seeding`): the same
bytes in every process, epoch and worker, whatever batch it is requested in. A batch draws each
image's parameters separately (cheap), concatenates them and applies the generator once,
vectorised over the batch.

Storage: cheap generators (PatchShuffle, RandomCrop) store nothing; images are made on the fly.
Costly ones (``generator.costly``: GPNN and mixtures containing it) are generated once into an
on-disk cache and read back from it:

* location: ``cache_dir`` or ``$SYNTHCL_CACHE`` or ``~/.cache/synthcl``, sub-folder
  ``synthetic/<generator name>-<key>``, where the key hashes the generator's name and parameters,
  the sha256 of the source bytes, the seed and M; ``meta.json`` records them in clear;
* one ``.npy`` file per source holding its M copies, written atomically as soon as that source is
  done, so an interrupted run resumes at the next source and finished sources are reused by later
  runs (up to 256 copies of a source are generated together: GPNN shares their keys and values);
* read through memory maps opened lazily in each process, so the set pickles cheaply into
  ``DataLoader`` workers;
* a damaged entry (truncated, wrong shape or type, not an .npy file) is discarded and made
  again; cache files are never unpickled.

A cached GPNN image is computed once, on the device given at construction; CPU and CUDA results
agree only up to float rounding, so the cache (not recomputation) defines the bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from synthcl.data.sources.cache import default_cache_dir
from synthcl.errors import SynthclError
from synthcl.generators.base import SyntheticGenerator, check_images
from synthcl.utils.atomic import atomic_path, write_json
from synthcl.utils.devices import resolve_device
from synthcl.utils.progress import progress
from synthcl.utils.seeding import make_generator

CACHE_CHUNK = 256          # copies of one source generated together when filling the cache
Indices = torch.Tensor | Sequence[int] | range | np.ndarray


def synthesize(sources: torch.Tensor, generator: SyntheticGenerator, seed: int,
               source_index: torch.Tensor, copy: torch.Tensor,
               device: torch.device | str | None = None) -> torch.Tensor:
    """Images (B, C, H, W) for the pairs (source_index[b], copy[b]), computed now (no cache)."""
    _, c, h, w = sources.shape
    per_image = [generator.draw(1, c, h, w, make_generator(seed, int(i), int(k)))
                 for i, k in zip(source_index.tolist(), copy.tolist(), strict=True)]
    draws = {key: torch.cat([d[key] for d in per_image]) for key in per_image[0]}
    images = sources[source_index].to(device if device is not None else sources.device)
    return generator.apply(images, draws)


class SyntheticSet(torch.utils.data.Dataset):
    """``len(sources) * m`` synthetic images; item ``i * m + copy`` is copy ``copy`` of source i.

    ``sources`` is uint8 (n, C, H, W). ``device`` is where costly generators fill the cache
    (default: CUDA when available, else CPU); cheap ones run on the device ``batch`` is asked for.
    """

    def __init__(self, sources: torch.Tensor, generator: SyntheticGenerator, m: int, seed: int,
                 cache_dir: str | os.PathLike | None = None,
                 device: torch.device | str | None = None) -> None:
        check_images(sources)
        if len(sources) == 0 or m < 1:
            raise SynthclError(f"a synthetic set needs at least one source image and M >= 1 "
                               f"(got {len(sources)} sources, M={m})")
        generator.check_size(*sources.shape[2:])
        self.sources = sources.detach().cpu().contiguous()
        self.generator = generator
        self.m = int(m)
        self.seed = int(seed)
        self.cache: Path | None = None
        self._maps: dict[int, np.ndarray] = {}
        self._device = resolve_device("auto" if device is None else str(device))
        if generator.costly:
            self.cache = self._cache_folder(cache_dir)
            self._fill_cache()

    def __len__(self) -> int:
        return len(self.sources) * self.m

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -len(self) <= index < len(self):
            raise IndexError(f"synthetic image {index} out of range for {len(self)} images")
        return self.batch([index % len(self)])[0]

    def batch(self, indices: Indices, device: torch.device | str | None = None) -> torch.Tensor:
        """Images (B, C, H, W) uint8 for ``indices``, on ``device`` (default CPU)."""
        if isinstance(indices, torch.Tensor):
            index = indices.detach().to("cpu", torch.int64).reshape(-1)
        else:
            index = torch.as_tensor(np.asarray(indices), dtype=torch.int64).reshape(-1)
        if len(index) and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"synthetic image indices must lie in [0, {len(self)})")
        source, copy = index // self.m, index % self.m
        if self.cache is None:
            if len(index) == 0:
                return self.sources[:0].to(device)
            return synthesize(self.sources, self.generator, self.seed, source, copy,
                              device if device is not None else "cpu")
        rows = [self._cached(i)[k] for i, k in zip(source.tolist(), copy.tolist(), strict=True)]
        stacked = np.stack(rows) if rows else np.empty((0, *self.sources.shape[1:]), np.uint8)
        return torch.from_numpy(stacked).to(device if device is not None else "cpu")

    def key(self) -> dict:
        """What identifies the set's images (hashed into the cache folder name)."""
        digest = hashlib.sha256(self.sources.numpy().tobytes()).hexdigest()
        return {"generator": self.generator.spec(), "sources_sha256": digest,
                "sources_shape": list(self.sources.shape), "seed": self.seed, "m": self.m}

    def _cache_folder(self, cache_dir: str | os.PathLike | None) -> Path:
        key = self.key()
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        folder = root / "synthetic" / f"{self.generator.name.replace(':', '-')}-{digest}"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "meta.json").exists():
            write_json(folder / "meta.json", key)
        return folder

    def _file(self, i: int) -> Path:
        assert self.cache is not None
        return self.cache / f"source{i:06d}.npy"

    def _fill_cache(self) -> None:
        missing = [i for i in range(len(self.sources)) if self._open(i) is None]
        for i in progress(missing, desc=f"{self.generator.name}: caching synthetic images",
                          unit="source"):
            self._fill(i)

    def _fill(self, i: int) -> None:
        with atomic_path(self._file(i)) as tmp:
            stored = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                               shape=(self.m, *self.sources.shape[1:]))
            for copies in torch.arange(self.m).split(CACHE_CHUNK):
                stored[copies[0]:copies[-1] + 1] = synthesize(
                    self.sources, self.generator, self.seed,
                    torch.full((len(copies),), i), copies, self._device).cpu().numpy()
            stored.flush()
            del stored

    def _open(self, i: int) -> np.ndarray | None:
        """The memory map of source ``i``'s copies; None when absent or damaged (truncated,
        wrong shape or type, not an .npy file: a damaged entry is then made again). A cache
        file is read without unpickling."""
        try:
            array = np.load(self._file(i), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if array.shape != (self.m, *self.sources.shape[1:]) or array.dtype != np.uint8:
            return None
        return array

    def _cached(self, i: int) -> np.ndarray:
        if i not in self._maps:
            array = self._open(i)
            if array is None:              # damaged since the set was made: make it again
                self._fill(i)
                array = self._open(i)
            if array is None:
                raise SynthclError(f"synthetic-image cache file {self._file(i)} cannot be "
                                   f"read back after writing it; check the disk, or set "
                                   f"--cache-dir to another folder")
            self._maps[i] = array
        return self._maps[i]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_maps"] = {}
        return state
