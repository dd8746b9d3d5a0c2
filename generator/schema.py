"""The measurement record: the one contract between the measure and render stages.

One JSON file per hardware, configuration and model, at
``measurements/<hardware.slug>/<config slug>/<model file stem>.json``.

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

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1

Status = Literal["ok", "oom", "error", "skipped"]
Precision = Literal["fp32", "fp16", "bf16"]
Device = Literal["cpu", "cuda"]
ModelSource = Literal["torchvision", "timm", "generator"]


class _Strict(BaseModel):
    # Unknown keys are an error: a typo in a hand-edited record must not be
    # silently dropped, and a newer writer must bump the version.
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        parts = [self.precision]
        if self.channels_last:
            parts.append("channels-last")
        if self.compile:
            parts.append("compile")
        if self.tf32:
            parts.append("tf32")
        return "-".join(parts)


class GpuInfo(_Strict):
    name: str
    memory_bytes: int | None
    driver_version: str | None
    compute_capability: str | None
    power_limit_w: float | None
    energy_counter_available: bool | None


class Hardware(_Strict):
    slug: str = Field(description="Stable folder name, e.g. 'nvidia-h200' or 'cpu-amd-epyc-7b13-2t'.")
    name: str = Field(description="Human-readable name of what ran the model.")
    cpu_model: str | None
    cpu_logical_cores: int | None
    ram_bytes: int | None
    gpu: GpuInfo | None = None


class Software(_Strict):
    python: str
    torch: str | None
    torchvision: str | None
    fvcore: str | None
    timm: str | None = None
    cuda: str | None = None
    cudnn: str | None = None
    platform: str


class RunInfo(_Strict):
    date: str = Field(description="ISO 8601 date-time the record was written (UTC).")
    git_commit: str | None = Field(description="Commit of this project that measured, if known.")
    command: str = Field(description="Command line that produced the record.")


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
        description="torch.utils.flop_counter total for the cross-check (2 x MACs of conv/linear/matmul)."
    )
    activations_millions: float | None = Field(description="fvcore activation count, 10^6 elements.")
    by_operator_gmacs: dict[str, float] = Field(description="GMACs per operator type, e.g. 'conv'.")
    by_module_gmacs: dict[str, float] = Field(description="GMACs per top-level child module.")
    uncounted_operators: dict[str, int] = Field(
        default_factory=dict, description="Operators fvcore skipped, with how often they occurred."
    )


class Latency(_Strict):
    median_ms_per_batch: float = Field(gt=0)
    p10_ms_per_batch: float = Field(gt=0)
    p90_ms_per_batch: float = Field(gt=0)
    iqr_ms_per_batch: float = Field(ge=0)
    median_ms_per_image: float = Field(gt=0)
    throughput_images_per_s: float = Field(gt=0)
    timed_iterations: int = Field(ge=1)
    warmup_iterations: int = Field(ge=0)
    ci95_half_width_relative: float | None = Field(
        description="Half width of the 95% confidence interval of the median, relative to it."
    )
    stop_reason: Literal["converged", "time_budget"]
    clock: str = Field(description="'cuda_events' or 'perf_counter'.")
    samples_ms_per_batch: list[float] = Field(description="Every timed iteration, in order.")


class Memory(_Strict):
    # CPU: peak resident set size of the measuring process during this batch
    # size (VmHWM reset before it), and the RSS before the model was built.
    peak_rss_bytes: int | None = None
    baseline_rss_bytes: int | None = None
    # GPU: torch allocator peaks and NVML device memory in use (the study's
    # "system memory"), each with its baseline before the model was built.
    cuda_peak_allocated_bytes: int | None = None
    cuda_peak_reserved_bytes: int | None = None
    cuda_baseline_allocated_bytes: int | None = None
    nvml_used_bytes: int | None = None
    nvml_baseline_used_bytes: int | None = None


class Power(_Strict):
    available: bool
    unavailable_reason: str | None = None
    counter: Literal["nvml", "rapl"] | None = None
    idle_w: float | None = None
    mean_w: float | None = None
    peak_w: float | None = None
    net_w: float | None = Field(default=None, description="mean_w - idle_w: the study's figure.")
    window_s: float | None = None
    samples: int | None = None
    energy_j_per_image: float | None = None
    energy_method: Literal["energy_counter", "integrated_samples"] | None = None
    sm_clock_mhz_mean: float | None = None
    temperature_c_max: float | None = None
    throttle_reasons: list[str] = Field(default_factory=list)


class BatchResult(_Strict):
    batch_size: int = Field(gt=0)
    status: Status
    error: str | None = Field(default=None, description="Message for 'oom', 'error' and 'skipped'.")
    latency: Latency | None = None
    memory: Memory | None = None
    power: Power | None = None


class Record(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    model: ModelInfo
    accuracy: Accuracy
    config: Config
    hardware: Hardware
    software: Software
    run: RunInfo
    status: Literal["ok", "error"] = Field(
        description="'error' when the model could not be built or measured at all."
    )
    error: str | None = None
    parameters: Parameters | None
    operations: Operations | None
    batches: list[BatchResult]

    @property
    def relative_path(self) -> Path:
        """Where this record lives under the measurements folder."""
        return Path(safe_slug(self.hardware.slug)) / self.config.slug / f"{model_file_stem(self.model.name)}.json"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_slug(text: str) -> str:
    """A file-name-safe form of ``text``: no slashes, no '..', nothing outside [A-Za-z0-9._-]."""
    slug = _UNSAFE.sub("-", text).strip("-.")
    slug = re.sub(r"\.{2,}", ".", slug)
    return slug or "unnamed"


def model_file_stem(model_name: str) -> str:
    """'timm:inception_v4' -> 'timm-inception_v4'; safe for any record-supplied name."""
    return safe_slug(model_name.replace(":", "-"))


class RecordError(Exception):
    """A record that cannot be used, with the file and field at fault."""

    def __init__(self, path: Path | str, message: str, field: str | None = None) -> None:
        self.path = str(path)
        self.field = field
        where = f"{self.path}: field '{field}'" if field else self.path
        super().__init__(f"{where}: {message}")


# Version n -> function turning a version-n document into version n+1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


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
        return Record.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        raise RecordError(path, f"{first['msg']}{more}", field) from None


def load_record(path: Path) -> Record:
    """Read and validate one record file; raise RecordError naming the file and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RecordError(path, f"cannot be read: {error.strerror or error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(path, f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    return parse_record(document, path)


def record_to_json(record: Record) -> str:
    """Canonical, stable serialisation: sorted keys, two-space indent, trailing newline."""
    return json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def json_schema() -> dict[str, Any]:
    """JSON Schema of a record (what ``python -m generator schema`` prints)."""
    schema = Record.model_json_schema()
    schema["$id"] = f"https://canziani-report/schema/record-v{SCHEMA_VERSION}.json"
    return schema
