"""Summary statistics over seeds: mean, sample standard deviation, paired Student-t intervals.

The 97.5% quantiles of Student's t are tabulated (scipy is not a dependency); between tabulated
degrees of freedom the next smaller one is used, which errs on the wide (conservative) side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
        17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064,
        25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000,
        120: 1.980}


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (two-sided 95%)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return T975[max(k for k in T975 if k <= df)]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def std(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n - 1); None for fewer than two values."""
    if len(values) < 2:
        return None
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def paired_ci(differences: Sequence[float]) -> tuple[float, float, float] | None:
    """(mean, low, high): the 95% Student-t confidence interval of the mean paired difference;
    None for fewer than two pairs."""
    s = std(differences)
    if s is None:
        return None
    m = mean(differences)
    half = t_quantile_975(len(differences) - 1) * s / math.sqrt(len(differences))
    return m, m - half, m + half


def pairs_for_half_width(sd: float, half_width: float, most: int = 999) -> int:
    """The fewest pairs (at least 2) whose 95% Student-t half-width, at sample standard deviation
    ``sd``, is at most ``half_width``; ``most`` when even that many are not enough."""
    if half_width <= 0:
        raise ValueError(f"half_width must be positive, got {half_width}")
    n = 2
    while n < most and t_quantile_975(n - 1) * sd / math.sqrt(n) > half_width:
        n += 1
    return n
