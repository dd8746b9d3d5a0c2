"""Plain accessors over records: one definition of every derived metric.

Charts, findings, tables and the CSV all read metrics through these functions,
so a number means the same thing everywhere it appears. ``None`` is "not
measured" and is carried through, never replaced by zero.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from generator.render.load import LoadedRecord
from generator.schema import (
    IMAGENET_VAL_IMAGES,
    OTHER_PROCESSES_CPU_SHARE_FLAGGED,
    BatchResult,
    Config,
    Hardware,
    MachineCeilings,
    MeasuredAccuracy,
    Record,
    Software,
)

MB = 1_000_000  # decimal megabytes, as the study's axes (MB)
STUDY_LARGE_BATCH = 16  # the study's second batch size in Figs. 7-9 and the operations claim


# Weights known to be their architecture's original training recipe though their
# name does not say so (timm's only Inception-v4 weights, ported from Google's release).
ORIGINAL_WEIGHTS_BY_NAME = frozenset({"inception_v4.tf_in1k"})

Recipe = Literal["original", "later", "not stated"]


def full_evaluation(record: Record) -> MeasuredAccuracy | None:
    """The local evaluation if it covered the whole validation set; a limited run never counts."""
    measured = record.accuracy.measured
    return measured if measured is not None and measured.images >= IMAGENET_VAL_IMAGES else None


def limited_evaluation(record: Record) -> MeasuredAccuracy | None:
    """The local evaluation if it covered only part of the validation set (shown, never used)."""
    measured = record.accuracy.measured
    return measured if measured is not None and measured.images < IMAGENET_VAL_IMAGES else None


def _accuracy_and_source(record: Record, field: str) -> tuple[float | None, str]:
    """Original recipe, else the published figure, else a full local evaluation: one rule for top-1 and top-5,
    and the source named beside the value it gave (``top1`` and ``top1_source`` cannot disagree).

    A record that names an original recipe is read from it alone: where that recipe has no figure,
    the published one (a later recipe's) is not passed off as the study's; a full evaluation still counts.
    """
    if record.accuracy.original_recipe is not None:
        value = getattr(record.accuracy.original_recipe, field)
        if value is not None:
            return float(value), "original recipe"
    else:
        published = record.accuracy.published
        if published is not None and getattr(published, field) is not None:
            return float(getattr(published, field)), "published"
    full = full_evaluation(record)
    if full is not None:
        return float(getattr(full, field)), "measured"
    return None, "unknown"


def _accuracy(record: Record, field: str) -> float | None:
    return _accuracy_and_source(record, field)[0]


def top1(record: Record) -> float | None:
    """Top-1 % as the study's figures and claims use it (see ``top1_source`` and ``accuracy_recipe``).

    The architecture's original training recipe where the record carries it
    (torchvision IMAGENET1K_V1, as the study had), else the published figure of
    the weights named, else an evaluation over the full validation set. An
    evaluation over fewer images is never used.
    """
    return _accuracy(record, "top1_percent")


def top5(record: Record) -> float | None:
    return _accuracy(record, "top5_percent")


def top1_source(record: Record) -> str:
    """Where ``top1`` came from: 'original recipe', 'published', 'measured', or 'unknown' when it is None."""
    return _accuracy_and_source(record, "top1_percent")[1]


def _weights_name(record: Record) -> str | None:
    published = record.accuracy.published
    return (published.weights if published is not None else None) or record.model.weights


def accuracy_recipe(record: Record) -> Recipe:
    """Which training recipe ``top1`` belongs to, so no figure mixes recipes silently.

    'original': the record carries the original recipe, or the weights named are
    it (torchvision's IMAGENET1K_V1, or weights listed in ORIGINAL_WEIGHTS_BY_NAME;
    a record whose published figure names its weights was written by a registry
    that fills ``original_recipe`` whenever the weights are a later one).
    'later': a later recipe and the record predates ``original_recipe``.
    'not stated': nothing says which recipe (or no top-1 at all).
    """
    source = top1_source(record)
    if source == "original recipe":
        return "original"
    published = record.accuracy.published
    if source != "published" or published is None:
        return "not stated"  # no top-1, or a full local evaluation of weights whose recipe the record does not name
    if record.model.source == "generator":
        return "original"  # the study's hand-written networks carry the figure of their authors' own training
    name = _weights_name(record)
    if name is None:
        return "not stated"
    if name in ORIGINAL_WEIGHTS_BY_NAME or name.endswith("IMAGENET1K_V1"):
        return "original"
    if published.weights is not None and record.model.source == "torchvision":
        return "original"  # the registry compared it with IMAGENET1K_V1 and found no earlier recipe
    if "_Weights." in name:
        return "later"
    return "not stated"


def later_recipe_top1(record: Record) -> float | None:
    """Top-1 of the later recipe, when the study's figure uses the original recipe beside it."""
    if record.accuracy.original_recipe is None or record.accuracy.published is None:
        return None
    return record.accuracy.published.top1_percent


def recipe_gain_points(records: Iterable[Record]) -> list[dict[str, object]]:
    """One row per model with both recipes: the same network, points better from training alone.

    Rows carry ``top1`` (original recipe, the figure's point), ``later_top1``,
    ``gain_points`` (later - original), the later weights' name and the values
    figures 1 and 2 place the second marker with (``gflops``, ``params_m``).
    """
    rows: list[dict[str, object]] = []
    for record in records:
        original, later = top1(record), later_recipe_top1(record)
        if original is None or later is None or record.accuracy.published is None:
            continue
        rows.append(
            {
                "model": record.model.study_name or record.model.name,
                "registry_name": record.model.name,
                "family": record.model.family,
                "top1": original,
                "later_top1": later,
                "gain_points": later - original,
                "later_weights": _weights_name(record) or "not named",
                "later_source": record.accuracy.published.source,
                "original_weights": record.accuracy.original_recipe.weights
                if record.accuracy.original_recipe
                else None,
                "gflops": gflops(record),
                "params_m": params_millions(record),
            }
        )
    return sorted(rows, key=lambda row: str(row["registry_name"]))


RECIPE_NOTE_NAMES = 12  # models named per list: a zoo's figure caption must not name a thousand


def _some_names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:RECIPE_NOTE_NAMES])
    more = len(names) - RECIPE_NOTE_NAMES
    return shown if more <= 0 else f"{shown} and {more} more (each model's page names its weights)"


