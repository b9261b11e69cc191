"""Confidence intervals for the report: Wilson for rates, normal approximation for means.

The Wilson score interval stays inside [0, 1] and behaves well for the small counts and
extreme rates (0% or 100% harmful) typical of safety evaluations, where the plain normal
interval collapses to a point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95% standard-normal quantile


@dataclass(frozen=True)
class Proportion:
    """``k`` successes out of ``n`` with a Wilson interval; rate and bounds ``None`` if n = 0."""

    k: int
    n: int
    rate: float | None
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class Mean:
    """Mean of ``n`` values with a normal-approximation interval (``None`` bounds if n < 2)."""

    n: int
    mean: float | None
    lo: float | None
    hi: float | None


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n > 0`` trials."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(outcomes: Iterable[bool], z: float = Z95) -> Proportion:
    """Count the ``True`` outcomes and attach the Wilson interval."""
    values = list(outcomes)
    k, n = sum(values), len(values)
    if n == 0:
        return Proportion(0, 0, None, None, None)
    lo, hi = wilson_interval(k, n, z)
    return Proportion(k, n, k / n, lo, hi)


def mean_interval(values: Iterable[float], z: float = Z95) -> Mean:
    """Mean with ``mean ± z * s / sqrt(n)`` (``s`` the sample standard deviation)."""
    data = [float(v) for v in values]
    n = len(data)
    if n == 0:
        return Mean(0, None, None, None)
    mean = math.fsum(data) / n
    if n == 1:
        return Mean(1, mean, None, None)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in data) / (n - 1))
    half = z * sd / math.sqrt(n)
    return Mean(n, mean, mean - half, mean + half)
