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
from generator.schema import BatchResult, Hardware, Record


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


NOT_RECORDED = "not recorded"


def _cpu_identity(hw: Hardware) -> str:
    """'GenuineIntel family 6 model 207 (0xcf) stepping 2: Emerald Rapids'; the vendor's numbers, as recorded."""
    if hw.cpu_vendor is None and hw.cpu_family is None:
        return NOT_RECORDED
    parts = [hw.cpu_vendor or "unknown vendor"]
    if hw.cpu_family is not None:
        parts.append(f"family {hw.cpu_family}")
    if hw.cpu_model_number is not None:
        parts.append(f"model {hw.cpu_model_number} ({hw.cpu_model_number:#x})")
    if hw.cpu_stepping is not None:
        parts.append(f"stepping {hw.cpu_stepping}")
    core = f": {hw.cpu_microarchitecture}" if hw.cpu_microarchitecture else " (core not in the table)"
    return " ".join(parts) + core


def _run_dates(run: Run) -> list[list[str | Link]]:
    """When the run was measured and by which commit of this project (from its records)."""
    dates = sorted(r.run.date for r in run.records)
    commits = sorted({(r.run.git_commit or "")[:12] for r in run.records})
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    named = [c for c in commits if c]
    commit = ", ".join(named) if named else NOT_RECORDED
    if named and "" in commits:
        commit += " (some records name none)"
    return [["measured", when], ["project commit", commit]]


def _ceiling_rows(run: Run) -> list[list[str | Link]]:
    """The machine's ceilings measured for this run (its machine.json), or that they were not."""
    ceilings = run.ceilings
    if ceilings is None:
        missing = "not measured (this run has no machine.json; 'python -m generator ceilings' measures it)"
        return [["peak matmul", missing], ["memory bandwidth", missing]]
    m, b = ceilings.matmul, ceilings.bandwidth
    return [
        [
            "peak matmul",
            f"{fmt.sig(m.gflops, 4)} GFLOP/s ({m.dtype}, {m.n} × {m.n} GEMM, best of {m.repetitions}; "
            f"median {fmt.sig(m.median_gflops, 4)}), measured {ceilings.date}",
        ],
        [
            "memory bandwidth",
            f"{fmt.sig(b.gb_per_s, 4)} GB/s (copy of {fmt.megabytes(b.buffer_bytes)}, read + "
            f"write counted, best of {b.repetitions}; median {fmt.sig(b.median_gb_per_s, 4)})",
        ],
    ]


def _fingerprint(run: Run) -> tuple[Table, list[str]]:
    hw, sw, config = run.hardware, run.software, run.config
    gpu = hw.gpu
    rows: list[list[str | Link]] = [
        *_run_dates(run),
        ["hardware name", hw.name],
        ["hardware slug", hw.slug],
        ["CPU", hw.cpu_model or NOT_RECORDED],
        ["CPU identity", _cpu_identity(hw)],
        ["virtual machine", NOT_RECORDED if hw.cpu_hypervisor is None else "yes" if hw.cpu_hypervisor else "no"],
        ["ISA extensions for inference", ", ".join(hw.cpu_isa_extensions) or NOT_RECORDED],
        [
            "frequency governor",
            hw.cpu_frequency_governor or "not readable (no cpufreq, as in most VMs)"
            if hw.cpu_vendor is not None
            else hw.cpu_frequency_governor or NOT_RECORDED,
        ],
        ["CPU logical cores", fmt.count(hw.cpu_logical_cores, NOT_RECORDED)],
        ["RAM", fmt.megabytes(hw.ram_bytes, NOT_RECORDED)],
    ]
    if gpu is not None:
        rows += [
            ["GPU", gpu.name],
            ["GPU memory", fmt.megabytes(gpu.memory_bytes, "not recorded")],
            ["driver", gpu.driver_version or "not recorded"],
            ["compute capability", gpu.compute_capability or "not recorded"],
            [
                "power limit",
                fmt.with_unit(gpu.power_limit_w, "W", missing="not recorded")
                + (
                    f" (default {fmt.with_unit(gpu.power_limit_default_w, 'W')})"
                    if gpu.power_limit_default_w is not None and gpu.power_limit_default_w != gpu.power_limit_w
                    else ""
                ),
            ],
            ["maximum SM clock", fmt.with_unit(gpu.sm_clock_max_mhz, "MHz", digits=4, missing=NOT_RECORDED)],
            ["maximum memory clock", fmt.with_unit(gpu.memory_clock_max_mhz, "MHz", digits=4, missing=NOT_RECORDED)],
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
        ["torch BLAS", sw.torch_blas or NOT_RECORDED],
        ["torch oneDNN", sw.torch_onednn or NOT_RECORDED],
        ["torch CPU kernels", sw.torch_cpu_capability or NOT_RECORDED],
        ["torch parallel backend", sw.torch_parallel_backend or NOT_RECORDED],
    ]
    if config.device == "cuda":
        # A CPU run has no CUDA line: a CUDA build of torch on a CPU says nothing about the run.
        rows += [["CUDA", sw.cuda or "none"], ["cuDNN", sw.cudnn or "none"]]
    rows += [["platform", sw.platform], *_ceiling_rows(run)]
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


def _rate_cell(record: Record, result: BatchResult | None, run: Run) -> str:
    """Achieved GFLOP/s of one batch size and its share of the run's measured peak."""
    rate = data.achieved_gflops(record, result)
    if rate is None:
        return "not measured"
    fraction = data.fraction_of_peak(record, result, run.ceilings)
    share = "peak not measured" if fraction is None else fmt.percent(fraction * 100, 1)
    return f"{fmt.sig(rate, 3)} ({share})"


def _results_table(run: Run, page: str) -> Table:
    largest = max(run.batch_sizes) if run.batch_sizes else None
    rows: list[list[str | Link]] = []
    for record in run.records:
        b1 = data.ok_batch(record, 1)
        best_ips = max((v for b in record.batches if (v := data.images_per_s(b)) is not None), default=None)
        failed = data.failures(record)
        best_rate = max(
            ((rate, b.batch_size) for b in record.batches if (rate := data.achieved_gflops(record, b)) is not None),
            default=None,
        )
        rows.append(
            [
                Link(label(record), rel(page, model_path(record))),
                fmt.percent(data.top1(record), 2),
                fmt.sig(data.ms_per_image(b1), 4),
                fmt.sig(best_ips, 4),
                _rate_cell(record, b1, run),
                "not measured"
                if best_rate is None
                else f"{_rate_cell(record, data.ok_batch(record, best_rate[1]), run)} (batch {best_rate[1]})",
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
            "GFLOP/s at batch 1 (% of peak)",
            "best GFLOP/s (% of peak)",
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
    return HardwarePage(f"Hardware: {runs[0].machine_name}", sections, machine_history(runs, page))


def hardware_index(runs: Sequence[Run]) -> IndexPage:
    page = "hardware/index.md"
    rows: list[list[str | Link]] = [
        [
            Link(run.machine_name, rel(page, hardware_path(run.hardware_slug))),
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
