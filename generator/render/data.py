"""Plain accessors over records: one definition of every derived metric.

Charts, findings, tables and the CSV all read metrics through these functions,
so a number means the same thing everywhere it appears. ``None`` is "not
measured" and is carried through, never replaced by zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from generator.render.load import LoadedRecord
from generator.schema import BatchResult, Config, Hardware, Record, Software

MB = 1_000_000  # decimal megabytes, as the study's axes (MB)
STUDY_LARGE_BATCH = 16  # the study's second batch size in Figs. 7-9 and the operations claim


def _accuracy(record: Record, field: str) -> float | None:
    """The published figure, else a local evaluation: the same rule for top-1 and top-5."""
    published = record.accuracy.published
    if published is not None and getattr(published, field) is not None:
        return float(getattr(published, field))
    if record.accuracy.measured is not None:
        return float(getattr(record.accuracy.measured, field))
    return None


def top1(record: Record) -> float | None:
    """Top-1 %: the published figure, else a local evaluation (see ``top1_source``)."""
    return _accuracy(record, "top1_percent")


def top5(record: Record) -> float | None:
    return _accuracy(record, "top5_percent")


def top1_source(record: Record) -> str:
    published = record.accuracy.published
    if published is not None and published.top1_percent is not None:
        return "published"
    if record.accuracy.measured is not None:
        return "measured"
    return "unknown"


def params_millions(record: Record) -> float | None:
    return None if record.parameters is None else record.parameters.count / 1e6


def gflops(record: Record) -> float | None:
    return None if record.operations is None else record.operations.gflops


def gmacs(record: Record) -> float | None:
    return None if record.operations is None else record.operations.gmacs


def density(record: Record) -> float | None:
    """Information density: top-1 percentage points per million parameters (the study's Fig. 10)."""
    accuracy, millions = top1(record), params_millions(record)
    if accuracy is None or not millions:
        return None
    return accuracy / millions


def batch(record: Record, size: int) -> BatchResult | None:
    for result in record.batches:
        if result.batch_size == size:
            return result
    return None


def ok_batch(record: Record, size: int) -> BatchResult | None:
    result = batch(record, size)
    return result if result is not None and result.status == "ok" else None


def ms_per_image(result: BatchResult | None) -> float | None:
    if result is None or result.status != "ok" or result.latency is None:
        return None
    return result.latency.median_ms_per_image


def images_per_s(result: BatchResult | None) -> float | None:
    if result is None or result.status != "ok" or result.latency is None:
        return None
    return result.latency.throughput_images_per_s


def memory_bytes(result: BatchResult | None) -> float | None:
    """Peak memory of the run at this batch size: the study's "maximum system memory".

    GPU: NVML device memory in use (includes the CUDA context, as the study's
    system memory did), else the allocator's reserved peak. CPU: peak resident
    set size of the measuring process. Absolute, not net of the baseline, so a
    floor shows as in the study's Fig. 5 and 6.
    """
    if result is None or result.status != "ok" or result.memory is None:
        return None
    memory = result.memory
    for value in (memory.nvml_used_bytes, memory.cuda_peak_reserved_bytes, memory.peak_rss_bytes):
        if value is not None:
            return float(value)
    return None


def memory_kind(record: Record) -> str:
    """Which memory ``memory_bytes`` reports for this record, in words."""
    for result in record.batches:
        if result.memory is None:
            continue
        if result.memory.nvml_used_bytes is not None:
            return "GPU memory in use (NVML, whole device)"
        if result.memory.cuda_peak_reserved_bytes is not None:
            return "GPU memory reserved by PyTorch (peak)"
        if result.memory.peak_rss_bytes is not None:
            return "process resident memory (peak RSS)"
    return "not measured"


def net_power_w(result: BatchResult | None) -> float | None:
    if result is None or result.status != "ok" or result.power is None or not result.power.available:
        return None
    return result.power.net_w


def energy_j(result: BatchResult | None) -> float | None:
    if result is None or result.status != "ok" or result.power is None or not result.power.available:
        return None
    return result.power.energy_j_per_image


def large_batch(records: Iterable[Record]) -> int | None:
    """The batch size to set beside batch 1: the study's 16, or the nearest measured stand-in.

    A run may stop below 16 (fewer --batch-sizes, or out of memory); then the
    largest measured batch size below 16 takes its place, and every title and
    sentence that uses it says so.
    """
    sizes = sorted({b.batch_size for r in records for b in r.batches if b.status == "ok" and b.batch_size > 1})
    if STUDY_LARGE_BATCH in sizes:
        return STUDY_LARGE_BATCH
    below = [size for size in sizes if size < STUDY_LARGE_BATCH]
    if below:
        return below[-1]
    return sizes[0] if sizes else None


def batch_title(size: int) -> str:
    """'batch 16', or 'batch 8 (16 not measured)' for a stand-in."""
    if size in (1, STUDY_LARGE_BATCH):
        return f"batch {size}"
    return f"batch {size} (the study's {STUDY_LARGE_BATCH} not measured)"


def power_unavailable_reasons(records: Iterable[Record]) -> list[str]:
    """Distinct reasons the records give for power not being measured."""
    reasons: set[str] = set()
    for record in records:
        for result in record.batches:
            if result.power is not None and not result.power.available:
                reasons.add(result.power.unavailable_reason or "no reason recorded")
    return sorted(reasons)


def failures(record: Record) -> list[tuple[int | None, str, str]]:
    """(batch size or None for the whole model, status, message) for everything not 'ok'."""
    found: list[tuple[int | None, str, str]] = []
    if record.status != "ok":
        found.append((None, record.status, record.error or "no message recorded"))
    for result in record.batches:
        if result.status != "ok":
            found.append((result.batch_size, result.status, result.error or "no message recorded"))
    return found


@dataclass
class Run:
    """All records of one hardware and one configuration."""

    hardware_slug: str
    config_slug: str
    items: list[LoadedRecord] = field(default_factory=list)

    @property
    def records(self) -> list[Record]:
        return [item.record for item in self.items]

    @property
    def key(self) -> tuple[str, str]:
        return (self.hardware_slug, self.config_slug)

    @property
    def hardware(self) -> Hardware:
        return self.items[0].record.hardware

    @property
    def config(self) -> Config:
        return self.items[0].record.config

    @property
    def software(self) -> Software:
        return self.items[0].record.software

    @property
    def label(self) -> str:
        return f"{self.hardware.name}, {self.config_slug}"

    @property
    def batch_sizes(self) -> list[int]:
        return sorted({result.batch_size for record in self.records for result in record.batches})

    def study_records(self) -> list[Record]:
        return [record for record in self.records if record.model.study_name is not None]


def group_runs(items: Sequence[LoadedRecord]) -> list[Run]:
    runs: dict[tuple[str, str], Run] = {}
    for item in items:
        key = item.run_key
        runs.setdefault(key, Run(*key)).items.append(item)
    return [runs[key] for key in sorted(runs)]