def recipe_note(records: Iterable[Record]) -> str | None:
    """A sentence for a figure whose accuracies do not all come from the original recipe, else None."""
    later = sorted(r.model.study_name or r.model.name for r in records if accuracy_recipe(r) == "later")
    unstated = sorted(
        r.model.study_name or r.model.name
        for r in records
        if top1(r) is not None and accuracy_recipe(r) == "not stated"
    )
    parts = []
    if later:
        parts.append(
            "top-1 of a later training recipe (the record predates the original recipe's figure; "
            "re-measure to get it): " + _some_names(later)
        )
        # the study used each network's original recipe: these points sit higher than the study's would
    if unstated:
        parts.append("training recipe not stated in the record: " + _some_names(unstated))
    return ("Not the original training recipe — " + "; ".join(parts) + ".") if parts else None


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


IntervalBasis = Literal["within and across rounds", "within one round", "none"]


def _batch_interval_ms(result: BatchResult | None) -> tuple[float, float, IntervalBasis] | None:
    """95 % interval of the per-batch time and what it accounts for, or None when the record has none.

    The record keeps the interval of its point estimate (the median over rounds
    of the round medians) as ``ci95_low/high_ms_per_batch``. With one round (and
    every record migrated from schema 1) it covers the spread within that round
    only, not the drift between runs, and says so (``within one round``).
    """
    if result is None or result.status != "ok" or result.latency is None:
        return None
    latency = result.latency
    low, high = latency.ci95_low_ms_per_batch, latency.ci95_high_ms_per_batch
    if low is None or high is None:
        return None
    basis: IntervalBasis = "within and across rounds" if len(latency.rounds) > 1 else "within one round"
    return float(low), float(high), basis


def ms_per_image_low(result: BatchResult | None) -> float | None:
    """Lower end of the 95 % interval of the time per image (None: no interval)."""
    interval = _batch_interval_ms(result)
    return None if interval is None or result is None else interval[0] / result.batch_size


def ms_per_image_high(result: BatchResult | None) -> float | None:
    interval = _batch_interval_ms(result)
    return None if interval is None or result is None else interval[1] / result.batch_size


def images_per_s_low(result: BatchResult | None) -> float | None:
    """Lower end of the throughput interval: the batch at the slow end of the time interval."""
    interval = _batch_interval_ms(result)
    if interval is None or result is None or interval[1] <= 0:
        return None
    return 1000.0 * result.batch_size / interval[1]


def images_per_s_high(result: BatchResult | None) -> float | None:
    interval = _batch_interval_ms(result)
    if interval is None or result is None or interval[0] <= 0:
        return None  # a lower time bound at or below 0 bounds no throughput
    return 1000.0 * result.batch_size / interval[0]


def interval_basis(result: BatchResult | None) -> IntervalBasis:
    interval = _batch_interval_ms(result)
    return "none" if interval is None else interval[2]


