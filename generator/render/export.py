"""The data downloads: every record flat as CSV and whole as JSON.

Full precision (Python's shortest round-trip float repr), empty cell for "not
measured": a spreadsheet must not read a missing value as 0.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence

from generator.render import data
from generator.render.load import LoadedRecord
from generator.render.order import model_key
from generator.render.pages.leaderboard import (
    accuracy_of_weights,
    best_throughput,
    fraction_of_peak,
    ms_per_image_interval,
)
from generator.schema import BatchResult, Record, document_to_json

Cell = str | int | float | bool | None
RecordColumn = Callable[[Record], Cell]
BatchColumn = Callable[[BatchResult], Cell]

RECORD_COLUMNS: tuple[tuple[str, RecordColumn], ...] = (
    ("hardware_slug", lambda r: r.hardware.slug),
    ("hardware_name", lambda r: r.hardware.name),
    ("configuration", lambda r: r.config.slug),
    ("device", lambda r: r.config.device),
    ("precision", lambda r: r.config.precision),
    ("threads", lambda r: r.config.threads),
    ("model", lambda r: r.model.name),
    ("family", lambda r: r.model.family),
    ("study_name", lambda r: r.model.study_name),
    ("source", lambda r: r.model.source),
    ("weights", lambda r: r.model.weights),
    ("input_size_px", lambda r: r.model.input_size_px),
    ("record_status", lambda r: r.status),
    ("record_error", lambda r: r.error),
    ("top1_percent", data.top1),
    ("top5_percent", data.top5),
    ("top1_source", data.top1_source),
    ("parameters_count", lambda r: None if r.parameters is None else r.parameters.count),
    ("parameters_bytes", lambda r: None if r.parameters is None else r.parameters.parameters_bytes),
    ("gmacs_per_image", data.gmacs),
    ("gflops_per_image", data.gflops),
    (
        "gmacs_conv_linear_matmul_per_image",
        lambda r: None if r.operations is None else r.operations.gmacs_conv_linear_matmul,
    ),
    ("operations_counter", lambda r: None if r.operations is None else r.operations.counter),
    ("memory_kind", data.memory_kind),
    ("run_date", lambda r: r.run.date),
    ("git_commit", lambda r: r.run.git_commit),
)
BATCH_COLUMNS: tuple[tuple[str, BatchColumn], ...] = (
    ("batch_size", lambda b: b.batch_size),
    ("batch_status", lambda b: b.status),
    ("batch_error", lambda b: b.error),
    ("median_ms_per_batch", lambda b: None if b.latency is None else b.latency.median_ms_per_batch),
    ("p10_ms_per_batch", lambda b: None if b.latency is None else b.latency.p10_ms_per_batch),
    ("p90_ms_per_batch", lambda b: None if b.latency is None else b.latency.p90_ms_per_batch),
    ("median_ms_per_image", data.ms_per_image),
    ("ci95_low_ms_per_image", data.ms_per_image_low),
    ("ci95_high_ms_per_image", data.ms_per_image_high),
    ("throughput_images_per_s", data.images_per_s),
    ("ci95_low_images_per_s", data.images_per_s_low),
    ("ci95_high_images_per_s", data.images_per_s_high),
    ("timed_iterations", lambda b: None if b.latency is None else b.latency.timed_iterations),
    ("rounds", data.rounds),
    ("stop_reason", lambda b: None if b.latency is None else b.latency.stop_reason),
    ("interval_basis", lambda b: None if data.ms_per_image(b) is None else data.interval_basis(b)),
    # memory_bytes is a float for the charts; the CSV keeps the records' whole bytes.
    ("peak_memory_bytes", lambda b: None if (value := data.memory_bytes(b)) is None else int(value)),
    ("peak_rss_bytes", lambda b: None if b.memory is None else b.memory.peak_rss_bytes),
    ("cuda_peak_allocated_bytes", lambda b: None if b.memory is None else b.memory.cuda_peak_allocated_bytes),
    ("nvml_used_bytes", lambda b: None if b.memory is None else b.memory.nvml_used_bytes),
    ("power_available", lambda b: None if b.power is None else b.power.available),
    ("power_unavailable_reason", lambda b: None if b.power is None else b.power.unavailable_reason),
    ("idle_power_w", lambda b: None if b.power is None else b.power.idle_w),
    ("mean_power_w", lambda b: None if b.power is None else b.power.mean_w),
    ("net_power_w", data.net_power_w),
    ("energy_j_per_image", data.energy_j),
)
COLUMNS: tuple[str, ...] = (
    *(name for name, _ in RECORD_COLUMNS),
    *(name for name, _ in BATCH_COLUMNS),
    "record_file",
)


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return _inert(value)


# A spreadsheet runs a cell that starts with one of these as a formula
# (OWASP "CSV injection"); record text is untrusted, so such cells get a
# leading apostrophe, which spreadsheets show as text. Numbers are never text
# cells here, so a negative number is not affected.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def records_csv(items: Sequence[LoadedRecord]) -> str:
    """One row per record and batch size (one row with empty batch columns for a record with none)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in items:
        head = [_cell(get(item.record)) for _, get in RECORD_COLUMNS]
        rows: list[BatchResult | None] = [*sorted(item.record.batches, key=lambda b: b.batch_size)] or [None]
        for result in rows:
            tail = [""] * len(BATCH_COLUMNS) if result is None else [_cell(get(result)) for _, get in BATCH_COLUMNS]
            writer.writerow([*head, *tail, str(item.site_path)])
    return out.getvalue()


