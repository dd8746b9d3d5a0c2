"""The hardware pages and their index (the comparison across runs is pages/compare.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from generator.render import data, fmt
from generator.render.data import Run
from generator.render.pages.common import (
    IndexPage,
    Link,
    Table,
    figures_path,
    hardware_path,
    label,
    model_path,
    rel,
    scopes,
)
from generator.render.pages.compare import MachineHistory, machine_history


@dataclass(frozen=True)
class RunSection:
    label: str
    figures: list[Link]
    fingerprint: Table
    results: Table
    varies: list[str]


@dataclass(frozen=True)
class HardwarePage:
    title: str
    sections: list[RunSection]
    history: MachineHistory | None = None  # runs by date and what changed between them


def _fingerprint(run: Run) -> tuple[Table, list[str]]:
    hw, sw, config = run.hardware, run.software, run.config
    gpu = hw.gpu
    rows: list[list[str | Link]] = [
        ["hardware name", hw.name],
        ["hardware slug", hw.slug],
        ["CPU", hw.cpu_model or "not recorded"],
        ["CPU logical cores", fmt.count(hw.cpu_logical_cores, "not recorded")],
        ["RAM", fmt.megabytes(hw.ram_bytes, "not recorded")],
    ]
    if gpu is not None:
        rows += [
            ["GPU", gpu.name],
            ["GPU memory", fmt.megabytes(gpu.memory_bytes, "not recorded")],
            ["driver", gpu.driver_version or "not recorded"],
            ["compute capability", gpu.compute_capability or "not recorded"],
            ["power limit", fmt.with_unit(gpu.power_limit_w, "W", missing="not recorded")],
            [
                "energy counter",
                "not recorded"
                if gpu.energy_counter_available is None
                else ("available" if gpu.energy_counter_available else "not available"),
            ],
        ]
    rows += [
        ["device", config.device],
        ["precision", config.precision],
        ["channels last", "yes" if config.channels_last else "no"],
        ["torch.compile", "yes" if config.compile else "no"],
        ["threads", str(config.threads)],
        ["TF32", "allowed" if config.tf32 else "off"],
        ["cuDNN benchmark", "on" if config.cudnn_benchmark else "off"],
        ["Python", sw.python],
        ["torch", sw.torch or "not installed"],
        ["torchvision", sw.torchvision or "not installed"],
        ["fvcore", sw.fvcore or "not installed"],
        ["timm", sw.timm or "not installed"],
        ["CUDA", sw.cuda or "none"],
        ["cuDNN", sw.cudnn or "none"],
        ["platform", sw.platform],
    ]
    varies = []
    for name, getter in (
        ("software", lambda r: r.software),
        ("hardware", lambda r: r.hardware),
        ("configuration", lambda r: r.config),
    ):
        if len({getter(r).model_dump_json() for r in run.records}) > 1:
            varies.append(
                f"The {name} fields differ between records of this run; shown: those of "
                f"{run.records[0].model.name}. See each record for its own."
            )
    return Table(["field", "value"], rows), varies


def _results_table(run: Run, page: str) -> Table:
    largest = max(run.batch_sizes) if run.batch_sizes else None
    rows: list[list[str | Link]] = []
    for record in run.records:
        b1 = data.ok_batch(record, 1)
        best_ips = max((v for b in record.batches if (v := data.images_per_s(b)) is not None), default=None)
        failed = data.failures(record)
        rows.append(
            [
                Link(label(record), rel(page, model_path(record))),
                fmt.percent(data.top1(record), 2),
                fmt.sig(data.ms_per_image(b1), 4),
                fmt.sig(best_ips, 4),
                fmt.megabytes(data.memory_bytes(b1)),
                fmt.with_unit(data.net_power_w(b1), "W", missing="not measured"),
                "; ".join(f"{'model' if s is None else f'batch {s}'}: {status}" for s, status, _ in failed) or "none",
            ]
        )
    return Table(
        [
            "model",
            "top-1",
            "ms per image at batch 1",
            "best images/s (any batch)",
            "peak memory at batch 1",
            "net power at batch 1",
            f"failures (batch sizes up to {largest})",
        ],
        rows,
    )


def hardware_page(slug: str, runs: Sequence[Run]) -> HardwarePage:
    page = hardware_path(slug)
    sections = []
    for run in runs:
        fingerprint, varies = _fingerprint(run)
        sections.append(
            RunSection(
                label=f"configuration {run.config_slug}",
                figures=[
                    Link("the study's networks" if s == "study" else "all models", rel(page, figures_path(run, s)))
                    for s in scopes(run)
                ],
                fingerprint=fingerprint,
                results=_results_table(run, page),
                varies=varies,
            )
        )
    return HardwarePage(f"Hardware: {runs[0].hardware.name}", sections, machine_history(runs, page))


def hardware_index(runs: Sequence[Run]) -> IndexPage:
    page = "hardware/index.md"
    rows: list[list[str | Link]] = [
        [
            Link(run.hardware.name, rel(page, hardware_path(run.hardware_slug))),
            run.config_slug,
            run.config.device,
            str(len(run.records)),
        ]
        for run in runs
    ]
    links = [Link("comparison of the runs, with intervals", rel(page, "hardware/compare.md"))] if len(runs) > 1 else []
    return IndexPage(
        "Hardware",
        "Every machine and configuration measured.",
        Table(["hardware", "configuration", "device", "records"], rows) if rows else None,
        links,
    )