def rounds(result: BatchResult | None) -> int | None:
    """Rounds this batch size was timed in (a schema 1 record had one); None when not timed."""
    if result is None or result.status != "ok" or result.latency is None:
        return None
    return len(result.latency.rounds)


def other_processes_cpu_share(result: BatchResult | None) -> float | None:
    """The highest share of the CPUs other processes used while a round of this batch size was timed.

    None: not recorded (an older record, no /proc, a GPU run), which says nothing about how quiet it was.
    """
    if result is None or result.latency is None:
        return None
    shares = [one.other_processes_cpu_share for one in result.latency.rounds]
    recorded = [share for share in shares if share is not None]
    return max(recorded) if recorded else None


def contention_note(result: BatchResult | None) -> str | None:
    """Words for beside a time measured while other processes used more than the flagged share of the CPUs."""
    share = other_processes_cpu_share(result)
    if share is None or share <= OTHER_PROCESSES_CPU_SHARE_FLAGGED:
        return None
    return f"measured while other processes used {share * 100:.0f} % of the CPUs"


def timing_fields(result: BatchResult | None) -> dict[str, float | None]:
    """The per-point timing values under the names every chart and table uses (None: not measured)."""
    return {
        "ms_per_image": ms_per_image(result),
        "ms_per_image_low": ms_per_image_low(result),
        "ms_per_image_high": ms_per_image_high(result),
        "images_per_s": images_per_s(result),
        "images_per_s_low": images_per_s_low(result),
        "images_per_s_high": images_per_s_high(result),
    }


@dataclass(frozen=True)
class TimingPoint:
    """One (model, batch size) timing with its 95 % interval and how it was obtained."""

    model: str
    batch_size: int
    ms_per_image: float
    ms_per_image_low: float | None
    ms_per_image_high: float | None
    images_per_s: float
    images_per_s_low: float | None
    images_per_s_high: float | None
    timed_iterations: int
    rounds: int
    stop_reason: str
    interval_basis: IntervalBasis

    @property
    def has_interval(self) -> bool:
        return self.ms_per_image_low is not None and self.ms_per_image_high is not None


def timing_point(record: Record, result: BatchResult | None) -> TimingPoint | None:
    """The timing of ``result`` (a batch of ``record``), or None when it was not timed."""
    ms, ips = ms_per_image(result), images_per_s(result)
    if result is None or result.latency is None or ms is None or ips is None:
        return None
    return TimingPoint(
        model=record.model.name,
        batch_size=result.batch_size,
        ms_per_image=ms,
        ms_per_image_low=ms_per_image_low(result),
        ms_per_image_high=ms_per_image_high(result),
        images_per_s=ips,
        images_per_s_low=images_per_s_low(result),
        images_per_s_high=images_per_s_high(result),
        timed_iterations=result.latency.timed_iterations,
        rounds=rounds(result) or 1,
        stop_reason=str(result.latency.stop_reason),
        interval_basis=interval_basis(result),
    )


def timing_points(records: Iterable[Record]) -> list[TimingPoint]:
    """Every timed (model, batch size) point of ``records``, ordered by model and batch size."""
    points = [
        point for record in records for result in record.batches if (point := timing_point(record, result)) is not None
    ]
    return sorted(points, key=lambda p: (p.model, p.batch_size))


def memory_bytes(result: BatchResult | None) -> float | None:
    """Peak memory of the run at this batch size: the study's "maximum system memory".

    GPU: NVML device memory in use above the run's baseline (what the device
    held before the measuring process touched it), so the CUDA context, the
    model and its activations count, and the driver's reservation and other
    processes do not (NVML v1 counts the reservation as used: hundreds of MB
    that would swamp the small models). Else the allocator's reserved peak. CPU:
    peak resident set size of the measuring process.
    """
    if result is None or result.status != "ok" or result.memory is None:
        return None
    memory = result.memory
    if memory.nvml_used_bytes is not None and memory.nvml_baseline_used_bytes is not None:
        return float(max(0, memory.nvml_used_bytes - memory.nvml_baseline_used_bytes))
    for value in (memory.cuda_peak_reserved_bytes, memory.peak_rss_bytes):
        if value is not None:
            return float(value)
    return None


def memory_kind(record: Record) -> str:
    """Which memory ``memory_bytes`` reports for this record, in words."""
    for result in record.batches:
        if result.memory is None:
            continue
        if result.memory.nvml_used_bytes is not None and result.memory.nvml_baseline_used_bytes is not None:
            return "GPU memory in use above the run's baseline (NVML, whole device: context, model, activations)"
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


