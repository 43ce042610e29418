"""Image files and arrays to uint8 (n, H, W, C): decoding (threaded for big files), resizing.

Channels: grayscale files stay 1-channel, colour files 3-channel. Palette and CMYK/YCbCr images
become RGB; transparency is composited onto black; 16-bit grayscale is scaled to 8 bits. A set
that mixes grayscale and colour files becomes 3-channel (grey replicated). Photos are resized
with Pillow's bilinear filter, which is antialiased when shrinking; label-like maps (wafer
dies) with nearest neighbour (:func:`resize_nearest`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from synthcl.errors import SynthclError
from synthcl.utils.progress import progress

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
THREADS_FROM_BYTES = 16_384        # mean file size from which decoding uses a thread pool


def worker_count() -> int:
    """Threads for decoding: Pillow releases the GIL while it decodes, so threads scale."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


def decode_workers(paths: Sequence[str | Path]) -> int:
    """Threads pay off only for files big enough that decoding outweighs Python's per-file
    work (measured: 600-byte JPEGs decode slower on 2 threads than on one, 33 kB PNGs faster);
    decide from the mean size of up to 32 evenly spaced files."""
    if len(paths) < 64:
        return 1
    sample = paths[:: max(1, len(paths) // 32)]
    mean = sum(os.path.getsize(p) for p in sample) / len(sample)
    return worker_count() if mean >= THREADS_FROM_BYTES else 1


def _to_l_or_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in _SIXTEEN_BIT:
        values = np.asarray(image, dtype=np.int64)
        return Image.fromarray((np.clip(values, 0, 65535) / 257.0).round().astype(np.uint8))
    if mode in ("LA", "La", "RGBA", "RGBa", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        flat = Image.alpha_composite(black, rgba).convert("RGB")
        return flat.convert("L") if mode in ("LA", "La") else flat
    if mode in ("P", "CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    raise ValueError(f"pixel mode {mode} is not supported; save it as 8-bit grayscale or RGB")


def read_image(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """One file as uint8 (H, W) or (H, W, 3), resized to ``size`` = (width, height) if given."""
    try:
        with Image.open(path) as image:
            image = _to_l_or_rgb(image)
            if size is not None and image.size != size:
                image = image.resize(size, Image.Resampling.BILINEAR)
            return np.asarray(image)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise SynthclError(f"cannot read image {path}: {exc}; remove or replace that file") from exc


def _size_text(array: np.ndarray) -> str:
    return f"{array.shape[1]}x{array.shape[0]}"


def stack_images(arrays: Iterable[np.ndarray], paths: Sequence[str | Path],
                 total: int) -> np.ndarray:
    """Stack (H, W) / (H, W, 3) arrays, in order, into (n, H, W, C); sizes must agree."""
    out: np.ndarray | None = None
    for i, array in enumerate(arrays):
        if array.ndim == 2:
            array = array[..., None]
        if out is None:
            out = np.empty((total, *array.shape), dtype=np.uint8)
        elif array.shape[:2] != out.shape[1:3]:
            raise SynthclError(
                f"images differ in size: {paths[0]} is {_size_text(out[0])} but {paths[i]} is "
                f"{_size_text(array)} (width x height); pass --image-size WxH (e.g. "
                f"--image-size {_size_text(out[0])}) to resize every image at load")
        elif array.shape[2] > out.shape[3]:
            out = np.repeat(out, 3, axis=3)
        out[i] = array
    if out is None:
        raise SynthclError("no images to load")
    return out


def decode_files(paths: Sequence[str | Path], size: tuple[int, int] | None = None,
                 desc: str = "decoding images") -> np.ndarray:
    """Decode ``paths`` (on a thread pool when the files are big) into uint8 (n, H, W, C)."""
    def read(path: str | Path) -> np.ndarray:
        return read_image(path, size)

    workers = decode_workers(paths)
    if workers == 1:
        bar = progress(map(read, paths), total=len(paths), desc=desc, unit="img")
        return stack_images(bar, paths, len(paths))
    pool = ThreadPoolExecutor(workers)
    try:
        bar = progress(pool.map(read, paths), total=len(paths), desc=desc, unit="img")
        return stack_images(bar, paths, len(paths))
    finally:
        pool.shutdown(cancel_futures=True)


def resize_array(images: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Resize uint8 (n, H, W, C) images to ``size`` = (width, height), bilinear/antialiased."""
    if size is None or len(images) == 0 or images.shape[2:0:-1] == size:
        return images

    def resize(image: np.ndarray) -> np.ndarray:
        pil = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
        return np.asarray(pil.resize(size, Image.Resampling.BILINEAR)).reshape(
            size[1], size[0], image.shape[2])

    out = np.empty((len(images), size[1], size[0], images.shape[3]), dtype=np.uint8)
    with ThreadPoolExecutor(worker_count()) as pool:
        resized = pool.map(resize, images)
        for i, image in enumerate(progress(resized, total=len(images), unit="img",
                                           desc=f"resizing to {size[0]}x{size[1]}")):
            out[i] = image
    return out


def resize_nearest(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of the last two axes (H, W) to ``size`` = (width, height),
    sampling at pixel centres; values are copied, never blended."""
    height, width = maps.shape[-2:]
    rows = ((np.arange(size[1]) + 0.5) * height / size[1]).astype(np.int64)
    cols = ((np.arange(size[0]) + 0.5) * width / size[0]).astype(np.int64)
    return maps[..., rows[:, None], cols[None, :]]
