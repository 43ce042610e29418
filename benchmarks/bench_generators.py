"""Throughput of PatchShuffle and RandomCrop against a plain copy and a naive per-patch loop.

For a batch of 256 images of 224x224x3 (by default) it prints, per generator and D, the median of
several repeats of a full call (draw + apply), the images per second, its speed as a fraction of
the speed of ``clone()`` of the same bytes (timed alternately with it, so that both see the same
load on a shared machine) and how many times faster it is than a naive implementation (Python
loops over images and patches, one ``rot90``/``flip`` per patch), all measured in the same run.

    python benchmarks/bench_generators.py [--device cpu|cuda] [--threads 1] [--batch 256]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from functools import partial

import torch

import synthcl.generators.paste as paste
from synthcl.generators import PatchShuffle, RandomCrop


def naive_patchshuffle(images: torch.Tensor, d: int, g: torch.Generator) -> torch.Tensor:
    b, _, h, w = images.shape
    ph, pw = h // d, w // d
    out = images.clone()
    for i in range(b):
        order = torch.randperm(d * d, generator=g).tolist()
        for slot, src in enumerate(order):
            patch = images[i, :, src // d * ph:(src // d + 1) * ph, src % d * pw:(src % d + 1) * pw]
            patch = torch.rot90(patch, int(torch.randint(4, (1,), generator=g)), dims=(1, 2))
            if int(torch.randint(2, (1,), generator=g)):
                patch = patch.flip(2)
            y, x = slot // d * ph, slot % d * pw
            out[i, :, y:y + ph, x:x + pw] = patch
    return out


def naive_randomcrop(images: torch.Tensor, d: int, g: torch.Generator) -> torch.Tensor:
    b, c, h, w = images.shape
    ph, pw = h // d, w // d
    rows, cols = max(d + 1, -(-h // ph)), max(d + 1, -(-w // pw))   # tiles that cover the image
    out = torch.empty_like(images)
    for i in range(b):
        tiled = images.new_empty((c, rows * ph, cols * pw))
        for slot in range(rows * cols):
            y0 = int(torch.randint(h - ph + 1, (1,), generator=g))
            x0 = int(torch.randint(w - pw + 1, (1,), generator=g))
            patch = images[i, :, y0:y0 + ph, x0:x0 + pw]
            patch = torch.rot90(patch, int(torch.randint(4, (1,), generator=g)), dims=(1, 2))
            if int(torch.randint(2, (1,), generator=g)):
                patch = patch.flip(2)
            y, x = slot // cols * ph, slot % cols * pw
            tiled[:, y:y + ph, x:x + pw] = patch
        oy = int(torch.randint(tiled.shape[1] - h + 1, (1,), generator=g))
        ox = int(torch.randint(tiled.shape[2] - w + 1, (1,), generator=g))
        out[i] = tiled[:, oy:oy + h, ox:ox + w]
    return out


def torch_ops(gen, images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The generator on its torch-op path (the one CUDA takes), even on the CPU."""
    compiled_for = paste.compiled_for
    paste.compiled_for = lambda images: False
    try:
        return gen(images, g)
    finally:
        paste.compiled_for = compiled_for


def seconds(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def median_seconds(fns, device: torch.device, repeats: int) -> list[float]:
    """Median seconds of each of ``fns``, called in turn ``repeats`` times after a warm-up."""
    for fn in fns:
        fn()
    times = [[seconds(fn, device) for fn in fns] for _ in range(repeats)]
    return [statistics.median(column) for column in zip(*times, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--d", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--naive-repeats", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images = torch.randint(0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0)).to(device)
    print(f"batch {args.batch} x 3 x {args.size} x {args.size} uint8 on {device}, torch "
          f"{torch.__version__}, {torch.get_num_threads()} CPU threads (load average "
          f"{os.getloadavg()[0]:.1f}); medians of {args.repeats} repeats ({args.naive_repeats} "
          f"for the naive loops)\n")
    header = (f"{'generator':<14}{'D':>3}{'ms/batch':>10}{'images/s':>11}{'clone ms':>10}"
              f"{'speed/clone':>13}{'torch-ops ms':>14}{'naive ms':>10}{'vs naive':>10}")
    print(header)
    print("-" * len(header))
    naive = {"patchshuffle": naive_patchshuffle, "randomcrop": naive_randomcrop}
    for cls in (PatchShuffle, RandomCrop):
        for d in args.d:
            gen, g = cls(d), torch.Generator().manual_seed(1)
            ours, copy, ops = median_seconds(
                [partial(gen, images, g), images.clone, partial(torch_ops, gen, images, g)],
                device, args.repeats)
            loop, = median_seconds([partial(naive[cls.name], images, d, g)], device,
                                   args.naive_repeats)
            print(f"{cls.name:<14}{d:>3}{ours * 1e3:>10.2f}{args.batch / ours:>11,.0f}"
                  f"{copy * 1e3:>10.2f}{copy / ours:>12.2f}x{ops * 1e3:>14.2f}{loop * 1e3:>10.1f}"
                  f"{loop / ours:>9.1f}x")
    print(f"\nspeed/clone: images/s of the generator / images/s of clone() (1.00x = as fast as "
          f"a copy); torch-ops: the path of non-CPU devices, forced here; vs naive: how many "
          f"times faster than the naive loop (load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
