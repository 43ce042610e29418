"""Exact nearest neighbours between two sets of vectors by tiled matrix products.

Squared L2 distances are ``|q|^2 + |k|^2 - 2 q.k``; ``|k|^2 - 2 q.k`` is one matrix product per
tile of queries (keys augmented with their squared norm, so no separate pass adds it), and tiles
hold at most ``TILE_ELEMENTS`` distances, so memory stays bounded whatever the number of queries.
Optional per-key weights multiply the distances (GPNN's completeness term).

The minimum of each row is found in two steps: the minimum of every block of ``BLOCK``
consecutive keys (one fast ``amin`` over the tile), then the exact position inside the best block
(and, when asked for, the second-smallest distance from the two best blocks). This gives the same
answer as ``min`` over the row at a fraction of its cost, the lowest index among exact ties (as
``min`` returns the first minimum of the best block, itself the first best block); keys are padded
to whole blocks with infinitely distant dummies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

TILE_ELEMENTS = 1 << 22
BLOCK = 128


class Keys:
    """Keys (P, d) prepared once for many searches, padded to whole blocks with infinitely distant
    dummies: ``vectors``, squared norms ``sqnorm`` and ``augmented`` rows ``[-2 k, |k|^2]``, so
    that one product with a query row ``[q, 1]`` gives ``|k|^2 - 2 q.k``."""

    def __init__(self, keys: torch.Tensor) -> None:
        self.count = len(keys)
        padding = -self.count % BLOCK
        self.vectors = torch.cat([keys, keys.new_zeros((padding, keys.shape[1]))])
        norms = torch.linalg.vector_norm(keys, dim=1).square_()
        self.sqnorm = torch.cat([norms, norms.new_full((padding,), float("inf"))])
        self.augmented = torch.cat([-2 * self.vectors, self.sqnorm[:, None]], 1)

    def __len__(self) -> int:
        return self.count


@dataclass
class Neighbours:
    """For every query: ``index`` of the nearest key, its squared distance ``dist`` and, when
    asked for, the squared distance ``second`` to the second-nearest key (inf if none)."""

    index: torch.Tensor
    dist: torch.Tensor
    second: torch.Tensor | None = None


def nearest(queries: torch.Tensor, keys: Keys | torch.Tensor, weights: torch.Tensor | None = None,
            second: bool = False, tile_elements: int = TILE_ELEMENTS) -> Neighbours:
    """Nearest key (rows of ``keys``) of every query (rows of ``queries`` (N, d))."""
    keys = keys if isinstance(keys, Keys) else Keys(keys)
    padded = len(keys.sqnorm)
    if weights is not None:
        weights = torch.cat([weights, weights.new_ones(padded - len(keys))])
    rows = max(1, tile_elements // padded)
    index, dist, runner_up = [], [], []
    for start in range(0, len(queries), rows):
        q = queries[start:start + rows]
        q_sqnorm = torch.linalg.vector_norm(q, dim=1).square_()
        scores = torch.cat([q, q.new_ones((len(q), 1))], 1) @ keys.augmented.T  # |k|^2 - 2q.k
        if weights is not None:
            scores = (scores + q_sqnorm[:, None]) * weights
        best, where, next_best = _smallest(scores, second)
        if weights is None:                  # |q|^2 is a per-query constant: added afterwards
            best += q_sqnorm
            if second:
                next_best += q_sqnorm
        index.append(where)
        dist.append(best)
        runner_up.append(next_best)
    result = Neighbours(torch.cat(index), torch.cat(dist).clamp_(min=0))
    if second:
        result.second = torch.cat(runner_up).clamp_(min=0)
    return result


def _smallest(scores: torch.Tensor, second: bool
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Per row of ``scores`` (rows, blocks * BLOCK): smallest value, its column, and the second
    smallest value when ``second``."""
    rows = len(scores)
    blocks = scores.view(rows, -1, BLOCK)
    block_min = blocks.amin(2)
    best_block = block_min.argmin(1)                            # the first of exact ties
    inside = blocks[torch.arange(rows, device=scores.device), best_block]  # (rows, BLOCK)
    best, column = inside.min(1)                                # the first of exact ties
    if not second:
        return best, best_block * BLOCK + column, None
    next_best = inside.topk(2, dim=1, largest=False).values[:, 1]
    if block_min.shape[1] > 1:
        next_best = torch.minimum(next_best, block_min.topk(2, dim=1, largest=False).values[:, 1])
    return best, best_block * BLOCK + column, next_best
