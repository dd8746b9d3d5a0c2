"""Building a record from its parts: shared by the worker (a finished model) and the parent
(a worker that died, or one more round merged in), so neither imports the other.

No torch here: the parent imports it before any worker exists.
"""

from __future__ import annotations

import datetime
from typing import Any

from generator.schema import (
    Accuracy,
    BatchResult,
    Config,
    Hardware,
    MeasureSettings,
    ModelInfo,
    Operations,
    Parameters,
    Record,
    RunInfo,
    Software,
)


def config_for(
    device: str,
    precision: str,
    channels_last: bool,
    compile_model: bool,
    threads: int,
    tf32: bool,
    cudnn_benchmark: bool,
) -> Config:
    """The configuration measured; the flags as the backend reads them back (the parent: as it intends them)."""
    return Config(
        device=device,  # type: ignore[arg-type]
        precision=precision,  # type: ignore[arg-type]
        channels_last=channels_last,
        compile=compile_model,
        threads=threads,
        tf32=tf32,
        cudnn_benchmark=cudnn_benchmark,
    )


def build_record(
    *,
    model: ModelInfo | dict[str, Any],
    accuracy: Accuracy,
    config: Config,
    hardware: Hardware | dict[str, Any],
    software: Software | dict[str, Any],
    run: RunInfo | dict[str, Any],
    settings: MeasureSettings | dict[str, Any] | None,
    status: str,
    error: str | None,
    parameters: Parameters | None,
    operations: Operations | None,
    batches: list[BatchResult],
) -> Record:
    """A validated record, dated now (the time it was written)."""
    run_info = RunInfo.model_validate(run).model_copy(
        update={"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    )
    return Record.model_validate(
        {
            "model": ModelInfo.model_validate(model),
            "accuracy": accuracy,
            "config": config,
            "hardware": Hardware.model_validate(hardware),
            "software": Software.model_validate(software),
            "run": run_info,
            "settings": None if settings is None else MeasureSettings.model_validate(settings),
            "status": status,
            "error": error,
            "parameters": parameters,
            "operations": operations,
            "batches": batches,
        }
    )
