"""GPNN seconds per generated image at 28x28, 96x96 and 224x224.

For each size, M outputs of one real source image are generated together (the production path:
shared pyramid, keys and values, neighbours reused across iterations while provably unchanged)
and, as the reference measured in the same run, one output generated alone. ``--full-search``
adds a second reference: the same M outputs with an exact search of every query at every
iteration (the plain PNN loop), to show what the neighbour reuse saves.

Sources: a PneumoniaMNIST image (28), a PCam image (96), a DR fundus image (224) from
../shared/data, or a smooth random image when the data is absent.

    python benchmarks/bench_gpnn.py [--device cpu|cuda] [--sizes 28 96 224] [--outputs 32 8 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from synthcl.generators import gpnn as gpnn_module
from synthcl.generators.gpnn import GPNN

DATA = Path(os.environ.get("SYNTHCL_SHARED_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))
OFFICIAL = {96: 5.2, 224: 195.0}     # official GPNN code, s/image, this machine (REFERENCES.md)


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


def seconds_per_image(gen: GPNN, source: torch.Tensor, outputs: int,
                      device: torch.device) -> float:
    batch = source.expand(outputs, -1, -1, -1).contiguous().to(device)
    draws = gen.draw(outputs, *source.shape[1:], torch.Generator().manual_seed(0))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    gen.apply(batch, draws)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / outputs


def full_search_every_iteration() -> None:
    """Turn the neighbour reuse off: every iteration searches every query."""
    def refresh(self, queries, motion, keys, track):
        fresh = gpnn_module._Bounds.search(queries, keys, track)
        self.index, self.far = fresh.index, fresh.far

    gpnn_module._Bounds.refresh = refresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 96, 224])
    parser.add_argument("--outputs", type=int, nargs="+", default=[32, 8, 2],
                        help="outputs generated together, one number per size")
    parser.add_argument("--full-search", action="store_true",
                        help="also time the outputs with an exact search at every iteration")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if len(args.outputs) != len(args.sizes):
        parser.error("give one --outputs number per --sizes entry")
    device = torch.device(args.device)
    gen = GPNN()
    seconds_per_image(gen, source_image(28)[0], 2, device)          # warm-up
    print(f"GPNN {gen.params()} on {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads, load average before the run "
          f"{os.getloadavg()[0]:.1f}")
    rows = []
    for size, outputs in zip(args.sizes, args.outputs, strict=True):
        source, name = source_image(size)
        together = seconds_per_image(gen, source, outputs, device)
        alone = seconds_per_image(gen, source, 1, device)
        rows.append((size, name, len(gen.levels(size, size)), outputs, together, alone))
        print(f"  {size}x{size} ({name}): {together:.2f} s/image for {outputs} together, "
              f"{alone:.2f} s alone", flush=True)
    full = {}
    if args.full_search:
        full_search_every_iteration()
        for size, _, _, outputs, _, _ in rows:
            full[size] = seconds_per_image(gen, source_image(size)[0], outputs, device)
    header = (f"\n{'size':>9}{'levels':>8}{'M':>5}{'s/image (M together)':>22}"
              f"{'s/image (alone)':>17}{'alone/together':>16}"
              + (f"{'s/image full search':>21}" if full else "")
              + f"{'official s/image':>18}")
    print(header)
    print("-" * len(header.strip("\n")))
    for size, _, levels, outputs, together, alone in rows:
        line = (f"{f'{size}x{size}':>9}{levels:>8}{outputs:>5}{together:>22.2f}{alone:>17.2f}"
                f"{alone / together:>16.1f}")
        if full:
            line += f"{full[size]:>21.2f}"
        official = OFFICIAL.get(size)
        line += f"{official:>18.1f}" if official else f"{'(returns source)':>18}"
        print(line)
    print("official s/image: the official GPNN code with its defaults, measured earlier on this "
          "machine (../shared/REFERENCES.md), not in this run")


if __name__ == "__main__":
    main()