# --- the machine's ceilings: achieved rate, fraction of peak, arithmetic intensity ---------------------------------

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2}


def achieved_gflops(record: Record, result: BatchResult | None) -> float | None:
    """GFLOP/s one batch size reached: 2 x GMACs (fvcore, all operators) x batch size / median time per batch."""
    ips = images_per_s(result)
    per_image = gflops(record)
    return None if ips is None or per_image is None else per_image * ips


def fraction_of_peak(record: Record, result: BatchResult | None, ceilings: MachineCeilings | None) -> float | None:
    """Achieved GFLOP/s over the machine's measured peak matmul GFLOP/s (None: either not measured)."""
    achieved = achieved_gflops(record, result)
    return None if achieved is None or ceilings is None else achieved / ceilings.matmul.gflops


def bytes_moved(record: Record, batch_size: int) -> float | None:
    """Bytes of one batch for the roofline: parameter and buffer bytes once per batch, plus fvcore's activation
    count per image x batch size x the run's bytes per element (each activation counted once; caches ignored).
    A convention for placing models on the roofline, not a measurement of memory traffic."""
    operations, parameters = record.operations, record.parameters
    if operations is None or parameters is None or operations.activations_millions is None:
        return None
    element = BYTES_PER_ELEMENT[record.config.precision]
    return (
        parameters.parameters_bytes
        + parameters.buffers_bytes
        + operations.activations_millions * 1e6 * batch_size * element
    )


def arithmetic_intensity(record: Record, batch_size: int) -> float | None:
    """FLOPs per byte of one batch: 2 x GMACs x 10^9 x batch size / ``bytes_moved``."""
    moved, per_image = bytes_moved(record, batch_size), gflops(record)
    if moved is None or per_image is None or moved <= 0:
        return None
    return per_image * 1e9 * batch_size / moved


def roofline_gflops(ceilings: MachineCeilings, intensity: float) -> float:
    """The roof at ``intensity`` FLOP/byte: min(peak, bandwidth x intensity)."""
    return min(ceilings.matmul.gflops, ceilings.bandwidth.gb_per_s * intensity)


@dataclass
class Run:
    """All records of one hardware and one configuration."""

    hardware_slug: str
    config_slug: str
    items: list[LoadedRecord] = field(default_factory=list)
    # Another machine among the runs shown has the same hardware name (two hosts with one CPU model):
    # set by ``group_runs``, the one place that sees every run, so the site never names two machines alike.
    name_shared: bool = False

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
    def machine_name(self) -> str:
        """The machine as the site names it: its hardware name, plus its folder's slug when that name is shared."""
        return f"{self.hardware.name} ({self.hardware_slug})" if self.name_shared else self.hardware.name

    @property
    def label(self) -> str:
        """The run as the site names it (unique among the runs shown): machine and configuration."""
        return f"{self.machine_name}, {self.config_slug}"

    @property
    def batch_sizes(self) -> list[int]:
        return sorted({result.batch_size for record in self.records for result in record.batches})

    def study_records(self) -> list[Record]:
        return [record for record in self.records if record.model.study_name is not None]

    def claims_run(self, min_models: int) -> Run:
        """The records the study's claims are tested on: its own networks when at least ``min_models``
        were measured, so that runs with a larger line-up stay comparable with the study and with each
        other (and with the study-scope figures the verdicts link to); otherwise every record."""
        study = [item for item in self.items if item.record.model.study_name is not None]
        return replace(self, items=study) if len(study) >= min_models else self

    @functools.cached_property
    def ceilings(self) -> MachineCeilings | None:
        """The ceilings of the run folder holding most of this run's records (None: not measured).

        Read once per run (after ``group_runs`` filled it): every model row of a hardware page asks."""
        by_folder: dict[Path, list[LoadedRecord]] = {}
        for item in self.items:
            by_folder.setdefault(item.source.parent, []).append(item)
        if not by_folder:
            return None
        largest = max(by_folder.values(), key=len)
        return largest[0].ceilings


def group_runs(items: Sequence[LoadedRecord]) -> list[Run]:
    """Records by (hardware, configuration), in slug order; machines sharing a hardware name are marked so."""
    runs: dict[tuple[str, str], Run] = {}
    for item in items:
        key = item.run_key
        runs.setdefault(key, Run(*key)).items.append(item)
    slugs_by_name: dict[str, set[str]] = {}
    for run in runs.values():
        slugs_by_name.setdefault(run.hardware.name, set()).add(run.hardware_slug)
    for run in runs.values():
        run.name_shared = len(slugs_by_name[run.hardware.name]) > 1
    return [runs[key] for key in sorted(runs)]
