"""The measurement record: the one contract between the measure and render stages.

One JSON file per machine, configuration, software and model. The folder
layout belongs to ``generator.store`` (see its docstring): a run is one machine,
one configuration and one software stack (torch, torchvision, CUDA, driver), at
``measurements/<machine>/<config slug>/<software slug>/<model file stem>.json``.

Version 2 (from 1): latency is measured in rounds (``Latency.rounds``, each
with its own median, deciles, samples and stop reason); the batch-level median
is the median of the round medians and carries a 95% interval
(``ci95_low_ms_per_batch``/``ci95_high_ms_per_batch``, see generator.rounds);
``settings`` records how the run was measured (so a re-run knows whether it may
reuse a record); accuracy names the weights of a published figure and may carry
the architecture's original training recipe beside it.

Optional fields added within version 2 (an older record lacks them and loads
with them None, "not measured"; no migration is needed, since a missing field
reads as what it is): the hardware's CPU identification, torch's build, GPU
clocks, power-reading details, and each round's ``other_processes_cpu_share``
and ``scheduling_policy`` (how busy the rest of the machine was while it was
timed).

Numbers are strict: NaN and +/-Infinity are refused everywhere (also as JSON
literals), times, memory, parameters and operations cannot be negative, and
``record_problems`` checks the relations between fields (per-image time x batch
size = per-batch time, median inside p10..p90, summaries equal to what the kept
samples give, unique batch sizes, top-5 >= top-1, ...).

Conventions, stated once and carried in the field names:
- ``*_ms`` milliseconds, ``*_bytes`` bytes, ``*_w`` watts, ``*_j`` joules,
  ``*_percent`` percent, ``*_px`` pixels, ``*_s`` seconds, ``*_mhz`` MHz.
- ``gmacs``: 10^9 multiply-accumulates per image at batch 1; ``gflops`` is
  exactly ``2 * gmacs``. The study's "G-Ops" are roughly GFLOPs (see the
  methodology page).
- ``None`` always means "not measured" or "not available", never zero. The
  reason sits in a sibling ``*_reason`` or ``error`` field.

This module imports no torch: the render stage uses it on a machine without it.
Bump ``SCHEMA_VERSION`` on any change that an older reader would misread, and
add a migration to ``MIGRATIONS`` or let old files be refused with a message.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 2

Status = Literal["ok", "oom", "error", "skipped"]
Precision = Literal["fp32", "fp16", "bf16"]
Device = Literal["cpu", "cuda"]
ModelSource = Literal["torchvision", "timm", "generator"]


class _Strict(BaseModel):
    # Unknown keys are an error: a typo in a hand-edited record must not be
    # silently dropped, and a newer writer must bump the version. NaN and
    # +/-Infinity are refused in every float, dict values and lists included.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


NonNegative = Annotated[float, Field(ge=0)]


class ModelInfo(_Strict):
    name: str = Field(description="Registry name, e.g. 'resnet50', 'timm:inception_v4', 'bn_alexnet'.")
    family: str = Field(description="Architecture family used for colours and selectors, e.g. 'resnet'.")
    source: ModelSource = Field(description="Library whose code builds the architecture.")
    builder: str = Field(description="Fully qualified builder, e.g. 'torchvision.models.resnet50'.")
    weights: str | None = Field(
        description="Weights entry whose metadata (resolution, accuracy) applies. Weights are never "
        "loaded for measurement: models are built with random weights."
    )
    input_size_px: int = Field(gt=0, description="Square input resolution the weights were evaluated at.")
    architecture_source: str = Field(description="Citation or URL for the architecture definition.")
    study_name: str | None = Field(
        default=None, description="Name in Canziani et al. 2017 if the network is one of its 14."
    )


class PublishedAccuracy(_Strict):
    top1_percent: float | None = Field(ge=0, le=100)
    top5_percent: float | None = Field(ge=0, le=100)
    source: str = Field(description="Where the figure comes from (weights name and recipe, paper, CSV).")
    dataset: str = "ImageNet-1K validation, single centre crop"
    weights: str | None = Field(
        default=None, description="Weights entry the figure belongs to, e.g. 'ResNet50_Weights.IMAGENET1K_V1'."
    )


IMAGENET_VAL_IMAGES = 50_000  # ImageNet-1K validation set: only an evaluation over all of it is a top-1 to report


class MeasuredAccuracy(_Strict):
    top1_percent: float = Field(ge=0, le=100)
    top5_percent: float = Field(ge=0, le=100)
    images: int = Field(gt=0)
    weights_file: str = Field(description="File name of the local weights evaluated.")
    dataset_dir: str = Field(description="Validation folder as given on the command line.")
    date: str = Field(description="ISO 8601 date-time of the evaluation.")


class Accuracy(_Strict):
    published: PublishedAccuracy | None = None
    measured: MeasuredAccuracy | None = None
    original_recipe: PublishedAccuracy | None = Field(
        default=None,
        description="The architecture's original training recipe (e.g. torchvision IMAGENET1K_V1), set only "
        "when it differs from the weights named in 'published'.",
    )


class Config(_Strict):
    device: Device
    precision: Precision = "fp32"
    channels_last: bool = False
    compile: bool = False
    threads: int = Field(gt=0, description="torch.get_num_threads() while measuring.")
    tf32: bool = Field(description="TF32 matmul/convolution allowed (always False on CPU).")
    cudnn_benchmark: bool = Field(description="cuDNN autotuning on (False on CPU).")

    @property
    def slug(self) -> str:
        """Folder name of this configuration, e.g. 'fp32' or 'bf16-channels-last'."""
        parts: list[str] = [self.precision]
        if self.channels_last:
            parts.append("channels-last")
        if self.compile:
            parts.append("compile")
        if self.tf32:
            parts.append("tf32")
        return "-".join(parts)


class GpuInfo(_Strict):
    name: str
    memory_bytes: int | None = Field(ge=0)
    driver_version: str | None
    compute_capability: str | None
    power_limit_w: float | None = Field(ge=0)
    energy_counter_available: bool | None
    energy_counter_update_period_s: float | None = Field(
        default=None, ge=0, description="Update period of NVML's energy counter, measured at the run's start."
    )
    # Clocks and limits that bound what the GPU can reach (NVML; None: not readable).
    sm_clock_max_mhz: float | None = Field(default=None, ge=0, description="Maximum SM clock (NVML).")
    memory_clock_max_mhz: float | None = Field(default=None, ge=0, description="Maximum memory clock (NVML).")
    power_limit_default_w: float | None = Field(
        default=None, ge=0, description="The board's default power limit; power_limit_w is the one enforced."
    )


class Hardware(_Strict):
    slug: str = Field(
        description="Machine name and folder, e.g. 'nvidia-h200' or 'cpu-amd-epyc-7b13-2t' (derived from the "
        "hardware), or what 'measure --machine NAME' gave."
    )
    name: str = Field(description="Human-readable name of what ran the model.")
    cpu_model: str | None
    cpu_logical_cores: int | None = Field(gt=0)
    ram_bytes: int | None = Field(ge=0)
    gpu: GpuInfo | None = None
    # The host CPU identified beyond its marketing name, which a virtual machine may
    # reduce to "Intel(R) Xeon(R) Processor" (all optional: older records lack them).
    cpu_vendor: str | None = Field(default=None, description="/proc/cpuinfo vendor_id, e.g. 'GenuineIntel'.")
    cpu_family: int | None = Field(default=None, ge=0, description="/proc/cpuinfo 'cpu family'.")
    cpu_model_number: int | None = Field(default=None, ge=0, description="/proc/cpuinfo 'model' (a number).")
    cpu_stepping: int | None = Field(default=None, ge=0)
    cpu_microarchitecture: str | None = Field(
        default=None,
        description="Server core named from vendor, family and model (generator.environment's "
        "table of the vendors' published numbers), e.g. 'Emerald Rapids'; None when not in the table.",
    )
    cpu_isa_extensions: list[str] = Field(
        default_factory=list,
        description="Instruction-set extensions that matter for inference, as the kernel "
        "lists them in /proc/cpuinfo flags (avx2, avx512f, avx512_vnni, avx512_bf16, amx_tile, ...).",
    )
    cpu_hypervisor: bool | None = Field(default=None, description="Running under a hypervisor ('hypervisor' flag).")
    cpu_frequency_governor: str | None = Field(
        default=None, description="cpufreq scaling governor of CPU 0; None where the kernel exposes none (VMs)."
    )


class Software(_Strict):
    python: str
    torch: str | None
    torchvision: str | None
    fvcore: str | None
    timm: str | None = None
    cuda: str | None = None
    cudnn: str | None = None
    platform: str
    # How torch was built for the CPU (torch.__config__.show(); None: not stated there).
    torch_blas: str | None = Field(
        default=None,
        description="BLAS torch was built with, e.g. 'Intel(R) oneAPI Math "
        "Kernel Library Version 2024.2' or 'OpenBLAS'.",
    )
    torch_onednn: str | None = Field(
        default=None, description="oneDNN (MKL-DNN) build, e.g. 'v3.12.0'; None: not built in or not available."
    )
    torch_cpu_capability: str | None = Field(
        default=None, description="The vector ISA torch's CPU kernels dispatch to here, e.g. 'AVX512'."
    )
    torch_parallel_backend: str | None = Field(default=None, description="ATen parallel backend, e.g. 'OpenMP'.")


class RunInfo(_Strict):
    date: str = Field(description="ISO 8601 date-time the record was written (UTC).")
    git_commit: str | None = Field(description="Commit of this project that measured, if known.")
    command: str = Field(description="Command line that produced the record.")


class MeasureSettings(_Strict):
    """How a run was measured: a re-run reuses a record only when these (and the software) are equal."""

    batch_sizes: list[Annotated[int, Field(gt=0)]] = Field(min_length=1, description="Batch sizes asked for.")
    rounds: int = Field(ge=1, description="Rounds asked for; each round is a fresh worker per model.")
    time_budget_s: float = Field(gt=0, description="Timing budget per batch size and round.")
    min_iterations: int = Field(ge=1, description="Timed iterations always taken per batch size and round.")
    target_ci_relative: float = Field(gt=0, description="Stop once the median's 95% CI half width is this small.")
    warmup_s: float = Field(ge=0, description="Minimum warm-up per batch size and round.")
    power_window_s: float = Field(gt=0, description="Power-sampling window per chosen batch size.")
    power_batch_sizes: list[Annotated[int, Field(gt=0)]] = Field(
        description="Batch sizes given a power window (for this model)."
    )
    max_iteration_s: float | None = Field(
        default=None,
        gt=0,
        description="Per-iteration cap: a batch size whose one iteration was estimated above it is 'skipped' "
        "(estimate in BatchResult.estimated_iteration_s); None: no cap.",
    )


class Parameters(_Strict):
    count: int = Field(ge=0, description="Exact number of parameters.")
    parameters_bytes: int = Field(ge=0, description="Bytes of parameters in the measured precision.")
    buffers_bytes: int = Field(ge=0, description="Bytes of buffers (e.g. BatchNorm statistics).")
    checkpoint_bytes: int | None = Field(description="Published checkpoint file size, if known.")


class Operations(_Strict):
    counter: str = Field(description="Tool and version that counted, e.g. 'fvcore 0.1.5'.")
    gmacs: float = Field(ge=0, description="All operations fvcore counts, 10^9 MACs per image.")
    gflops: float = Field(ge=0, description="2 x gmacs.")
    gmacs_conv_linear_matmul: float = Field(
        ge=0, description="Convolution, linear and matrix products only: torchvision's meta['_ops'] convention."
    )
    flop_counter_gflops: float | None = Field(
        ge=0, description="torch.utils.flop_counter total for the cross-check (2 x MACs of conv/linear/matmul)."
    )
    activations_millions: float | None = Field(ge=0, description="fvcore activation count, 10^6 elements.")
    by_operator_gmacs: dict[str, NonNegative] = Field(description="GMACs per operator type, e.g. 'conv'.")
    by_module_gmacs: dict[str, NonNegative] = Field(description="GMACs per top-level child module.")
    uncounted_operators: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Operators fvcore skipped, with how often they occurred."
    )
    architecture_sha256: str | None = Field(
        default=None,
        description="SHA-256 of the Python source that defines the architecture counted (the builder's module "
        "and the shared blocks it uses): counts are reused across torch versions only when it matches.",
    )


StopReason = Literal["converged", "time_budget"]
SchedulingPolicy = Literal["SCHED_OTHER", "SCHED_BATCH", "SCHED_IDLE", "SCHED_FIFO", "SCHED_RR", "SCHED_DEADLINE"]
# Above this share of the CPUs used by other processes during a timed window,
# measure lists the batch size and the pages say so beside its time: enough to
# stall torch's threads at their barriers (generator.host_load).
OTHER_PROCESSES_CPU_SHARE_FLAGGED = 0.10


class LatencyRound(_Strict):
    """One round: one fresh worker's timing of one batch size."""

    median_ms_per_batch: float = Field(gt=0)
    p10_ms_per_batch: float = Field(gt=0)
    p90_ms_per_batch: float = Field(gt=0)
    timed_iterations: int = Field(ge=1)
    warmup_iterations: int = Field(ge=0)
    ci95_half_width_relative: float | None = Field(
        ge=0,
        description="Half width (larger side) of the 95% confidence interval of this round's median, "
        "relative to it (order statistics); None below 6 samples.",
    )
    stop_reason: StopReason
    samples_ms_per_batch: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=list, description="Every timed iteration of the round, in order."
    )
    # What the rest of the machine did during the round (generator.host_load). Optional
    # schema-2 fields: records written before them load as "not measured" (None).
    other_processes_cpu_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Fraction (0..1) of the capacity of the CPUs the worker could run on that other processes "
        "used during the timed window (/proc/stat busy time minus the worker's own CPU time, over wall time x "
        "CPUs); None: not measured (no /proc, a window under 0.5 s, or a device other than the CPU).",
    )
    scheduling_policy: SchedulingPolicy | None = Field(
        default=None,
        description="The worker's Linux scheduling policy during the round (os.sched_getscheduler); "
        "SCHED_FIFO, SCHED_RR and SCHED_DEADLINE are real-time: other processes cannot preempt it. None: not read.",
    )