def record_downloads(items: Sequence[LoadedRecord]) -> dict[str, bytes]:
    """Each record's own copy (at its ``site_path``), and every record in one JSON list
    (``data/records.json``) without each round's per-iteration samples.

    The samples are most of a record's bytes, and each record's own copy already
    holds them: copied twice, a zoo's site source grew past 100 MB. Everything else
    of the record is in the list as it was measured. Each record is dumped once for both.
    """
    files: dict[str, bytes] = {}
    lines = []
    for item in items:
        document = item.record.model_dump(mode="json")
        # One line each: Python's json module writes an unindented document in C (indented, in
        # pure Python: 30 s for a thousand models on three machines).
        files[str(item.site_path)] = document_to_json(document, indent=None).encode("utf-8")
        for batch in document["batches"]:
            latency = batch.get("latency")
            for round_ in (latency or {}).get("rounds", []):
                round_.pop("samples_ms_per_batch", None)
        lines.append(json.dumps(document, sort_keys=True, ensure_ascii=False))
    # One record per line: readable diffs.
    files["data/records.json"] = ("[\n" + ",\n".join(lines) + "\n]\n").encode("utf-8")
    return files


def leaderboard_csv(runs: Sequence[data.Run]) -> str:
    """The leaderboard of one hardware (all its configurations) as CSV, full precision, units in the names.

    The same figures as the models index, one row per record: what a reader
    would paste into a spreadsheet instead of copying the page.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LEADERBOARD_COLUMNS)
    for run in runs:
        for item in sorted(run.items, key=lambda item: model_key(item.record)):
            record = item.record
            b1 = data.ok_batch(record, 1)
            accuracy = accuracy_of_weights(record)
            best = best_throughput(record)
            memory = data.memory_bytes(b1)
            values: list[Cell] = [
                record.hardware.slug,
                record.config.slug,
                record.model.name,
                record.model.study_name,
                record.model.family,
                accuracy.top1_percent,
                accuracy.top5_percent,
                accuracy.weights,
                None if record.parameters is None else record.parameters.count,
                data.gmacs(record),
                data.ms_per_image(b1),
                *ms_per_image_interval(b1),
                None if best is None else best[0],
                None if best is None else best[1],
                None if memory is None else int(memory),
                data.memory_kind(record),
                data.energy_j(b1),
                fraction_of_peak(record, item.ceilings),
                record.status,
                record.run.date,
                record.run.git_commit,
                str(item.site_path),
            ]
            writer.writerow([_cell(value) for value in values])
    return out.getvalue()


LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "hardware_slug",
    "configuration",
    "model",
    "study_name",
    "family",
    "top1_percent",
    "top5_percent",
    "accuracy_weights",
    "parameters_count",
    "gmacs_per_image",
    "ms_per_image_batch1",
    "ms_per_image_batch1_low",
    "ms_per_image_batch1_high",
    "best_images_per_s",
    "best_images_per_s_batch_size",
    "peak_memory_bytes_batch1",
    "memory_kind",
    "energy_j_per_image_batch1",
    "fraction_of_peak_batch1",
    "record_status",
    "run_date",
    "git_commit",
    "record_file",
)
