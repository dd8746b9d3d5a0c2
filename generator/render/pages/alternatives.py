"""'What should I use instead?': the models on the same hardware that beat this one on two counts.

Both lists compare within one hardware and configuration, with the accuracy of
the weights each model names (as the leaderboard does): models both faster at
batch 1 and more accurate, and models both smaller (fewer parameters) and more
accurate. "Faster" means the other model's 95 % interval of the time per image
lies wholly below this one's (a median that is lower by less than the timing's
spread is no evidence). A model missing either figure takes no part, and the
page says so.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass

from generator.render import data, fmt
from generator.render.data import Run
from generator.render.order import model_key
from generator.render.pages.common import Link, Table, label, model_path, rel
from generator.render.pages.leaderboard import accuracy_of_weights
from generator.schema import Record

SHOWN = 10  # rows per list; the leaderboard has the rest


@dataclass(frozen=True)
class Alternative:
    title: str
    table: Table | None  # None: nothing qualifies, or this model cannot be compared (see ``note``)
    note: str


def _top1(record: Record) -> float | None:
    return accuracy_of_weights(record).top1_percent


def _ms_b1(record: Record) -> float | None:
    return data.ms_per_image(data.ok_batch(record, 1))


Span = tuple[float, float, float]  # (value, low, high); low = high = value where there is no interval


def _time_span(record: Record) -> Span | None:
    """Time per image at batch 1 with its 95 % interval: 'faster' must hold beyond the timing's spread."""
    result = data.ok_batch(record, 1)
    value = data.ms_per_image(result)
    if value is None:
        return None
    low, high = data.ms_per_image_low(result), data.ms_per_image_high(result)
    return (value, value if low is None else low, value if high is None else high)


def _size_span(record: Record) -> Span | None:
    value = data.params_millions(record)
    return None if value is None else (value, value, value)


@dataclass(frozen=True)
class Candidate:
    """One record of a run that has a top-1, worked out once per run, not once per model page."""

    record: Record
    top1: float


@dataclass(frozen=True)
class Pool:
    """A run's records with a top-1, most accurate first (the order the lists show), and each measure's
    upper ends in that order: a model's list is then a scan of the front of one list of numbers, up to
    the last model that is more accurate (a zoo's thousand pages scan a thousand-long pool three times each)."""

    ranked: list[Candidate]
    minus_top1: list[float]  # ascending: for bisect
    highs: dict[str, list[float]]  # by measure name; inf where the measure is missing (never lower)


def candidates(run: Run) -> Pool:
    """What ``alternatives`` compares a model of ``run`` with."""
    accurate = [(other, top1) for other in run.records if (top1 := _top1(other)) is not None]
    ranked = [
        Candidate(other, top1) for other, top1 in sorted(accurate, key=lambda pair: (-pair[1], model_key(pair[0])))
    ]
    highs = {
        name: [math.inf if (span := measure(c.record)) is None else span[2] for c in ranked]
        for name, measure in _MEASURES.items()
    }
    return Pool(ranked, [-c.top1 for c in ranked], highs)


_MEASURES: dict[str, Callable[[Record], Span | None]] = {"time": _time_span, "size": _size_span}


def _better(record: Record, pool: Pool, page: str, title: str, what: str, measure_name: str) -> Alternative:
    measure = _MEASURES[measure_name]
    own_top1, own = _top1(record), measure(record)
    if own_top1 is None or own is None:
        missing = "no accuracy is known for it" if own_top1 is None else f"its {what} was not measured"
        return Alternative(title, None, f"Cannot be compared: {missing}.")
    more_accurate = bisect.bisect_left(pool.minus_top1, -own_top1)  # the front of the pool: top-1 strictly higher
    own_low = own[1]
    # Their whole interval below this model's.
    lower = [index for index, high in enumerate(pool.highs[measure_name][:more_accurate]) if high < own_low]
    found = [c for c in (pool.ranked[index] for index in lower) if c.record.model.name != record.model.name]
    if not found:
        return Alternative(title, None, f"None: no model measured here is both more accurate and lower in {what}.")
    rows: list[list[str | Link]] = [
        [
            Link(label(c.record), rel(page, model_path(c.record))),
            fmt.sig(c.top1, 4),
            fmt.signed(c.top1 - own_top1, 3),
            fmt.sig(_ms_b1(c.record), 4),
            fmt.sig(data.params_millions(c.record), 3),
            fmt.sig(data.gmacs(c.record), 3),
        ]
        for c in found[:SHOWN]
    ]
    more = len(found) - SHOWN
    basis = " (time: 95 % intervals that do not overlap)" if measure is _time_span else ""
    note = f"{fmt.plural(len(found), 'model')}, most accurate first{basis}" + (
        f"; {more} more in the models index." if more > 0 else "."
    )
    return Alternative(
        title,
        Table(
            [
                "model",
                "top-1 (%)",
                "top-1 gain (points)",
                "ms per image at batch 1",
                "parameters (M)",
                "GMACs per image",
            ],
            rows,
        ),
        note,
    )


def alternatives(record: Record, run: Run, page: str, pool: Pool | None = None) -> list[Alternative]:
    """Both lists for ``record`` on ``run``; ``pool``: ``candidates(run)``, when the caller keeps it for every page."""
    if pool is None:
        pool = candidates(run)
    return [
        _better(record, pool, page, "Faster and more accurate", "time per image at batch 1", "time"),
        _better(record, pool, page, "Smaller and more accurate", "parameter count", "size"),
    ]


def measured_when(record: Record) -> str:
    """The run's date and the project commit that measured it, as the record states them."""
    commit = record.run.git_commit
    return f"measured {record.run.date} at commit {commit[:12] if commit else 'unknown (not recorded)'}"
