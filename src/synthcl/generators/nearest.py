"""Exact nearest neighbours between two sets of vectors by tiled matrix products.

Squared L2 distances are ``|q|^2 + |k|^2 - 2 q.k``; ``|k|^2 - 2 q.k`` is a matrix product (keys
augmented with their squared norm, so no separate pass adds it) per tile of ``TILE_ROWS`` queries
and chunk of ``CHUNK`` keys, whose scores (2 MB) are still in the L2 cache when the minimum of
every block of ``BLOCK`` consecutive keys is taken from them (one fast ``amin``); memory stays
bounded whatever the number of queries. Optional per-key weights multiply the distances (GPNN's
completeness term).

The minimum of each row is then the exact position inside the best block (and, when asked for, the
second-smallest distance: the rest of that block and the other blocks' minima). This gives the
same answer as ``min`` over the row at a fraction of its cost, the lowest index among exact ties
(as ``min`` returns the first minimum of the best block, itself the first best block); keys are
padded to whole blocks with infinitely distant dummies.

The results are those of one product per former tile of ``tile_elements`` distances, to the bit:
MKL gives every product of 7 or more query rows the same values whatever the grouping of rows or
keys, but rounds products of 1-6 rows differently, so a former tile of 1-6 rows is searched alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

TILE_ELEMENTS = 1 << 22    # the former tiles, whose remainders of 1-6 rows are kept (_tiles)
SCORE_ELEMENTS = 1 << 24   # most distances held at once (64 MB)
TILE_ROWS = 256
BLOCK = 128
CHUNK = 16 * BLOCK
SMALL_PRODUCT = 7          # products of fewer query rows round differently (MKL)


class Keys:
    """Keys (P, d) prepared once for many searches, padded to whole blocks with infinitely distant
    dummies: ``vectors``, squared norms ``sqnorm`` and ``augmented`` rows ``[-2 k, |k|^2]``, so
    that one product with a query row ``[q, 1]`` gives ``|k|^2 - 2 q.k`` (``chunks``: their
    transposed views, ``CHUNK`` keys each)."""

    def __init__(self, keys: torch.Tensor) -> None:
        self.count = len(keys)
        padding = -self.count % BLOCK
        self.vectors = torch.cat([keys, keys.new_zeros((padding, keys.shape[1]))])
        norms = torch.linalg.vector_norm(keys, dim=1).square_()
        self.sqnorm = torch.cat([norms, norms.new_full((padding,), float("inf"))])
        self.augmented = torch.cat([-2 * self.vectors, self.sqnorm[:, None]], 1)
        self.chunks = [rows.T for rows in self.augmented.split(CHUNK)]

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
    tiles = _tiles(len(queries), max(1, tile_elements // padded),
                   max(SMALL_PRODUCT, min(TILE_ROWS, SCORE_ELEMENTS // padded)))
    scores = queries.new_empty((max((stop - start for start, stop in tiles), default=0), padded))
    block_min = queries.new_empty((len(scores), padded // BLOCK))
    index, dist, runner_up = [], [], []
    for start, stop in tiles:
        q = queries[start:stop]
        n = len(q)
        q_sqnorm = torch.linalg.vector_norm(q, dim=1).square_()
        q = torch.cat([q, q.new_ones((n, 1))], 1)
        parts = zip(keys.chunks, scores[:n].split(CHUNK, 1),
                    block_min[:n].split(CHUNK // BLOCK, 1),
                    keys.chunks if weights is None else weights.split(CHUNK), strict=True)
        for chunk, part, low, weight in parts:    # |k|^2 - 2q.k, a chunk of keys at a time
            torch.mm(q, chunk, out=part)
            if weights is not None:
                part.add_(q_sqnorm[:, None]).mul_(weight)
            torch.amin(part.view(n, -1, BLOCK), 2, out=low)
        best, where, next_best = _smallest(scores[:n], block_min[:n], second)
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


def _tiles(count: int, rows: int, step: int) -> list[tuple[int, int]]:
    """(start, stop) of the query tiles. The former tiles had ``rows`` rows; products of 7 rows or
    more give the same values in any grouping, so these are searched ``step`` at a time (none
    shorter than 7), while a former tile of 1-6 rows stays as it was (it rounds differently)."""
    tail = count % rows if count > rows else count
    main = count - tail if 0 < tail < SMALL_PRODUCT else count
    if rows < SMALL_PRODUCT:
        main = 0
    tiles = [(start, min(start + step, main)) for start in range(0, main, step)]
    if len(tiles) > 1 and tiles[-1][1] - tiles[-1][0] < SMALL_PRODUCT:
        tiles[-2:] = [(tiles[-2][0], main)]
    return tiles + [(start, min(start + rows, count)) for start in range(main, count, rows)]


def _smallest(scores: torch.Tensor, block_min: torch.Tensor, second: bool
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Per row of ``scores`` (rows, blocks * BLOCK), given the minimum of each block: smallest
    value, its column, and the second smallest value when ``second``."""
    rows = torch.arange(len(scores), device=scores.device)
    best_block = block_min.argmin(1)                            # the first of exact ties
    inside = scores.view(len(rows), -1, BLOCK)[rows, best_block]  # (rows, BLOCK), a copy
    best, column = inside.min(1)                                # the first of exact ties
    if not second:
        return best, best_block * BLOCK + column, None
    inside[rows, column] = float("inf")                       # the rest of the row: its minimum
    block_min[rows, best_block] = float("inf")
    return best, best_block * BLOCK + column, torch.minimum(inside.amin(1), block_min.amin(1))
