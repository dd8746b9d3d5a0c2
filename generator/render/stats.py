"""Small exact statistics (no numpy: the render install stays light)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Fit:
    """y = intercept + slope * f(x), least squares, with its coefficient of determination."""

    slope: float
    intercept: float
    r2: float
    n: int

    def predict(self, x: float, transform: Callable[[float], float] = lambda v: v) -> float:
        return self.intercept + self.slope * transform(x)


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Fit | None:
    """Ordinary least squares; None when fewer than 3 points or no spread in x."""
    n = len(xs)
    if n < 3 or n != len(ys):
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return Fit(slope=slope, intercept=intercept, r2=r2, n=n)


def transformed_fit(xs: Sequence[float], ys: Sequence[float], transform: Callable[[float], float]) -> Fit | None:
    """Least squares of y on transform(x): R² is in y, so fits with different transforms compare."""
    return linear_fit([transform(x) for x in xs], ys)


def log_x(x: float) -> float:
    return math.log(x)


def inverse_x(x: float) -> float:
    return 1.0 / x


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0 for a single value."""
    if len(values) < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # ties share their mean rank
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman rank correlation; None with fewer than 3 points or no spread."""
    if len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = mean(rx), mean(ry)
    sx = math.sqrt(sum((r - mx) ** 2 for r in rx))
    sy = math.sqrt(sum((r - my) ** 2 for r in ry))
    if sx == 0 or sy == 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True)) / (sx * sy)


def pareto_front(points: Sequence[tuple[str, float, float]]) -> list[str]:
    """Names of points not dominated when lower cost (1st value) and higher gain (2nd) are better.

    Sorted by cost. A point is dominated if another costs no more and gains no
    less, strictly better in one of the two.
    """
    front: list[tuple[str, float, float]] = []
    for name, cost, gain in points:
        dominated = any((c <= cost and g >= gain) and (c < cost or g > gain) for _, c, g in points)
        if not dominated:
            front.append((name, cost, gain))
    front.sort(key=lambda point: (point[1], -point[2], point[0]))
    return [name for name, _, _ in front]


BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 20170524  # fixed: a verdict is a function of the records alone, the same on every render
CONFIDENCE = 0.95


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile of ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its 95 % interval (``low``/``high`` None when there is none)."""

    value: float
    low: float | None
    high: float | None

    @property
    def known(self) -> bool:
        return self.low is not None and self.high is not None

    def above(self, threshold: float) -> bool:
        """The whole interval lies above ``threshold``."""
        return self.low is not None and self.low > threshold

    def below(self, threshold: float) -> bool:
        return self.high is not None and self.high < threshold


def bootstrap(
    items: Sequence[T],
    statistic: Callable[[list[T], random.Random], float | None],
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``statistic`` over ``items`` resampled with replacement.

    ``statistic`` gets the resample and the generator (to draw each item's own
    measurement within its interval, where it has one); a None (e.g. no spread
    in x) drops that draw. None when fewer than half the draws give a value.
    """
    rng = random.Random(seed)
    values = []
    for _ in range(draws):
        sample = [items[rng.randrange(len(items))] for _ in items]
        value = statistic(sample, rng)
        if value is not None and math.isfinite(value):
            values.append(value)
    if len(values) < draws / 2:
        return None
    tail = (1 - CONFIDENCE) / 2
    return percentile(values, tail), percentile(values, 1 - tail)


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion ``successes / n`` (n > 0)."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def ratio_interval(numerator: Interval, denominator: Interval) -> Interval:
    """numerator / denominator with the interval of the extreme ratios (both intervals assumed to hold)."""
    value = numerator.value / denominator.value
    if not numerator.known or not denominator.known or not denominator.low or denominator.low <= 0:
        return Interval(value, None, None)
    return Interval(value, numerator.low / denominator.high, numerator.high / denominator.low)  # type: ignore[operator]
