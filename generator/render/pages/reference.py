"""The methodology and data pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from generator.render import data, fmt
from generator.render.data import Run
from generator.render.pages.common import Link, Table, rel
from generator.render.pages.leaderboard import leaderboard_csv_path
from generator.schema import SCHEMA_VERSION, Record


@dataclass(frozen=True)
class MethodologyPage:
    title: str
    schema_version: int
    counters: list[str]
    clocks: list[str]
    memory_kinds: list[str]
    power_counters: list[str]
    vega_versions: str
    ops_example: str | None  # one record's counts in each convention, to make the conventions concrete


def methodology_page(records: Sequence[Record], vega_versions: str) -> MethodologyPage:
    counters = sorted({r.operations.counter for r in records if r.operations is not None})
    clocks = sorted({b.latency.clock for r in records for b in r.batches if b.latency is not None})
    kinds = sorted({data.memory_kind(r) for r in records})
    power: list[str] = sorted(
        {b.power.counter for r in records for b in r.batches if b.power is not None and b.power.counter}
    )
    counted = sorted(
        (r for r in records if r.operations is not None), key=lambda r: (r.model.name != "resnet50", r.model.name)
    )
    example = None
    if counted:
        ops = counted[0].operations
        assert ops is not None
        example = (
            f"For example, {counted[0].model.name} in these records: {fmt.sig(ops.gmacs, 4)} GMACs (fvcore, all "
            f"operators), {fmt.sig(ops.gflops, 4)} GFLOPs, {fmt.sig(ops.gmacs_conv_linear_matmul, 4)} GMACs of "
            f"convolution, linear and matmul only, {fmt.sig(ops.flop_counter_gflops, 4)} GFLOPs by "
            "torch.utils.flop_counter."
        )
    return MethodologyPage(
        "Methodology",
        SCHEMA_VERSION,
        counters or ["none recorded"],
        clocks or ["none recorded"],
        kinds or ["none recorded"],
        power or ["none: power not measured"],
        vega_versions,
        example,
    )


@dataclass(frozen=True)
class DataPage:
    title: str
    csv: Link
    json: Link
    columns: list[str]
    records: Table | None
    leaderboards: list[Link] = field(default_factory=list)  # the models index's CSV per hardware


def data_page(runs: Sequence[Run], columns: Sequence[str]) -> DataPage:
    page = "data.md"
    rows: list[list[str | Link]] = [
        [
            run.machine_name,
            item.record.config.slug,
            item.record.model.name,
            item.record.status,
            Link(str(item.site_path).split("/")[-1], rel(page, str(item.site_path))),
        ]
        for run in runs
        for item in run.items
    ]
    slugs = sorted({run.hardware_slug for run in runs})  # the safe slug the site paths use
    return DataPage(
        "Data",
        Link("records.csv", "data/records.csv"),
        Link("records.json", "data/records.json"),
        list(columns),
        Table(["hardware", "configuration", "model", "status", "record"], rows) if rows else None,
        [Link(f"{slug}.csv", rel(page, leaderboard_csv_path(slug))) for slug in slugs],
    )