class Latency(_Strict):
    median_ms_per_batch: float = Field(gt=0, description="Median over rounds of the round medians.")
    ci95_low_ms_per_batch: float | None = Field(
        default=None,
        gt=0,
        description="95% interval of the median (within- and across-round spread; "
        "generator.rounds); None when the samples are too few for one.",
    )
    ci95_high_ms_per_batch: float | None = Field(default=None, gt=0)
    p10_ms_per_batch: float = Field(gt=0, description="10th percentile of all samples of all rounds.")
    p90_ms_per_batch: float = Field(gt=0, description="90th percentile of all samples of all rounds.")
    iqr_ms_per_batch: float = Field(ge=0, description="Interquartile range of all samples of all rounds.")
    median_ms_per_image: float = Field(gt=0)
    throughput_images_per_s: float = Field(gt=0)
    timed_iterations: int = Field(ge=1, description="Timed iterations of all rounds together.")
    stop_reason: StopReason = Field(description="'converged' only if every round converged.")
    clock: str = Field(description="'cuda_events' or 'perf_counter'.")
    rounds: list[LatencyRound] = Field(min_length=1)


class Memory(_Strict):
    # CPU: peak resident set size of the measuring process during this batch
    # size (VmHWM reset before it), and the RSS before the model was built.
    peak_rss_bytes: int | None = Field(default=None, ge=0)
    baseline_rss_bytes: int | None = Field(default=None, ge=0)
    # GPU: torch allocator peaks and NVML device memory in use (the study's
    # "system memory"), each with its baseline before the model was built.
    cuda_peak_allocated_bytes: int | None = Field(default=None, ge=0)
    cuda_peak_reserved_bytes: int | None = Field(default=None, ge=0)
    cuda_baseline_allocated_bytes: int | None = Field(default=None, ge=0)
    nvml_used_bytes: int | None = Field(default=None, ge=0)
    nvml_baseline_used_bytes: int | None = Field(default=None, ge=0)
    # NVML's memory structure: v1 counts the driver's reserved memory as used
    # (hundreds of MB on an idle card), v2 reports it apart. Used and baseline
    # are always read the same way, so their difference is what this run added.
    nvml_memory_version: Literal[1, 2] | None = None
    nvml_reserved_bytes: int | None = Field(default=None, ge=0, description="Driver-reserved memory (NVML v2 only).")
    nvml_context_used_bytes: int | None = Field(
        default=None,
        ge=0,
        description="NVML used memory once this process's CUDA context was open and preparation cleaned up, "
        "before the first batch: the part of the footprint that is the context, not the model.",
    )


