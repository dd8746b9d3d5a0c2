"""The models index as a leaderboard: one table per hardware and configuration, and a CSV per hardware.

Each row is one record. The Markdown table reads as-is on GitHub; on the built
site ``assets/leaderboard.js`` makes its headers sort and adds a family and a
name filter, reading numbers back from the cells (so a cell starts with its
number and units sit in the header). The accuracy here is the one a reader
would get: the published figure of the weights named (else a full local
evaluation), with those weights named beside it; the study's figures use the
original training recipe instead (``data.top1``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from generator.render import data, fmt
from generator.render.data import Run
from generator.render.order import model_key
from generator.render.pages.common import Link, Table, hardware_path, model_path, rel
from generator.schema import BatchResult, MachineCeilings, Record

PAGE = "models/index.md"
SHORT_WEIGHTS = 48  # characters of the weights' name shown in the table


@dataclass(frozen=True)
class AccuracyOfWeights:
    top1_percent: float | None
    top5_percent: float | None
    weights: str  # what the figures belong to, in words


def accuracy_of_weights(record: Record) -> AccuracyOfWeights:
    """Top-1/top-5 of the weights a user would load, and which weights those are."""
    published = record.accuracy.published
    if published is not None and published.top1_percent is not None:
        weights = published.weights or record.model.weights or published.source
        return AccuracyOfWeights(published.top1_percent, published.top5_percent, weights)
    full = data.full_evaluation(record)
    if full is not None:
        return AccuracyOfWeights(full.top1_percent, full.top5_percent, f"{full.weights_file} (evaluated here)")
    return AccuracyOfWeights(None, None, "no trained weights with a known accuracy")


def ms_per_image_interval(result: BatchResult | None) -> tuple[float | None, float | None]:
    """The 95 % interval of the time per image, from the data layer (None, None: no interval)."""
    return data.ms_per_image_low(result), data.ms_per_image_high(result)


def _short(weights: str) -> str:
    """A table-sized name for the weights: a figure quoted from a README or paper has a long source
    ('szagoruyko/imagenet-validation.torch README: bn-alexnet, ...'); the head names it, the model
    page and the CSV keep all of it."""
    head = re.split(r": |; ", weights, maxsplit=1)[0]
    return head if len(head) <= SHORT_WEIGHTS else head[: SHORT_WEIGHTS - 1].rstrip() + "…"


def best_throughput(record: Record) -> tuple[float, int] | None:
    """The highest images/s over the batch sizes measured, and the batch size it was reached at."""
    found = [(ips, result.batch_size) for result in record.batches if (ips := data.images_per_s(result)) is not None]
    return max(found, key=lambda item: (item[0], -item[1])) if found else None


def fraction_of_peak(record: Record, ceilings: MachineCeilings | None) -> float | None:
    """Achieved GFLOP/s at batch 1 over the machine's measured peak matmul GFLOP/s (None: either not measured)."""
    return data.fraction_of_peak(record, data.ok_batch(record, 1), ceilings)


def _batch1_status(record: Record) -> str:
    """Why a record has no time at batch 1, in a word the sort puts last."""
    result = data.batch(record, 1)
    if result is not None and result.status != "ok":
        return result.status
    if record.status != "ok":
        return record.status
    return fmt.MISSING


def _time_cell(record: Record) -> str:
    result = data.ok_batch(record, 1)
    value = data.ms_per_image(result)
    if value is None:
        return _batch1_status(record)
    low, high = ms_per_image_interval(result)
    interval = "" if low is None or high is None else f" ({fmt.sig(low, 4)}–{fmt.sig(high, 4)})"
    # After the number: the table's sort reads the number the cell starts with.
    note = data.contention_note(result)
    return fmt.sig(value, 4) + interval + ("" if note is None else f"; {note}")


def _energy_cell(record: Record) -> str:
    result = data.ok_batch(record, 1)
    if result is not None and result.power is not None and not result.power.available:
        return "not measurable"
    return fmt.sig(data.energy_j(result), 3)


def _model_text(record: Record) -> str:
    return f"{record.model.study_name} ({record.model.name})" if record.model.study_name else record.model.name


