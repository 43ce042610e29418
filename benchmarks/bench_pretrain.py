"""Pre-training throughput (instances per second, two views each): synthcl's loop against the
plain way, measured in the same run.

``--compare pipeline`` (default): the synthcl loop (f_CL vectorised over the batch on tensors,
on the training device) against the reference MoCo code's way (PIL per-image augmentation in
DataLoader worker processes, then the same MoCo step). Also the data pipelines alone.
``--compare precision``: the synthcl loop with bf16 autocast + channels_last against both off.
``--compare lightly``: the synthcl loop (its defaults: bf16 + channels_last where the CPU has native
bf16) against lightly's MoCo v2 loop written as its examples do it (``MoCoV2Transform`` in a
DataLoader with worker processes, ``MoCoProjectionHead``, ``NTXentLoss`` with a memory bank,
``update_momentum``, fp32, SGD), on the same images, ResNet-18 and queue; whole loops (data
production included) timed over ``--steps`` steps after ``--warmup``. Needs ``pip install
lightly``; without it the lightly rows are skipped with a message.

The images are random uint8 arrays held in memory (content does not change the cost of either
pipeline; no file decoding is timed), or with ``--data`` that dataset, decoded at load. Full
loops (pipeline, precision): medians over ``--steps`` timed steps after ``--warmup``; views
alone: the total time of 20 batches, after the DataLoader's prefetch queue has been emptied (so
the plain rate is its workers' production rate).

    python benchmarks/bench_pretrain.py                       # CPU: R18@32 and R50@96
    python benchmarks/bench_pretrain.py --device cuda --cases resnet50:224:128 --compare precision
    python benchmarks/bench_pretrain.py --compare lightly --cases resnet18:64:128 \
        --data ../shared/data/pcam --threads 2 --steps 12 [--prefetch 1] [--compile]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import statistics
import tempfile
import time

import numpy as np
import torch
from PIL import Image, ImageFilter
from torchvision import transforms

from synthcl.data import ImageData, Split, load_dataset
from synthcl.models import build_backbone
from synthcl.models.resnet import IMAGENET_MEAN, IMAGENET_STD
from synthcl.pretraining import PretrainConfig
from synthcl.pretraining.distributed import setup
from synthcl.pretraining.schedule import prefetched
from synthcl.pretraining.trainer import Trainer

NO_LIGHTLY = ("lightly is not installed: the lightly rows are skipped (pip install lightly, "
              "which keeps the installed torch and torchvision)")


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
        return self.transform(image), self.transform(image), index


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


def loop_rate(step, batch: int, steps: int, warmup: int, sync) -> float:
    """Instances/s of a whole loop: ``steps`` calls of ``step()`` after ``warmup``."""
    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return steps * batch / (time.perf_counter() - t0)


def synthcl_step(trainer: Trainer, workers: int):
    """One step of the synthcl loop as ``Trainer.run`` drives it: batches made ``workers``
    steps ahead in threads, one ``float(loss)`` per step."""
    batches = prefetched(trainer.make_batch, range(10**9), workers)

    def step() -> float:
        index, batch = next(batches)
        return trainer.train_step(index, batch)
    return step


class LightlyViews(torch.utils.data.Dataset):
    """The images as PIL images through lightly's ``MoCoV2Transform`` (two views)."""

    def __init__(self, images: np.ndarray, size: int):
        from lightly.transforms import MoCoV2Transform
        self.images, self.transform = images, MoCoV2Transform(input_size=size)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = self.images[index]
        image = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).convert("RGB")
        return self.transform(image), 0


class LightlyMoCo(torch.nn.Module):
    """lightly's MoCo example model: backbone + ``MoCoProjectionHead``, momentum copies."""

    def __init__(self, backbone: torch.nn.Module, feature_dim: int, dim: int = 128):
        from lightly.models.modules import MoCoProjectionHead
        from lightly.models.utils import deactivate_requires_grad
        super().__init__()
        self.backbone = backbone
        self.projection_head = MoCoProjectionHead(feature_dim, feature_dim, dim)
        self.backbone_momentum = copy.deepcopy(self.backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_head_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection_head(self.backbone(x).flatten(start_dim=1))

    def forward_momentum(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x).flatten(start_dim=1)
                                             ).detach()