class Power(_Strict):
    available: bool
    unavailable_reason: str | None = None
    counter: Literal["nvml", "rapl"] | None = None
    idle_w: float | None = Field(default=None, ge=0)
    mean_w: float | None = Field(default=None, ge=0)
    peak_w: float | None = Field(default=None, ge=0)
    # May be slightly negative: a mean within noise of the idle power.
    net_w: float | None = Field(default=None, description="mean_w - idle_w: the study's figure.")
    window_s: float | None = Field(default=None, ge=0)
    samples: int | None = Field(default=None, ge=0)
    energy_j_per_image: float | None = Field(default=None, ge=0)
    energy_method: Literal["energy_counter", "integrated_samples"] | None = None
    sm_clock_mhz_mean: float | None = Field(default=None, ge=0)
    temperature_c_max: float | None = None
    throttle_reasons: list[str] = Field(default_factory=list)
    # How the figures above were read (all optional: records before these existed migrate as unknown).
    reading_method: Literal["nvml_instant_field", "nvml_power_usage", "rapl_counter"] | None = Field(
        default=None,
        description="Source of the power samples: NVML's instantaneous field (NVML_FI_DEV_POWER_INSTANT), "
        "nvmlDeviceGetPowerUsage (a trailing ~1 s average on Ampere and newer, except GA100), or RAPL.",
    )
    samples_mean_w: float | None = Field(
        default=None, ge=0, description="Mean of the power samples: a cross-check of mean_w where the counter gave it."
    )
    counter_update_period_s: float | None = Field(
        default=None, ge=0, description="Measured update period of the energy counter; the window spans many of them."
    )
    preroll_s: float | None = Field(
        default=None, ge=0, description="Seconds the same load ran before the window opened (averaged readings trail)."
    )
    read_errors: int = Field(default=0, ge=0, description="Failed NVML reads survived during the window.")
    temperature_c_start: float | None = None
    temperature_c_end: float | None = None
    idle_settle_s: float | None = Field(
        default=None, ge=0, description="Seconds waited for idle power to settle before idle_w was read."
    )
    idle_settled: bool | None = Field(
        default=None, description="False when the bounded wait ended before idle power was steady."
    )
    idle_with_context: bool | None = Field(
        default=None, description="Idle measured by the measuring process with its CUDA context open."
    )


