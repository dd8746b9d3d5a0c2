"""Comparing runs: hardware against hardware, configurations, and one machine across software versions.

Fixture records from the factory, changed through their JSON (as a record from
another machine would arrive), read back through the schema's parser.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from fixtures.factory import CPU, STUDY_MODELS, make_record, write_records

from generator.errors import CliError
from generator.render import comparison, comparison_charts, pages
from generator.render.data import group_runs
from generator.render.load import LoadedRecord, load_records
from generator.render.site import build_site_model, render_files
from generator.schema import Record, parse_record, record_to_json

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MODELS = STUDY_MODELS[:6]  # alexnet, bn_alexnet, googlenet, resnet18, resnet50, resnet152


def _scale_latency(latency: dict[str, Any], factor: float, half_width: float | None) -> None:
    for key, value in list(latency.items()):
        if key.endswith(("_ms_per_batch", "_ms_per_image")) and isinstance(value, int | float):
            latency[key] = value * factor
        elif key == "samples_ms_per_batch":
            latency[key] = [v * factor for v in value]
        elif key == "throughput_images_per_s":
            latency[key] = value / factor
        elif key == "rounds":
            for one in value:
                _scale_latency(one, factor, half_width)
    if "ci95_half_width_relative" in latency:
        latency["ci95_half_width_relative"] = half_width
    if "ci95_low_ms_per_batch" in latency:  # schema 2: the interval of the point estimate itself
        median = latency["median_ms_per_batch"]
        latency["ci95_low_ms_per_batch"] = None if half_width is None else median * (1 - half_width)
        latency["ci95_high_ms_per_batch"] = None if half_width is None else median * (1 + half_width)


def variant(record: Record, *, factor: float = 1.0, half_width: float | None = 0.05, slug: str | None = None,
            name: str | None = None, torch: str | None = None, date: str | None = None,
            precision: str | None = None) -> Record:
    """``record`` measured elsewhere: times × ``factor``, 95 % half width ``half_width`` (relative)."""
    document = json.loads(record_to_json(record))
    for result in document["batches"]:
        if result.get("latency"):
            _scale_latency(result["latency"], factor, half_width)
    if slug is not None:
        document["hardware"]["slug"] = slug
        document["hardware"]["name"] = name or slug
    if torch is not None:
        document["software"]["torch"] = torch
    if date is not None:
        document["run"]["date"] = date
    if precision is not None:
        document["config"]["precision"] = precision
    return parse_record(document)


def items_of(records: list[Record]) -> list[LoadedRecord]:
    """Records as the loader would hand them over (software runs side by side need no files)."""
    return [LoadedRecord(r, Path(f"<{r.hardware.slug}/{r.software.torch}/{r.model.name}>"),
                         PurePosixPath("data", "records", r.hardware.slug, r.config.slug, r.software.torch or "",
                                       f"{r.model.name}.json")) for r in records]


def refs_of(records: list[Record]) -> list[comparison.RunRef]:
    return comparison.run_refs(group_runs(items_of(records)))


def base_records(batch_sizes: tuple[int, ...] = (1, 2, 4, 8)) -> list[Record]:
    return [variant(make_record(m, CPU, batch_sizes)) for m in MODELS]


def test_missing_model_on_one_side_is_left_out_and_named() -> None:
    a = base_records()
    b = [variant(r, factor=0.5, slug="other-cpu", name="Other CPU") for r in a if r.model.name != "resnet152"]
    baseline, other = refs_of(a + b)
    c = comparison.compare(baseline, other)
    assert "resnet152" not in c.common_models and len(c.common_models) == 5
    assert any(note.startswith("resnet152: measured only on") and "Fixture CPU" in note for note in c.left_out)
    assert all(len(batch.rows) == 5 for batch in c.batches)
    # Half the time everywhere: twice the speed, every model faster, the geometric mean's interval around 2.
    one = c.batch(1)
    assert one is not None and one.speedup is not None
    assert one.speedup.value == pytest.approx(2.0)
    assert one.speedup.low is not None and one.speedup.high is not None
    assert one.speedup.low < 2.0 < one.speedup.high and one.speedup.verdict == "faster"
    assert one.count("faster") == 5


def test_only_batch_sizes_measured_on_both_are_compared() -> None:
    a = base_records((1, 2, 4, 8))
    b = [variant(r, slug="other-cpu") for r in base_records((1, 2, 16))]
    baseline, other = refs_of(a + b)
    c = comparison.compare(baseline, other)
    assert c.common_batch_sizes == [1, 2]
    assert [batch.batch_size for batch in c.batches] == [1, 2]
    assert {n for n in c.left_out if n.startswith("batch ")} == {
        f"batch 4: measured only on {baseline.label}", f"batch 8: measured only on {baseline.label}",
        f"batch 16: measured only on {other.label}"}
    # The best throughput is looked for only among the common batch sizes.
    assert all(e.throughput is not None and e.throughput[1] in (1, 2) and e.throughput[3] in (1, 2)
               for e in c.extras)


def test_same_times_are_indistinguishable_and_no_interval_says_so() -> None:
    a = base_records()
    b = [variant(r, factor=1.02, slug="other-cpu") for r in a]
    c = comparison.compare(*refs_of(a + b))
    for batch in c.batches:
        assert batch.count("indistinguishable") == len(batch.rows)
        assert batch.speedup is not None and batch.speedup.verdict == "indistinguishable"
    without = [variant(r, factor=0.5, half_width=None, slug="third-cpu") for r in a]
    c = comparison.compare(*refs_of(a + without))
    assert all(row.speedup.verdict == "no interval" for batch in c.batches for row in batch.rows)


def test_software_upgrade_on_the_same_machine_is_a_second_run_with_history() -> None:
    old = base_records()
    new = [variant(r, factor=1.01, torch="2.15.0", date="2026-03-01T00:00:00Z") for r in old]
    new[4] = variant(old[4], factor=1.5, torch="2.15.0", date="2026-03-01T00:00:00Z")  # resnet50 regresses
    runs = group_runs(items_of(old + new))
    assert len(runs) == 1  # one machine and configuration ...
    refs = comparison.run_refs(runs)
    assert len(refs) == 2  # ... measured under two software stacks: two runs, oldest first
    assert [dict(ref.software)["torch"] for ref in refs] == ["2.14.1", "2.15.0"]
    assert refs[0].id != refs[1].id and refs[0].id.startswith(f"{CPU.slug}/fp32/")
    page = pages.hardware_page(CPU.slug, runs)
    assert page.history is not None
    assert [row[2].split(", ")[1] for row in page.history.runs.rows] == ["torch 2.14.1", "torch 2.15.0"]
    (step,) = page.history.steps
    assert step.software == ["torch 2.14.1 → 2.15.0"]
    # Larger than the noise: ResNet-50, 50 % slower at every batch size, is reported as a regression ...
    assert step.changes is not None
    assert {(str(row[0].text), row[5]) for row in step.changes.rows} == {("ResNet-50", "slower (regression)")}
    assert len(step.changes.rows) == 4
    # ... a 1 % change, well inside the combined interval, is not.
    assert "20 changed less than that (not reported)" in step.summary


def test_change_smaller_than_the_noise_is_not_a_regression() -> None:
    old = base_records()
    # 6 % slower with 5 % intervals on both sides: the combined interval (about ±7 %) still reaches 1.
    new = [variant(r, factor=1.06, torch="2.15.0", date="2026-03-01T00:00:00Z") for r in old]
    (step,) = comparison.history(refs_of(old + new))
    assert step.regressions == [] and step.improvements == []
    assert step.within_noise == step.compared_points == 24
    # The same change with tight intervals (1 %) is larger than the noise and is reported.
    tight_old = [variant(r, half_width=0.01) for r in old]
    tight_new = [variant(r, factor=1.06, half_width=0.01, torch="2.15.0", date="2026-03-01T00:00:00Z")
                 for r in old]
    (step,) = comparison.history(refs_of(tight_old + tight_new))
    assert len(step.regressions) == 24 and step.within_noise == 0
    assert all(change.speedup.high is not None and change.speedup.high < 1 for change in step.regressions)


def test_configurations_compare_on_their_own_machine() -> None:
    fp32 = base_records()
    bf16 = [variant(r, factor=0.6, precision="bf16") for r in fp32]
    other_fp32 = [variant(r, factor=0.8, slug="other-cpu") for r in fp32]
    other_bf16 = [variant(r, factor=0.5, slug="other-cpu", precision="bf16") for r in fp32]
    refs = refs_of(fp32 + bf16 + other_fp32 + other_bf16)
    baseline = comparison.choose_baseline(refs, None)
    assert baseline.id == f"{CPU.slug}/fp32"
    pairs = [(a.id, b.id) for a, b in comparison.pairs_to_compare(refs, baseline)]
    # fp32 against bf16 on each machine, machines against each other in fp32: never bf16 there against fp32 here.
    assert pairs == [(f"{CPU.slug}/fp32", f"{CPU.slug}/bf16"), (f"{CPU.slug}/fp32", "other-cpu/fp32"),
                     ("other-cpu/fp32", "other-cpu/bf16")]
    c = comparison.compare(refs[1], refs[0]) if refs[0].config_slug == "bf16" else comparison.compare(refs[0], refs[1])
    assert c.kind == "configuration" and "precision: fp32 → bf16" in c.differences
    one = c.batch(1)
    assert one is not None and one.speedup is not None and one.speedup.value == pytest.approx(1 / 0.6)
    with pytest.raises(comparison.BaselineError, match="other-cpu/fp32"):
        comparison.choose_baseline(refs, "no-such/fp32")
    assert comparison.choose_baseline(refs, "other-cpu/fp32").id == "other-cpu/fp32"


def test_geometric_mean_interval_is_reproducible_and_covers_the_spread() -> None:
    one = comparison.Estimate(1.0, 0.95, 1.05, "within and across rounds")
    pairs = [(comparison.Estimate(f, f * 0.95, f * 1.05, "within and across rounds"), one)
             for f in (0.8, 1.0, 1.25, 1.1, 0.9)]
    first = comparison.geometric_mean_ratio(pairs)
    assert first == comparison.geometric_mean_ratio(pairs)  # fixed seed
    assert first is not None and first.low is not None and first.high is not None
    assert first.low < 1.0 < first.high and first.verdict == "indistinguishable"
    # Models that agree: a narrow interval; two models are too few for one.
    agree = comparison.geometric_mean_ratio([(comparison.Estimate(2.0, 1.9, 2.1, "none"), one)] * 5)
    assert agree is not None and agree.low is not None and agree.high is not None
    assert 1.8 < agree.low < 2.0 < agree.high < 2.2 and agree.verdict == "faster"
    few = comparison.geometric_mean_ratio(pairs[:2])
    assert few is not None and few.low is None and few.verdict == "no interval"


def test_comparison_page_renders_with_chart_and_left_out_list(tmp_path: Path) -> None:
    a = base_records()
    b = [variant(r, factor=0.5, slug="other-cpu", name="Other CPU") for r in a if r.model.name != "resnet152"]
    write_records(a + b, tmp_path / "m")
    items = load_records(tmp_path / "m")
    files = render_files(items, TEMPLATES)
    page = files["hardware/compare.md"].decode()
    assert "Baseline: **Fixture CPU" in page
    assert "resnet152: measured only on Fixture CPU" in page
    assert "2.00× \\[" in page and ", faster" in page  # Markdown-escaped bracket
    assert "hardware/charts/compare-1.svg" in files and b"<svg" in files["hardware/charts/compare-1.svg"]
    spec = json.loads(files["hardware/charts/compare-1.vl.json"])
    assert spec["facet"]["field"] == "batch_size" and spec["columns"] == comparison_charts.COLUMNS
    home = files["index.md"].decode()
    assert "Fastest run for the study's networks at batch 1: Other CPU" in home
    hardware = files["hardware/other-cpu.md"].decode()
    assert "## Runs by date" in hardware
    with pytest.raises(CliError, match="--baseline 'nope/fp32' names no run"):
        build_site_model(items, "nope/fp32")
    other_first = render_files(items, TEMPLATES, baseline="other-cpu/fp32")["hardware/compare.md"].decode()
    assert "Baseline: **Other CPU" in other_first and "0.500× \\[" in other_first


def test_comparison_chart_validates() -> None:
    a = base_records()
    b = [variant(r, factor=0.7, slug="other-cpu") for r in a]
    chart = comparison_charts.comparison_scatter(comparison.compare(*refs_of(a + b)))
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    rows = spec["data"]["values"]
    assert {row["kind"] for row in rows} == {"model", "diagonal"}
    assert sum(1 for row in rows if row["kind"] == "model") == 6 * 4


def test_one_run_has_nothing_to_compare(tmp_path: Path) -> None:
    refs = refs_of(base_records())
    assert comparison.pairs_to_compare(refs, refs[0]) == []
    write_records(base_records(), tmp_path / "m")
    files = render_files(load_records(tmp_path / "m"), TEMPLATES)
    assert "hardware/compare.md" not in files
    assert "Fastest run" not in files["index.md"].decode()


def test_home_names_no_fastest_run_when_the_interval_contains_1() -> None:
    a = base_records()
    b = [variant(r, factor=0.98, slug="other-cpu", name="Other CPU") for r in a]
    home = pages.home_lines(group_runs(items_of(a + b)))
    assert [line.label for line in home.runs] == ["Fixture CPU, 2 threads (synthetic data), fp32", "Other CPU, fp32"]
    assert all(line.text.startswith("holds: ") for line in home.runs)
    assert home.fastest is not None and home.fastest.startswith("No run is distinguishably faster than the baseline")
    assert "Other CPU, fp32, runs 1.02× [" in home.fastest


def test_two_machines_with_one_hardware_name_are_named_apart_on_every_page(tmp_path: Path) -> None:
    # Two hosts with the same CPU model (an imported run beside this machine's): the site must never show two runs
    # under one label. A machine whose name is its own keeps it unchanged.
    a = base_records()
    b = [variant(r, factor=0.5, slug="fixture-cpu-2t-lab", name=CPU.name) for r in a]
    c = [variant(r, factor=0.7, slug="other-cpu", name="Other CPU") for r in a]
    write_records(a + b + c, tmp_path / "m")
    files = render_files(load_records(tmp_path / "m"), TEMPLATES)
    page = {name: files[name].decode() for name in files if name.endswith(".md")}
    first, second = f"{CPU.name} ({CPU.slug})", f"{CPU.name} (fixture-cpu-2t-lab)"
    assert f"| claim | {first}, fp32 | {second}, fp32 | Other CPU, fp32 |" in page["index.md"]  # claims table
    assert f"- **{first}, fp32** (" in page["index.md"] and f"- **{second}, fp32** (" in page["index.md"]
    assert f"Fastest run for the study's networks at batch 1: {second}, fp32, 2.00×" in page["index.md"]
    assert f"Baseline: **{first}, fp32**" in page["hardware/compare.md"]
    assert f"## {second}, fp32 against {first}, fp32" in page["hardware/compare.md"]
    assert f"hardware: {first} → {second}." in page["hardware/compare.md"]
    assert f"## {first}, fp32\n" in page["models/index.md"] and f"## {second}, fp32\n" in page["models/index.md"]
    assert f"# Hardware: {second}\n" in page["hardware/fixture-cpu-2t-lab.md"]
    assert f"### {first}, fp32\n" in page["models/alexnet.md"] and f"### {second}, fp32\n" in page["models/alexnet.md"]
    assert "## Other CPU, fp32\n" in page["models/index.md"]
    assert "# Hardware: Other CPU\n" in page["hardware/other-cpu.md"]
    for text in page.values():  # no page names a run by the shared name alone
        assert f"{CPU.name}, fp32" not in text
