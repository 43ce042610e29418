"""Exact nearest neighbours between two sets of vectors by tiled matrix products.

Squared L2 distances are ``|q|^2 + |k|^2 - 2 q.k``; the product is one ``addmm`` per tile of
queries, and tiles hold at most ``TILE_ELEMENTS`` distances, so memory stays bounded whatever the
number of queries. Optional per-key weights multiply the distances (GPNN's completeness term).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

TILE_ELEMENTS = 1 << 22


@dataclass
class Neighbours:
    """For every query: ``index`` of the nearest key, its squared distance ``dist`` and, when
    asked for, the squared distance ``second`` to the second-nearest key."""

    index: torch.Tensor
    dist: torch.Tensor
    second: torch.Tensor | None = None


def nearest(queries: torch.Tensor, keys: torch.Tensor, key_sqnorm: torch.Tensor | None = None,
            weights: torch.Tensor | None = None, second: bool = False,
            tile_elements: int = TILE_ELEMENTS) -> Neighbours:
    """Nearest key (rows of ``keys`` (P, d)) of every query (rows of ``queries`` (N, d))."""
    if key_sqnorm is None:
        key_sqnorm = torch.linalg.vector_norm(keys, dim=1).square_()
    take = 2 if second and len(keys) > 1 else 1
    rows = max(1, tile_elements // max(1, len(keys)))
    index, dist, runner_up = [], [], []
    for start in range(0, len(queries), rows):
        q = queries[start:start + rows]
        q_sqnorm = torch.linalg.vector_norm(q, dim=1, keepdim=True).square_()
        scores = torch.addmm(key_sqnorm, q, keys.T, alpha=-2)     # |k|^2 - 2 q.k
        if weights is not None:
            scores = (scores + q_sqnorm) * weights
        if take == 2:
            values, idx = scores.topk(2, dim=1, largest=False)
        else:
            values, idx = scores.min(dim=1, keepdim=True)
        if weights is None:
            values += q_sqnorm               # a per-query constant: added after the search
        index.append(idx[:, 0])
        dist.append(values[:, 0])
        if take == 2:
            runner_up.append(values[:, 1])
    result = Neighbours(torch.cat(index), torch.cat(dist).clamp_(min=0))
    if second:
        result.second = (torch.cat(runner_up).clamp_(min=0) if take == 2
                         else torch.full_like(result.dist, float("inf")))
    return result