@dataclass(frozen=True)
class Leaderboard:
    label: str
    hardware: Link
    csv: Link
    memory_kind: str
    table: Table
    left_out: list[str]  # columns not shown for this run, and why


@dataclass(frozen=True)
class LeaderboardPage:
    title: str
    intro: str
    boards: list[Leaderboard]


def leaderboard(run: Run, page: str = PAGE) -> Leaderboard:
    records = sorted(run.records, key=model_key)
    ceilings = run.ceilings
    fractions = {record.model.name: fraction_of_peak(record, ceilings) for record in records}
    show_fraction = any(value is not None for value in fractions.values())
    rows: list[list[str | Link]] = []
    for record in records:
        accuracy = accuracy_of_weights(record)
        best = best_throughput(record)
        row: list[str | Link] = [
            Link(_model_text(record), rel(page, model_path(record))),
            record.model.family,
            fmt.sig(accuracy.top1_percent, 4, "not known"),
            fmt.sig(accuracy.top5_percent, 4, "not known"),
            _short(accuracy.weights),
            fmt.sig(data.params_millions(record), 3),
            fmt.sig(data.gmacs(record), 3),
            _time_cell(record),
            "not measured" if best is None else f"{fmt.sig(best[0], 3)} (batch {best[1]})",
            fmt.sig(None if (m := data.memory_bytes(data.ok_batch(record, 1))) is None else m / data.MB, 4),
            _energy_cell(record),
        ]
        if show_fraction:
            row.append(fmt.percent(None if (f := fractions[record.model.name]) is None else f * 100, 1, fmt.MISSING))
        rows.append(row)
    # Short headers: eleven columns must fit a page; units and conventions in brackets and in the intro.
    headers = [
        "model",
        "family",
        "top-1 (%)",
        "top-5 (%)",
        "accuracy of weights",
        "params (M)",
        "GMACs",
        "ms/image at batch 1 (95 % interval)",
        "best images/s (at batch)",
        "memory at batch 1 (MB)",
        "energy/image at batch 1 (J)",
    ]
    if show_fraction:
        headers.append("fraction of peak GFLOP/s at batch 1")
    left_out = (
        []
        if show_fraction
        else [
            "fraction of the machine's peak GFLOP/s: not measured (this run has no machine.json; "
            "'python -m generator ceilings' measures it)"
            if ceilings is None
            else "fraction of the machine's peak GFLOP/s: no model has both a time at batch 1 and a GMACs count"
        ]
    )
    slug = run.hardware_slug
    return Leaderboard(
        label=run.label,
        hardware=Link(run.machine_name, rel(page, hardware_path(slug))),
        csv=Link(f"{slug}.csv", rel(page, leaderboard_csv_path(slug))),
        memory_kind=_memory_word(records),
        table=Table(headers, rows),
        left_out=left_out,
    )


def _memory_word(records: Sequence[Record]) -> str:
    kinds = {data.memory_kind(record) for record in records} - {"not measured"}
    return "; ".join(sorted(kinds)) if kinds else "not measured"


def leaderboard_csv_path(hardware_slug: str) -> str:
    return f"data/leaderboard/{hardware_slug}.csv"


def leaderboard_page(runs: Sequence[Run]) -> LeaderboardPage:
    return LeaderboardPage(
        title="Models",
        intro=(
            "Every model measured, one table per hardware and configuration. On the site, click a column header "
            "to sort (again to reverse) and filter by family or name; values not measured always sort last. "
            "Top-1/top-5: the published figure of the weights named (else an evaluation of the whole ImageNet "
            "validation set here); timing uses random weights of the same architecture. GMACs: 10^9 "
            "multiply-accumulates per image at batch 1 (fvcore; GFLOPs = 2 × GMACs). Time: median per image at "
            "batch 1 with its 95 % interval; best images/s over the batch sizes measured. Energy: per image at "
            "batch 1 where the hardware's power was measured. MB = 10^6 bytes. Fraction of peak: achieved GFLOP/s at "
            "batch 1 (2 × GMACs / median time per image) over the machine's peak matmul GFLOP/s measured in the "
            "run's precision (a large GEMM, see the hardware page)."
        ),
        boards=[leaderboard(run) for run in runs],
    )
