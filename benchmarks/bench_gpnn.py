"""GPNN seconds per generated image at 28x28, 96x96 and 224x224, against the official code.

For each size, M outputs of one real source image are generated together (the production path:
shared pyramid, keys and values, neighbours reused across iterations while provably unchanged)
with synthcl's default and with ``preset=official`` (the official depth; same algorithm as the
official code). With ``--official PATH`` (a checkout of WeizmannVision/DropTheGAN, never part of
this project), the official ``applications.generation`` with its defaults (9 downscalings, 10
iterations per level, noise 0.75) is timed in the same run on the same image and thread count,
``--official-outputs`` times per size (it cannot run below 7 px: at 28x28 its coarsest level is
3 px). ``--full-search`` adds the same M outputs with an exact search of every query at every
iteration (the plain PNN loop), to show what the neighbour reuse saves.

Each time is given as wall-clock seconds and as CPU seconds of this process (``time.process_time``:
less sensitive to other processes sharing the cores); ratios are official / synthcl.

Sources: a PneumoniaMNIST image (28), a PCam image (96), a DR fundus image (224) from
../shared/data, or a smooth random image when the data is absent.

    python benchmarks/bench_gpnn.py [--sizes 28 96 224] [--outputs 32 8 2] [--threads 1]
        [--official /tmp/dropthegan] [--official-outputs 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from synthcl.generators import gpnn as gpnn_module
from synthcl.generators.gpnn import GPNN

DATA = Path(os.environ.get("SYNTHCL_SHARED_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))


def source_image(size: int) -> tuple[torch.Tensor, str]:
    from PIL import Image

    candidates = {28: DATA / "pneumoniamnist" / "pneumoniamnist.npz",
                  96: next(iter(sorted((DATA / "pcam" / "train" / "1").glob("*.jpg"))), None),
                  224: next(iter(sorted((DATA / "dr_mini" / "Moderate").glob("*.png"))), None)}
    path = candidates.get(size)
    if path is not None and path.exists():
        if path.suffix == ".npz":
            with np.load(path) as z:
                return torch.from_numpy(z["train_images"][0])[None, None], path.name
        image = Image.open(path).convert("RGB").resize((size, size))
        return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None], path.name
    smooth = F.interpolate(torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)),
                           size=(size, size), mode="bicubic", align_corners=False)
    return (smooth.clamp(0, 1) * 255).to(torch.uint8), "smooth random image"


def timed(run: Callable[[], object], count: int, device: torch.device) -> tuple[float, float]:
    """(wall, CPU) seconds per image of ``run``, which makes ``count`` images."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


def synthcl_time(gen: GPNN, source: torch.Tensor, outputs: int,
                 device: torch.device) -> tuple[float, float]:
    batch = source.expand(outputs, -1, -1, -1).contiguous().to(device)
    draws = gen.draw(outputs, *source.shape[1:], torch.Generator().manual_seed(0))
    return timed(lambda: gen.apply(batch, draws), outputs, device)


def official_time(path: Path, source: torch.Tensor, outputs: int,
                  device: torch.device) -> tuple[float, float] | None:
    """The official generation with its defaults, or None where it cannot run (too small)."""
    if min(source.shape[-2:]) * 0.75 ** 9 < 7:
        return None
    sys.path.insert(0, str(path))
    import applications  # the official code, from the checkout given on the command line

    image = source[0].float().div(255).to(device)
    torch.manual_seed(0)
    return timed(lambda: [applications.generation(image) for _ in range(outputs)], outputs,
                 device)


def full_search_every_iteration() -> None:
    """Turn the neighbour reuse off: every iteration searches every query."""
    def refresh(self, images, p, motion, keys, track):
        fresh = gpnn_module._Bounds.search(gpnn_module._patches(images, p), keys, track)
        self.index, self.near, self.far = fresh.index, fresh.near, fresh.far

    gpnn_module._Bounds.refresh = refresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 96, 224])
    parser.add_argument("--outputs", type=int, nargs="+", default=[32, 8, 2],
                        help="outputs generated together, one number per size")
    parser.add_argument("--official", type=Path, default=None,
                        help="checkout of WeizmannVision/DropTheGAN: time it in the same run")
    parser.add_argument("--official-outputs", type=int, default=1,
                        help="official images timed per size")
    parser.add_argument("--full-search", action="store_true",
                        help="also time the outputs with an exact search at every iteration")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if len(args.outputs) != len(args.sizes):
        parser.error("give one --outputs number per --sizes entry")
    device = torch.device(args.device)
    gens = {"synthcl default": GPNN(), "synthcl preset=official": GPNN(preset="official")}
    synthcl_time(GPNN(), source_image(28)[0], 2, device)          # warm-up
    print(f"GPNN default {gens['synthcl default'].params()} on {device}, torch "
          f"{torch.__version__}, {torch.get_num_threads()} CPU thread(s), load average before "
          f"the run {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for size, outputs in zip(args.sizes, args.outputs, strict=True):
        source, name = source_image(size)
        times = {label: synthcl_time(gen, source, outputs, device) for label, gen in gens.items()}
        if args.official:
            times["official"] = official_time(args.official, source, args.official_outputs,
                                              device)
        rows.append((size, outputs, times))
        print(f"  {size}x{size} ({name}), load average {os.getloadavg()[0]:.1f}: "
              + ", ".join(f"{k} {v[0]:.2f} s wall / {v[1]:.2f} s CPU" if v else f"{k} n/a"
                          for k, v in times.items()), flush=True)
    if args.full_search:
        full_search_every_iteration()
        for size, outputs, times in rows:
            times["full search (synthcl default)"] = synthcl_time(gens["synthcl default"],
                                                          source_image(size)[0], outputs, device)
    report(rows, gens, args.official_outputs)


def report(rows: list[tuple[int, int, dict[str, tuple[float, float] | None]]],
           gens: dict[str, GPNN], official_outputs: int) -> None:
    print(f"\n{'size':>9}  {'run':<30}{'levels':>7}{'M':>4}{'wall s/image':>14}"
          f"{'CPU s/image':>13}{'official/this: wall':>21}{'CPU':>6}")
    for size, outputs, times in rows:
        official = times.get("official")
        for label, value in times.items():
            if value is None:
                print(f"{f'{size}x{size}':>9}  {label:<30}  cannot run at this size")
                continue
            gen = gens.get(label.removeprefix("full search (").removesuffix(")"))
            levels = len(gen.levels(size, size)) if gen else 10
            count = outputs if gen else official_outputs
            ratio = (f"{official[0] / value[0]:>21.1f}{official[1] / value[1]:>6.1f}"
                     if official and gen else "")
            print(f"{f'{size}x{size}':>9}  {label:<30}{levels:>7}{count:>4}{value[0]:>14.2f}"
                  f"{value[1]:>13.2f}{ratio}")


if __name__ == "__main__":
    main()
