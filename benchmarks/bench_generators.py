"""Throughput of PatchShuffle and RandomCrop against a plain copy and a naive per-patch loop.

For a batch of 256 images of 224x224x3 (by default) it prints, per generator and D, the median of
several repeats of a full call (draw + apply), the images per second, the ratio to ``clone()`` of
the same bytes and the ratio of a naive implementation (Python loops over images and patches,
one ``rot90``/``flip`` per patch) to ours, all measured in the same run.

    python benchmarks/bench_generators.py [--device cpu|cuda] [--batch 256] [--size 224]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

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
    out = torch.empty_like(images)
    for i in range(b):
        tiled = images.new_empty((c, (d + 1) * ph, (d + 1) * pw))
        for slot in range((d + 1) ** 2):
            y0 = int(torch.randint(h - ph + 1, (1,), generator=g))
            x0 = int(torch.randint(w - pw + 1, (1,), generator=g))
            patch = images[i, :, y0:y0 + ph, x0:x0 + pw]
            patch = torch.rot90(patch, int(torch.randint(4, (1,), generator=g)), dims=(1, 2))
            if int(torch.randint(2, (1,), generator=g)):
                patch = patch.flip(2)
            y, x = slot // (d + 1) * ph, slot % (d + 1) * pw
            tiled[:, y:y + ph, x:x + pw] = patch
        oy = int(torch.randint(tiled.shape[1] - h + 1, (1,), generator=g))
        ox = int(torch.randint(tiled.shape[2] - w + 1, (1,), generator=g))
        out[i] = tiled[:, oy:oy + h, ox:ox + w]
    return out


def median_seconds(fn, device: torch.device, repeats: int) -> float:
    fn()                                              # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--d", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-repeats", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images = torch.randint(0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0)).to(device)
    copy = median_seconds(images.clone, device, args.repeats)
    print(f"batch {args.batch} x 3 x {args.size} x {args.size} uint8 on {device}, torch "
          f"{torch.__version__}, {torch.get_num_threads()} CPU threads (load average "
          f"{os.getloadavg()[0]:.1f}); medians of "
          f"{args.repeats} repeats ({args.naive_repeats} for the naive loops)")
    print(f"clone(): {copy * 1e3:.1f} ms = {args.batch / copy:,.0f} images/s\n")
    header = (f"{'generator':<14}{'D':>3}{'ms/batch':>11}{'images/s':>11}{'x clone':>9}"
              f"{'naive ms':>11}{'naive/ours':>12}")
    print(header)
    print("-" * len(header))
    naive = {"patchshuffle": naive_patchshuffle, "randomcrop": naive_randomcrop}
    for cls in (PatchShuffle, RandomCrop):
        for d in args.d:
            gen = cls(d)
            g = torch.Generator().manual_seed(1)
            ours = median_seconds(lambda gen=gen, g=g: gen(images, g), device, args.repeats)
            loop = median_seconds(lambda d=d, g=g, name=cls.name: naive[name](images, d, g),
                                  device, args.naive_repeats)
            print(f"{cls.name:<14}{d:>3}{ours * 1e3:>11.1f}{args.batch / ours:>11,.0f}"
                  f"{ours / copy:>9.1f}{loop * 1e3:>11.1f}{loop / ours:>12.1f}")


if __name__ == "__main__":
    main()
