"""Mix: each image is made by one of several generators, chosen at random (paper Table 4).

The draws carry the choice (``"choice"``, an index into ``generators``) and every
sub-generator's own draws for every image under the prefix ``"<k>."`` (k = position in the list),
so draws of single images still concatenate key by key. ``apply`` partitions the batch by choice
and lets each generator make its share in one vectorised call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from synthcl.errors import SynthclError
from synthcl.generators.base import Draws, SyntheticGenerator


class Mix(SyntheticGenerator):
    def __init__(self, generators: Sequence[SyntheticGenerator],
                 weights: Sequence[float] | None = None) -> None:
        if len(generators) < 2:
            raise SynthclError("mix: name at least two generators, e.g. mix:randomcrop+gpnn")
        weights = [1.0] * len(generators) if weights is None else [float(w) for w in weights]
        if len(weights) != len(generators) or min(weights) < 0 or sum(weights) <= 0:
            raise SynthclError(f"mix: weights {weights} must be {len(generators)} non-negative "
                               f"numbers with a positive sum, one per generator")
        self.generators = list(generators)
        self.weights = [w / sum(weights) for w in weights]
        self.name = "mix:" + "+".join(g.name for g in self.generators)
        self.costly = any(g.costly for g in self.generators)

    def params(self) -> dict[str, Any]:
        return {"generators": [g.spec() for g in self.generators], "weights": self.weights}

    def check_size(self, height: int, width: int) -> None:
        for g in self.generators:
            g.check_size(height, width)

    def draw(self, batch: int, channels: int, height: int, width: int,
             generator: torch.Generator) -> Draws:
        weights = torch.tensor(self.weights, dtype=torch.float64)
        draws = {"choice": torch.multinomial(weights, batch, replacement=True,
                                             generator=generator)}
        for k, g in enumerate(self.generators):
            for key, value in g.draw(batch, channels, height, width, generator).items():
                draws[f"{k}.{key}"] = value
        return draws

    def apply(self, images: torch.Tensor, draws: Draws) -> torch.Tensor:
        out = torch.empty_like(images)
        choice = draws["choice"].to(images.device)
        for k, g in enumerate(self.generators):
            rows = (choice == k).nonzero()[:, 0]
            if len(rows):
                prefix = f"{k}."
                sub = {key[len(prefix):]: value[rows.cpu()] for key, value in draws.items()
                       if key.startswith(prefix)}
                out[rows] = g.apply(images[rows], sub)
        return out