class BatchResult(_Strict):
    batch_size: int = Field(gt=0)
    status: Status
    error: str | None = Field(default=None, description="Message for 'oom', 'error' and 'skipped'.")
    estimated_iteration_s: float | None = Field(
        default=None,
        ge=0,
        description="Only for a batch size skipped by the per-iteration cap (settings.max_iteration_s): the "
        "estimated seconds of one iteration that exceeded it (how it was estimated is in 'error').",
    )
    latency: Latency | None = None
    memory: Memory | None = None
    power: Power | None = None


class Record(_Strict):
    schema_version: Literal[2] = 2  # SCHEMA_VERSION
    model: ModelInfo
    accuracy: Accuracy
    config: Config
    hardware: Hardware
    software: Software
    run: RunInfo
    settings: MeasureSettings | None = Field(
        default=None, description="How it was measured; None in records migrated from version 1."
    )
    status: Literal["ok", "error"] = Field(description="'error' when the model could not be built or measured at all.")
    error: str | None = None
    parameters: Parameters | None
    operations: Operations | None
    batches: list[BatchResult]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# File names stay well under the 255-byte limit of common file systems, with
# room for suffixes ('.json', '.vl.json', '.md' and temporary-file affixes).
MAX_SLUG_LENGTH = 100


def safe_slug(text: str) -> str:
    """A file-name-safe form of ``text``: no slashes, no '..', nothing outside [A-Za-z0-9._-].

    Longer than ``MAX_SLUG_LENGTH``, it is cut and ends with a hash of the whole
    text, so two long names that share a beginning still get different files.
    The result is its own slug (applying this twice changes nothing).
    """
    slug = _UNSAFE.sub("-", text).strip("-.")
    slug = re.sub(r"\.{2,}", ".", slug)
    if len(slug) > MAX_SLUG_LENGTH:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        slug = f"{slug[: MAX_SLUG_LENGTH - 13].rstrip('-.')}-{digest}"
    return slug or "unnamed"