def lightly_step(images: np.ndarray, arch: str, size: int, batch: int, queue: int, workers: int):
    """One step of lightly's MoCo v2 loop as its examples write it (fp32, SGD lr 0.06,
    momentum 0.99, NTXentLoss with a memory bank of ``queue`` keys)."""
    from lightly.loss import NTXentLoss
    from lightly.models.utils import update_momentum
    backbone = build_backbone(arch, 64, None, (size, size))
    model = LightlyMoCo(backbone, backbone.feature_dim)
    criterion = NTXentLoss(temperature=0.2, memory_bank_size=(queue, 128))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.06)
    loader = torch.utils.data.DataLoader(
        LightlyViews(images, size), batch_size=batch, shuffle=True, drop_last=True,
        num_workers=workers, persistent_workers=workers > 0)
    batches = _forever(loader)

    def step() -> float:
        (x_query, x_key), _ = next(batches)
        update_momentum(model.backbone, model.backbone_momentum, m=0.99)
        update_momentum(model.projection_head, model.projection_head_momentum, m=0.99)
        loss = criterion(model(x_query), model.forward_momentum(x_key))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return float(loss.detach())
    return step


def lightly_case(arch: str, size: int, batch: int, args, out_dir: str
                 ) -> list[tuple[str, float, int | None]]:
    """The synthcl loop (its defaults, then fp32) against lightly's, on the same images."""
    data = (load_dataset(args.data, image_size=str(size)) if args.data
            else noise_data(max(4 * batch, 256), size))
    variants = [{"amp": True}, {"amp": False}] + ([{"compile": True}] if args.compile else [])
    rows = []
    for settings in variants:
        ours = Trainer(PretrainConfig(mode="cl-all", arch=arch, width=64, steps=10**6,
                                      batch_size=batch, queue_size=args.queue, device="cpu",
                                      out=out_dir, **settings), data, setup("cpu"))
        t0 = time.perf_counter()
        rate = loop_rate(synthcl_step(ours, args.prefetch), batch, args.steps, args.warmup,
                         lambda: None)
        compiled = (f", compiled, {time.perf_counter() - t0 - args.steps * batch / rate:.0f} s "
                    f"warm-up" if ours.config.compile else "")
        rows.append((f"synthcl loop ({'bf16' if ours.amp else 'fp32'}, "
                     f"{'channels_last' if ours.channels_last else 'NCHW'}{compiled})", rate,
                     len(variants)))
    if importlib.util.find_spec("lightly") is None:
        print(NO_LIGHTLY)
        return [(name, rate, None) for name, rate, _ in rows]
    step = lightly_step(data.splits["train"].images, arch, size, batch,
                        ours.config.queue_size, args.workers)
    rows.append(("lightly MoCo v2 loop (fp32)",
                 loop_rate(step, batch, args.steps, args.warmup, lambda: None), None))
    return rows


def bench_case(arch: str, size: int, batch: int, args, out_dir: str
               ) -> list[tuple[str, float, int | None]]:
    """Rows (name, instances/s, index of the row it is compared with)."""
    if args.compare == "lightly":
        return lightly_case(arch, size, batch, args, out_dir)
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
        q, k, ids = next(batches)
        perm = torch.randperm(batch)
        ours.train_step(i, (q.to(device, non_blocking=True), k.to(device, non_blocking=True),
                            perm, ids.to(device)))

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
    parser.add_argument("--compare", choices=("pipeline", "precision", "lightly"),
                        default="pipeline")
    parser.add_argument("--data", default=None,
                        help="--compare lightly: dataset path (default: random images in memory)")
    parser.add_argument("--queue", type=int, default=4096, help="--compare lightly: queue size")
    parser.add_argument("--compile", action="store_true",
                        help="--compare lightly: also the synthcl loop with compile=true")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2,
                        help="DataLoader worker processes of the plain and lightly loops")
    parser.add_argument("--prefetch", type=int, default=0,
                        help="--compare lightly: threads making synthcl's batches ahead (its "
                             "pretraining setting workers; 0, inline, is its default)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compare == "lightly" and args.device != "cpu":
        parser.error("--compare lightly is the CPU comparison: drop --device")
    timing = ("whole loops" if args.compare == "lightly" else "median of")
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{timing} {args.steps} steps after {args.warmup} warm-up; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'case':<22} {'loop':<60} {'instances/s':>12} {'ratio':>7}  "
          f"(ratio: vs the row marked ref)")
    with tempfile.TemporaryDirectory() as out_dir:
        for case in args.cases.split(","):
            arch, size, batch = case.split(":")
            rows = bench_case(arch, int(size), int(batch), args, out_dir)
            for name, rate, ref in rows:
                ratio = f"{rate / rows[ref][1]:.2f}" if ref is not None else "ref"
                print(f"{arch + '@' + size + ' b' + batch:<22} {name:<60} {rate:>12.1f} "
                      f"{ratio:>7}")


if __name__ == "__main__":
    main()
