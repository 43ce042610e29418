"""Pre-training throughput (instances per second, two views each): synthcl's loop against the
plain way, measured in the same run.

``--compare pipeline`` (default): the synthcl loop (f_CL vectorised over the batch on tensors,
on the training device) against the reference MoCo code's way (PIL per-image augmentation in
DataLoader worker processes, then the same MoCo step). Also the data pipelines alone.
``--compare precision``: the synthcl loop with bf16 autocast + channels_last against both off
(CUDA only).

The images are random uint8 arrays held in memory (content does not change the cost of either
pipeline; no file decoding is timed). Full loops: medians over ``--steps`` timed steps after
``--warmup``; views alone: the total time of 20 batches, after the DataLoader's prefetch queue has
been emptied (so the plain rate is its workers' production rate).

    python benchmarks/bench_pretrain.py                       # CPU: R18@32 and R50@96
    python benchmarks/bench_pretrain.py --device cuda --cases resnet50:224:128 --compare precision
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
from PIL import Image, ImageFilter
from torchvision import transforms

from synthcl.data import ImageData, Split
from synthcl.models.resnet import IMAGENET_MEAN, IMAGENET_STD
from synthcl.pretraining import PretrainConfig
from synthcl.pretraining.distributed import setup
from synthcl.pretraining.trainer import Trainer


class PILBlur:
    """The reference's blur: PIL GaussianBlur with radius sigma ~ U(0.1, 2)."""

    def __call__(self, image: Image.Image) -> Image.Image:
        return image.filter(ImageFilter.GaussianBlur(radius=float(np.random.uniform(0.1, 2.0))))


def plain_transform(size: int) -> transforms.Compose:
    return transforms.Compose([
        transforms.RandomResizedCrop(size, scale=(0.2, 1.0)),
        transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        transforms.RandomGrayscale(p=0.2),
        transforms.RandomApply([PILBlur()], p=0.5),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


class TwoViews(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, size: int):
        self.images, self.transform = images, plain_transform(size)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = Image.fromarray(self.images[index])
        return self.transform(image), self.transform(image)


def noise_data(count: int, size: int) -> ImageData:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    labels = np.arange(count) % 2
    split = Split(images, labels.astype(np.int64))
    return ImageData("noise", "memory", "memory", ("a", "b"),
                     {"train": split, "val": split.subset(np.arange(64)), "test": split})


def median_rate(step, batch: int, steps: int, warmup: int, sync) -> float:
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        step(i)
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def total_rate(step, batch: int, sync, count: int = 20) -> float:
    sync()
    t0 = time.perf_counter()
    for i in range(count):
        step(i)
    sync()
    return count * batch / (time.perf_counter() - t0)


def bench_case(arch: str, size: int, batch: int, args, out_dir: str
               ) -> list[tuple[str, float, int | None]]:
    """Rows (name, instances/s, index of the row it is compared with)."""
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    data = noise_data(max(4 * batch, 256), size)

    def trainer(amp: bool) -> Trainer:
        config = PretrainConfig(mode="cl-all", n=4, arch=arch, width=64, steps=10**6,
                                batch_size=batch, queue_size=4 * batch, device=args.device,
                                amp=amp, channels_last=amp, out=out_dir)
        return Trainer(config, data, setup(args.device))

    ours = trainer(True)
    rows = [("synthcl loop" + (" (bf16+CL)" if args.compare == "precision" else ""),
             median_rate(lambda i: ours.train_step(i, ours.make_batch(i)), batch, args.steps,
                         args.warmup, sync), 1)]
    if args.compare == "precision":
        off = trainer(False)
        rows.append(("synthcl loop (fp32, NCHW)",
                     median_rate(lambda i: off.train_step(i, off.make_batch(i)), batch,
                                 args.steps, args.warmup, sync), None))
        return rows
    loader = torch.utils.data.DataLoader(
        TwoViews(data.splits["train"].images, size), batch_size=batch, shuffle=True,
        num_workers=args.workers, drop_last=True, persistent_workers=args.workers > 0,
        pin_memory=device.type == "cuda")
    batches = iter(_forever(loader))

    def plain_step(i: int) -> None:
        q, k = next(batches)
        perm = torch.randperm(batch)
        ours.train_step(i, (q.to(device, non_blocking=True), k.to(device, non_blocking=True),
                            perm))

    rows.append(("plain loop (PIL in DataLoader workers)",
                 median_rate(plain_step, batch, args.steps, args.warmup, sync), None))
    # views alone: total time over VIEW_BATCHES batches, after the DataLoader's prefetch queue
    # has been emptied, so that the plain rate is the workers' production rate
    for _ in range(2 * max(1, args.workers) + args.warmup):
        next(batches)
    rows.append(("synthcl views only", total_rate(ours.make_batch, batch, sync), 3))
    rows.append(("plain views only", total_rate(lambda i: next(batches), batch, sync), None))
    return rows


def _forever(loader):
    while True:
        yield from loader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cases", default="resnet18:32:128,resnet50:96:32",
                        help="comma-separated arch:size:batch")
    parser.add_argument("--compare", choices=("pipeline", "precision"), default="pipeline")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (plain)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compare == "precision" and args.device == "cpu":
        parser.error("--compare precision needs --device cuda (bf16/channels_last are CUDA-only)")
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"median of {args.steps} steps after {args.warmup} warm-up")
    print(f"{'case':<22} {'loop':<42} {'instances/s':>12} {'ratio':>7}  (ratio: vs the next row)")
    with tempfile.TemporaryDirectory() as out_dir:
        for case in args.cases.split(","):
            arch, size, batch = case.split(":")
            rows = bench_case(arch, int(size), int(batch), args, out_dir)
            for name, rate, ref in rows:
                ratio = f"{rate / rows[ref][1]:.2f}" if ref is not None else "ref"
                print(f"{arch + '@' + size + ' b' + batch:<22} {name:<42} {rate:>12.1f} "
                      f"{ratio:>7}")


if __name__ == "__main__":
    main()