def model_file_stem(model_name: str) -> str:
    """'timm:inception_v4' -> 'timm-inception_v4'; safe for any record-supplied name."""
    return safe_slug(model_name.replace(":", "-"))


class RecordError(Exception):
    """A record that cannot be used, with the file and field at fault."""

    def __init__(self, path: Path | str, message: str, field: str | None = None) -> None:
        self.path = str(path)
        self.field = field
        self.message = message
        where = f"{self.path}: field '{field}'" if field else self.path
        super().__init__(f"{where}: {message}")


# --------------------------------------------------------------------------- migrations


def _latency_v1_to_v2(latency: dict[str, Any]) -> dict[str, Any]:
    """A version-1 latency was one round; its interval comes from that round's relative half width."""
    round_keys = (
        "median_ms_per_batch",
        "p10_ms_per_batch",
        "p90_ms_per_batch",
        "timed_iterations",
        "warmup_iterations",
        "ci95_half_width_relative",
        "stop_reason",
        "samples_ms_per_batch",
    )
    one_round = {key: latency[key] for key in round_keys if key in latency}
    median, half = latency.get("median_ms_per_batch"), latency.get("ci95_half_width_relative")
    low = high = None
    if isinstance(median, int | float) and isinstance(half, int | float) and not isinstance(half, bool):
        low, high = median * (1 - half), median * (1 + half)
        if low <= 0:  # a half width of 100% or more says nothing about the lower end
            low = None
            high = None
    migrated = {
        key: value
        for key, value in latency.items()
        if key not in ("warmup_iterations", "ci95_half_width_relative", "samples_ms_per_batch")
    }
    migrated.update(rounds=[one_round], ci95_low_ms_per_batch=low, ci95_high_ms_per_batch=high)
    return migrated


def _v1_to_v2(document: dict[str, Any]) -> dict[str, Any]:
    migrated = dict(document, schema_version=2)
    batches = document.get("batches")
    if isinstance(batches, list):
        migrated["batches"] = [
            dict(batch, latency=_latency_v1_to_v2(batch["latency"]))
            if isinstance(batch, dict) and isinstance(batch.get("latency"), dict)
            else batch
            for batch in batches
        ]
    return migrated


# Version n -> function turning a version-n document into version n+1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


# --------------------------------------------------------------------------- relations between fields

# Derived values are written from the same floats they derive from; a hand
# edit or another writer may round them, hence a relative tolerance.
RELATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Problem:
    """One broken relation: the dotted field and what is wrong with it."""

    field: str
    message: str


def _close(a: float, b: float, relative: float = RELATIVE_TOLERANCE) -> bool:
    return math.isclose(a, b, rel_tol=relative, abs_tol=1e-12)


def _inclusive_quantile(ordered: Sequence[float], i: int, n: int) -> float:
    """The ``i``-th of ``statistics.quantiles(ordered, n=n, method="inclusive")``, by the same arithmetic
    (so the same bits): one sort per sample list instead of one per call, and only the cut points used."""
    j, delta = divmod(i * (len(ordered) - 1), n)
    return (ordered[j] * (n - delta) + ordered[j + 1] * delta) / n


def sample_summary(samples: Sequence[float]) -> dict[str, float]:
    """Median, deciles and IQR of ``samples`` as the writer computes them (inclusive quantiles).

    Every record's every round is summarised again when it is read (its stated median and
    deciles must match its samples): a zoo's load does this a hundred thousand times.
    """
    ordered = sorted(samples)
    if len(ordered) == 1:
        only = ordered[0]
        return {"median": only, "p10": only, "p90": only, "iqr": 0.0}
    return {
        "median": statistics.median(ordered),
        "p10": _inclusive_quantile(ordered, 1, 10),
        "p90": _inclusive_quantile(ordered, 9, 10),
        "iqr": _inclusive_quantile(ordered, 3, 4) - _inclusive_quantile(ordered, 1, 4),
    }


