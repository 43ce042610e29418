"""GPNN outputs against the official code's on one PCam image: diversity and patch fidelity.

For each row, ``--outputs`` outputs (seeds 0, 1, ...) of one 96x96 PCam test image are scored by
(a) the mean absolute difference from the source (grey levels 0-255; 0 is a copy) and (b) the RMS
distance (grey levels) from every 7x7 output patch to its nearest source patch (exact search),
mean and 90th percentile over all output patches (0 means "made only of source patches").

Rows: synthcl's default, ``preset=official``, the previous default (Gaussian blur + bilinear
resizing, plain-mean fold); with ``--official PATH`` (a checkout of WeizmannVision/DropTheGAN,
never part of this project) also the official ``applications.generation`` at its default 9
levels and at 6 levels (synthcl's depth at 96x96). Official outputs are quantised as its
``utils.imwrite`` does (x 255, clamp, truncate to uint8). With 3 outputs the statistics are
dominated by which outputs happen to be near-copies, so the official rows are also checked output
by output: synthcl and the official code started from the same noise map, at the same depth.

    python benchmarks/gpnn_faithfulness.py [--official /tmp/dropthegan] [--outputs 3]
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

from synthcl.generators.gpnn import GPNN
from synthcl.generators.nearest import nearest

DATA = Path(os.environ.get("SYNTHCL_SHARED_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))
SOURCE = DATA / "pcam" / "test" / "1" / "patch0000001.jpg"

Make = Callable[[torch.Tensor, int], torch.Tensor]   # (source uint8 (1, C, H, W), seed) -> uint8


def load_source(path: Path) -> torch.Tensor:
    from PIL import Image

    if not path.exists():
        sys.exit(f"{path} is absent: set SYNTHCL_SHARED_DATA to the shared data folder")
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None]


def synthcl_row(gen: GPNN) -> Make:
    return lambda source, seed: gen(source, torch.Generator().manual_seed(seed))


def official_row(path: Path, num_levels: int) -> Make:
    sys.path.insert(0, str(path))
    import applications  # the official code, from the checkout given on the command line

    def make(source: torch.Tensor, seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        out = applications.generation(source[0].float() / 255, num_levels=num_levels)
        return (255 * out).clamp(0, 255).to(torch.uint8)[None]
    return make


def same_noise(path: Path, gen: GPNN, source: torch.Tensor, seeds: int) -> tuple[float, float]:
    """Largest and mean absolute difference (grey levels) between ``gen`` and the official
    generation at the same depth, both started from the same noise maps (float outputs)."""
    sys.path.insert(0, str(path))
    import gpnn as official  # the official module, from the checkout given on the command line

    image = source[0].float() / 255
    ours = gen.pyramid(image)
    theirs = official.make_pyramid(image, len(ours) - 1, gen.scale)
    diffs = []
    for seed in range(seeds):
        noise = gen.draw(1, *source.shape[1:], torch.Generator().manual_seed(seed))["noise"]
        noise = noise * gen.noise_std
        a = gen.generate(ours, noise)[0]
        b = official.gpnn(theirs, theirs[-1] + noise[0], downscale_ratio=gen.scale)
        diffs.append((a - b).abs() * 255)
    diff = torch.stack(diffs)
    return float(diff.max()), float(diff.mean())


def patch_rms(source: torch.Tensor, outputs: torch.Tensor, p: int = 7) -> torch.Tensor:
    """RMS distance (grey levels) of every p x p patch of ``outputs`` to its nearest source
    patch."""
    keys = F.unfold(source.float(), p)[0].T
    queries = F.unfold(outputs.float(), p).transpose(1, 2).reshape(-1, keys.shape[1])
    return (nearest(queries, keys).dist / keys.shape[1]).sqrt()


def score(source: torch.Tensor, make: Make, outputs: int) -> tuple[float, float, float, float]:
    """(mean absolute difference, patch RMS mean, patch RMS p90, seconds per output)."""
    start = time.perf_counter()
    made = torch.cat([make(source, seed) for seed in range(outputs)])
    seconds = (time.perf_counter() - start) / outputs
    mad = float((made.float() - source.float()).abs().mean())
    rms = patch_rms(source, made)
    return mad, float(rms.mean()), float(rms.quantile(0.9)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, default=None,
                        help="checkout of WeizmannVision/DropTheGAN (adds the official rows)")
    parser.add_argument("--outputs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--source", type=Path, default=SOURCE)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    source = load_source(args.source)
    rows: list[tuple[str, Make]] = [
        ("synthcl default", synthcl_row(GPNN())),
        ("synthcl preset=official", synthcl_row(GPNN(preset="official"))),
        ("synthcl previous (bilinear, mean fold)",
         synthcl_row(GPNN(resizer="bilinear", fold="mean")))]
    if args.official:
        rows += [("official, 9 levels (default)", official_row(args.official, 9)),
                 ("official, 6 levels", official_row(args.official, 6))]
    print(f"{args.source.name} {tuple(source.shape[1:])}, {args.outputs} outputs per row, "
          f"{torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.1f}")
    header = f"{'':<40}{'MAD':>8}{'patch RMS mean':>16}{'patch RMS p90':>15}{'s/image':>9}"
    print(header + "\n" + "-" * len(header))
    for name, make in rows:
        mad, mean, p90, seconds = score(source, make, args.outputs)
        print(f"{name:<40}{mad:>8.1f}{mean:>16.2f}{p90:>15.2f}{seconds:>9.2f}", flush=True)
    if args.official:
        print("\nSame noise maps in both (float outputs, grey levels):")
        for name, gen in (("default", GPNN()), ("preset=official", GPNN(preset="official"))):
            largest, mean = same_noise(args.official, gen, source, args.outputs)
            depth = len(gen.levels(*source.shape[2:])) - 1
            print(f"  {name} vs official num_levels={depth}: largest difference {largest:.2g}, "
                  f"mean {mean:.2g}")


if __name__ == "__main__":
    main()