def _round_problems(prefix: str, one: LatencyRound) -> Iterator[Problem]:
    if not one.p10_ms_per_batch <= one.median_ms_per_batch <= one.p90_ms_per_batch:
        yield Problem(
            f"{prefix}.median_ms_per_batch",
            f"{one.median_ms_per_batch} lies outside p10..p90 ({one.p10_ms_per_batch}..{one.p90_ms_per_batch})",
        )
    samples = one.samples_ms_per_batch
    if not samples:
        return
    if one.timed_iterations != len(samples):
        yield Problem(f"{prefix}.timed_iterations", f"{one.timed_iterations} but {len(samples)} samples are kept")
    summary = sample_summary(samples)
    for key in ("median", "p10", "p90"):
        value = getattr(one, f"{key}_ms_per_batch")
        if not _close(value, summary[key]):
            yield Problem(f"{prefix}.{key}_ms_per_batch", f"{value} but the kept samples give {summary[key]:.6g}")


def _latency_problems(prefix: str, latency: Latency, batch_size: int) -> Iterator[Problem]:
    for index, one in enumerate(latency.rounds):
        yield from _round_problems(f"{prefix}.rounds.{index}", one)
    median = latency.median_ms_per_batch
    round_median = statistics.median(one.median_ms_per_batch for one in latency.rounds)
    if not _close(median, round_median):
        yield Problem(
            f"{prefix}.median_ms_per_batch", f"{median} but the median of the round medians is {round_median:.6g}"
        )
    if not _close(latency.median_ms_per_image * batch_size, median):
        yield Problem(
            f"{prefix}.median_ms_per_image",
            f"{latency.median_ms_per_image} x batch size {batch_size} != median_ms_per_batch {median}",
        )
    if not _close(latency.throughput_images_per_s, batch_size * 1000.0 / median):
        yield Problem(
            f"{prefix}.throughput_images_per_s",
            f"{latency.throughput_images_per_s} but batch size {batch_size} / median_ms_per_batch "
            f"gives {batch_size * 1000.0 / median:.6g}",
        )
    total = sum(one.timed_iterations for one in latency.rounds)
    if latency.timed_iterations != total:
        yield Problem(f"{prefix}.timed_iterations", f"{latency.timed_iterations} but the rounds add up to {total}")
    converged = all(one.stop_reason == "converged" for one in latency.rounds)
    if (latency.stop_reason == "converged") != converged:
        yield Problem(
            f"{prefix}.stop_reason",
            f"{latency.stop_reason!r} but {'every' if converged else 'not every'} round converged",
        )
    low, high = latency.ci95_low_ms_per_batch, latency.ci95_high_ms_per_batch
    if (low is None) != (high is None):
        yield Problem(f"{prefix}.ci95_low_ms_per_batch", "the interval needs both ends or neither")
    elif low is not None and high is not None and not low <= median <= high:
        yield Problem(f"{prefix}.ci95_low_ms_per_batch", f"interval {low}..{high} does not contain the median {median}")
    if not latency.p10_ms_per_batch <= latency.p90_ms_per_batch:
        yield Problem(
            f"{prefix}.p10_ms_per_batch",
            f"{latency.p10_ms_per_batch} is above p90_ms_per_batch {latency.p90_ms_per_batch}",
        )
    if all(one.samples_ms_per_batch for one in latency.rounds):
        pooled = sample_summary([s for one in latency.rounds for s in one.samples_ms_per_batch])
        for key in ("p10", "p90", "iqr"):
            value = getattr(latency, f"{key}_ms_per_batch")
            if not _close(value, pooled[key]):
                yield Problem(
                    f"{prefix}.{key}_ms_per_batch", f"{value} but the samples of all rounds give {pooled[key]:.6g}"
                )


def _accuracy_problems(prefix: str, top1: float | None, top5: float | None) -> Iterator[Problem]:
    if top1 is not None and top5 is not None and top5 < top1:
        yield Problem(f"{prefix}.top5_percent", f"top-5 {top5} is below top-1 {top1}")


def record_problems(record: Record) -> list[Problem]:
    """Every broken relation between the fields of a record that passed type validation."""
    problems: list[Problem] = []
    accuracy = record.accuracy
    for name in ("published", "measured", "original_recipe"):
        value = getattr(accuracy, name)
        if value is not None:
            problems += _accuracy_problems(f"accuracy.{name}", value.top1_percent, value.top5_percent)
    seen: set[int] = set()
    for index, batch in enumerate(record.batches):
        prefix = f"batches.{index}"
        if batch.batch_size in seen:
            problems.append(Problem(f"{prefix}.batch_size", f"batch size {batch.batch_size} appears twice"))
        seen.add(batch.batch_size)
        if batch.estimated_iteration_s is not None and batch.status != "skipped":
            problems.append(
                Problem(
                    f"{prefix}.estimated_iteration_s",
                    f"an estimate belongs to a batch size skipped by the cap, not {batch.status!r}",
                )
            )
        if batch.status == "ok" and batch.latency is None:
            problems.append(Problem(f"{prefix}.latency", "status 'ok' without a latency"))
        if batch.latency is not None:
            problems += _latency_problems(f"{prefix}.latency", batch.latency, batch.batch_size)
        power = batch.power
        if power is not None and None not in (power.net_w, power.mean_w, power.idle_w):
            assert power.net_w is not None and power.mean_w is not None and power.idle_w is not None
            if not math.isclose(power.net_w, power.mean_w - power.idle_w, rel_tol=1e-6, abs_tol=1e-6):
                problems.append(
                    Problem(
                        f"{prefix}.power.net_w",
                        f"{power.net_w} is not mean_w - idle_w ({power.mean_w} - {power.idle_w})",
                    )
                )
    operations = record.operations
    if operations is not None and not _close(operations.gflops, 2 * operations.gmacs, 1e-3):
        problems.append(Problem("operations.gflops", f"{operations.gflops} is not 2 x gmacs ({operations.gmacs})"))
    if record.settings is not None and record.batches:
        asked = set(record.settings.batch_sizes)
        extra = sorted(b.batch_size for b in record.batches if b.batch_size not in asked)
        if extra:
            problems.append(Problem("batches", f"batch sizes {extra} were not asked for in settings.batch_sizes"))
    return problems


# --------------------------------------------------------------------------- reading and writing


def parse_record(document: Any, path: Path | str = "<record>") -> Record:
    """Validate a decoded JSON document, migrating known old versions; raise RecordError."""
    if not isinstance(document, dict):
        raise RecordError(path, "expected a JSON object at the top level")
    version = document.get("schema_version")
    if version is None:
        raise RecordError(path, "missing; this file is not a measurement record", "schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError(path, f"must be an integer, got {version!r}", "schema_version")
    if version > SCHEMA_VERSION:
        raise RecordError(
            path,
            f"version {version} is newer than this generator understands (up to {SCHEMA_VERSION}); "
            "update the generator (git pull; pip install -e .)",
            "schema_version",
        )
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise RecordError(
                path,
                f"version {version} is no longer supported (current {SCHEMA_VERSION}); re-measure this model",
                "schema_version",
            )
        document = MIGRATIONS[version](document)
        version = document["schema_version"]
    try:
        record = Record.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        raise RecordError(path, f"{first['msg']}{more}", field) from None
    check_record(record, path)
    return record


def check_record(record: Record, path: Path | str = "<record>") -> None:
    """Raise RecordError for the first broken relation between fields (``record_problems``)."""
    problems = record_problems(record)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise RecordError(path, f"{problems[0].message}{more}", problems[0].field)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a record may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # '1e999' parses to infinity without passing parse_constant
        raise ValueError(f"{text} is out of range (not a finite number)")
    return value


# Every integer in a record is a count or a byte size: 19 digits hold any int64.
# A 4,300-digit integer parses, then overflows wherever it is used as a float.
MAX_INTEGER_DIGITS = 19


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer of {digits} digits is out of range (at most {MAX_INTEGER_DIGITS})")
    return int(text)


def parse_json(text: str) -> Any:
    """Strict JSON: NaN, Infinity, out-of-range floats and integers are refused (ValueError), not read."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)


def load_record(path: Path) -> Record:
    """Read and validate one record file; raise RecordError naming the file and field.

    The file is read as untrusted input (``generator.safe_read``): regular files
    only, size-capped, strict UTF-8 and strict JSON.
    """
    from generator.safe_read import read_json  # imports RecordError from here

    return parse_record(read_json(path), path)


def record_to_json(record: Record, indent: int | None = 2) -> str:
    """Canonical, stable serialisation: sorted keys, two-space indent, trailing newline.

    NaN or Infinity raise ValueError here rather than reach a file. ``indent=None``:
    the same document on one line, ten times faster to write (Python's json module
    indents in pure Python), for the site's download copies of a whole zoo's records.
    """
    return document_to_json(record.model_dump(mode="json"), indent)


def document_to_json(document: dict[str, Any], indent: int | None = 2) -> str:
    """``record_to_json`` of a record already dumped (``record.model_dump(mode="json")``)."""
    return json.dumps(document, indent=indent, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def json_schema() -> dict[str, Any]:
    """JSON Schema of a record (what ``python -m generator schema`` prints)."""
    schema = Record.model_json_schema()
    schema["$id"] = f"https://canziani-report/schema/record-v{SCHEMA_VERSION}.json"
    return schema


# --------------------------------------------------------------------------- the machine's ceilings

# One file per run folder (<machine>/<config>/<software>/), beside the records
# and owned by generator.store: what the machine itself can reach, measured once
# per run. Versioned on its own (a reader of records need not know it).
CEILINGS_FILE_NAME = "machine.json"
CEILINGS_SCHEMA_VERSION = 1


class MatmulCeiling(_Strict):
    """Peak matrix-product rate: the best of a few repetitions of one large square GEMM."""

    gflops: float = Field(gt=0, description="2 x n^3 / best time, in 10^9 floating-point operations per second.")
    median_gflops: float = Field(gt=0, description="The same from the median repetition (the spread).")
    n: int = Field(gt=0, description="Square matrix size: an n x n by n x n product.")
    dtype: str = Field(description="torch dtype of the matrices, e.g. 'float32' (the run's precision).")
    repetitions: int = Field(ge=1, description="Timed repetitions after one warm-up.")
    samples_ms: list[Annotated[float, Field(gt=0)]] = Field(min_length=1, description="Every repetition, in order.")


class BandwidthCeiling(_Strict):
    """Memory bandwidth: the best of a few copies of one buffer far larger than the caches."""

    gb_per_s: float = Field(
        gt=0, description="2 x buffer bytes / best time (a copy reads and writes each byte), in 10^9 bytes/s."
    )
    median_gb_per_s: float = Field(gt=0)
    buffer_bytes: int = Field(gt=0, description="Bytes of the source buffer (the destination is as large).")
    repetitions: int = Field(ge=1)
    samples_ms: list[Annotated[float, Field(gt=0)]] = Field(min_length=1)


class MachineCeilings(_Strict):
    """The ceilings of one run: peak matmul GFLOP/s in its precision and memory bandwidth."""

    schema_version: Literal[1] = 1  # CEILINGS_SCHEMA_VERSION
    hardware_slug: str
    device: Device
    precision: Precision
    threads: int = Field(gt=0, description="torch.get_num_threads() while measuring.")
    date: str = Field(description="ISO 8601 date-time of the measurement (UTC).")
    git_commit: str | None
    command: str
    clock: str = Field(description="'perf_counter' (CPU) or 'cuda_events'.")
    matmul: MatmulCeiling
    bandwidth: BandwidthCeiling


def ceilings_problems(ceilings: MachineCeilings) -> list[Problem]:
    problems = []
    for name, part in (("matmul", ceilings.matmul), ("bandwidth", ceilings.bandwidth)):
        if part.repetitions != len(part.samples_ms):
            problems.append(Problem(f"{name}.repetitions", f"{part.repetitions} but {len(part.samples_ms)} samples"))
    m = ceilings.matmul
    if not _close(m.gflops, 2 * m.n**3 / (min(m.samples_ms) / 1000) / 1e9, 1e-3):
        problems.append(Problem("matmul.gflops", f"{m.gflops} is not 2 x n^3 / the best sample"))
    if m.median_gflops > m.gflops * (1 + 1e-6):
        problems.append(Problem("matmul.median_gflops", f"{m.median_gflops} is above the best {m.gflops}"))
    b = ceilings.bandwidth
    if not _close(b.gb_per_s, 2 * b.buffer_bytes / (min(b.samples_ms) / 1000) / 1e9, 1e-3):
        problems.append(Problem("bandwidth.gb_per_s", f"{b.gb_per_s} is not 2 x buffer bytes / the best sample"))
    if b.median_gb_per_s > b.gb_per_s * (1 + 1e-6):
        problems.append(Problem("bandwidth.median_gb_per_s", f"{b.median_gb_per_s} is above the best {b.gb_per_s}"))
    return problems


def ceilings_mismatches(ceilings: MachineCeilings, record: Record) -> list[tuple[str, str, str]]:
    """(field, the ceilings' value, the record's) wherever ceilings and record differ in machine, device, precision.

    A run folder's ceilings must be of the machine, device and precision its records were measured on.
    """
    return [
        (name, theirs, ours)
        for name, theirs, ours in (
            ("hardware_slug", ceilings.hardware_slug, record.hardware.slug),
            ("device", ceilings.device, record.config.device),
            ("precision", ceilings.precision, record.config.precision),
        )
        if theirs != ours
    ]


def parse_ceilings(document: Any, path: Path | str = "<ceilings>") -> MachineCeilings:
    """Validate a decoded machine.json document as strictly as a record; raise RecordError."""
    if not isinstance(document, dict):
        raise RecordError(path, "expected a JSON object at the top level")
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError(path, f"must be an integer, got {version!r}", "schema_version")
    if version != CEILINGS_SCHEMA_VERSION:
        newer = "newer than this generator understands" if version > CEILINGS_SCHEMA_VERSION else "not supported"
        raise RecordError(
            path,
            f"ceilings version {version} is {newer} (current {CEILINGS_SCHEMA_VERSION}); "
            "measure again with 'python -m generator ceilings --force'",
            "schema_version",
        )
    try:
        ceilings = MachineCeilings.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        raise RecordError(path, f"{first['msg']}{more}", field) from None
    problems = ceilings_problems(ceilings)
    if problems:
        raise RecordError(path, problems[0].message, problems[0].field)
    return ceilings


def ceilings_to_json(ceilings: MachineCeilings) -> str:
    problems = ceilings_problems(ceilings)
    if problems:
        raise ValueError(f"{problems[0].field}: {problems[0].message}")
    return (
        json.dumps(ceilings.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
        + "\n"
    )
