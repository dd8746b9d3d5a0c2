"""Charts: the numbers they plot (golden rows from the fixture records), their axes, colours and labels.

The fixture factory's formulas give every golden value below; each is written
out as a number so that a chart plotting the wrong quantity (energy instead of
net power, per batch instead of per image) fails here.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.factory import GPU, STUDY_MODELS, make_record

from generator.render import charts, data, layout, palette
from generator.render import figures as registry
from generator.render.data import group_runs
from generator.render.load import load_records

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "measurements"


@pytest.fixture(scope="module")
def runs() -> dict[str, data.Run]:
    return {run.hardware_slug: run for run in group_runs(load_records(FIXTURES))}


@pytest.fixture(scope="module")
def gpu(runs: dict[str, data.Run]) -> list[Any]:
    return runs["fixture-gpu"].study_records()


def _layers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every unit spec (one mark) of a chart, through layers and concatenations."""
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for child in spec.get(key, []):
            yield from _layers(child)
    if "mark" in spec:
        yield spec


def _mark(layer: dict[str, Any]) -> str:
    mark = layer["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def _values(spec: dict[str, Any], mark: str) -> list[dict[str, Any]]:
    """The data rows of every layer drawing ``mark``."""
    return [row for layer in _layers(spec) if _mark(layer) == mark for row in layer["data"]["values"]]


def _spec(function: Any, records: list[Any], lay: charts.Layout = charts.WIDE) -> dict[str, Any]:
    return function(records, charts.Palette.for_records(records), lay).to_dict()  # type: ignore[no-any-return]


def _row(rows: list[dict[str, Any]], model: str, **match: Any) -> dict[str, Any]:
    found = [r for r in rows if r["model"] == model and all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (model, match, found)
    return found[0]


# --- golden rows ------------------------------------------------------------------------------------------------

def test_fig2_plots_operations_accuracy_and_parameters(gpu: list[Any]) -> None:
    spec = _spec(charts.accuracy_vs_operations, gpu)
    rows = _values(spec, "circle")
    # GFLOPs = 2 x the fixture's GMACs; top-1 and parameters as published in the fixture.
    for model, gflops, top1, params in (("ResNet-50", 8.18, 76.1, 25.6), ("VGG-16", 30.94, 71.6, 138.4),
                                        ("AlexNet", 1.42, 56.5, 61.1)):
        row = _row(rows, model)
        assert (row["gflops"], row["top1"], row["params_m"]) == pytest.approx((gflops, top1, params))
    circle = next(layer for layer in _layers(spec) if _mark(layer) == "circle")
    assert circle["encoding"]["size"]["field"] == "params_m"  # bubble area is parameters, not operations


def test_fig3_plots_time_per_image_with_its_interval(gpu: list[Any]) -> None:
    rows = _values(_spec(charts.time_vs_batch, gpu), "line")
    # ResNet-50 on the fixture GPU: 0.08 ms/GMAC x 4.09 GMACs x b x (0.6 + 0.4/sqrt(b)) + 0.5 ms per batch.
    # The 95 % interval of the median time per batch is the record's ci95_low/high_ms_per_batch.
    for batch, ms_per_batch, low, high in ((1, 0.8272, 0.8255, 0.8289), (16, 4.1646, 4.1563, 4.1729),
                                           (64, 14.1115, 14.0833, 14.1397)):
        row = _row(rows, "ResNet-50", batch_size=batch)
        assert row["value"] == pytest.approx(ms_per_batch / batch)  # per image, not per batch
        assert (row["low"], row["high"]) == pytest.approx((low / batch, high / batch))
    rules = _values(_spec(charts.time_vs_batch, gpu), "rule")
    assert any(r.get("model") == "ResNet-50" and r.get("batch_size") == 16 and "low" in r for r in rules)
    assert not [r for r in rows if r["model"] == "VGG-19" and r["batch_size"] == 64]  # oom: left out, not zero


def test_fig4_plots_net_power_not_energy(gpu: list[Any]) -> None:
    rows = _values(_spec(charts.power_vs_batch, gpu), "line")
    # Net power = 60 + 4 log2(b) + 2 ln(1 + GMACs) W; energy per image would be about 0.03 J.
    for model, batch, watts in (("ResNet-50", 1, 63.255), ("ResNet-50", 4, 71.255), ("VGG-19", 1, 66.053)):
        assert _row(rows, model, batch_size=batch)["value"] == pytest.approx(watts, abs=1e-3)
    record = next(r for r in gpu if r.model.name == "resnet50")
    energy = data.energy_j(data.ok_batch(record, 4))
    assert energy is not None and _row(rows, "ResNet-50", batch_size=4)["value"] != pytest.approx(energy)


def test_fig5_plots_peak_memory_in_megabytes(gpu: list[Any]) -> None:
    rows = _values(_spec(charts.memory_vs_batch, gpu), "line")
    # NVML in use above the 300 MB baseline = 4 bytes x parameters + max(200 MB, b x activations).
    assert _row(rows, "ResNet-50", batch_size=1)["value"] == pytest.approx(4 * 25.6 + 200)


def test_fig7_plots_operations_against_time_at_batch_1_and_16(gpu: list[Any]) -> None:
    spec = _spec(charts.operations_vs_time, gpu)
    panels = spec["hconcat"]
    assert [p["layer"][0].get("title") or p.get("title") for p in panels]  # two panels
    first = [r for layer in _layers(panels[0]) if _mark(layer) == "circle" for r in layer["data"]["values"]]
    second = [r for layer in _layers(panels[1]) if _mark(layer) == "circle" for r in layer["data"]["values"]]
    assert _row(first, "ResNet-50")["ms"] == pytest.approx(0.8272)
    assert _row(second, "ResNet-50")["ms"] == pytest.approx(4.1646 / 16)
    assert _row(first, "ResNet-50")["gflops"] == pytest.approx(8.18)
    assert (_row(first, "ResNet-50")["ms_low"], _row(first, "ResNet-50")["ms_high"]) == pytest.approx(
        (0.8255, 0.8289))


def test_fig9_plots_throughput_with_its_interval(gpu: list[Any]) -> None:
    spec = _spec(charts.accuracy_vs_throughput, gpu)
    second = [r for layer in _layers(spec["hconcat"][1]) if _mark(layer) == "circle" for r in layer["data"]["values"]]
    row = _row(second, "ResNet-50")
    assert row["ips"] == pytest.approx(1000 * 16 / 4.1646)
    assert row["ips_low"] == pytest.approx(1000 * 16 / 4.1729)
    assert row["ips_high"] == pytest.approx(1000 * 16 / 4.1563)
    circle = next(layer for layer in _layers(spec) if _mark(layer) == "circle")
    assert circle["encoding"]["size"]["field"] == "gflops"


def test_fig10_plots_accuracy_per_million_parameters(gpu: list[Any]) -> None:
    rows = _values(_spec(charts.density_bars, gpu), "bar")
    assert _row(rows, "ResNet-50")["density"] == pytest.approx(76.1 / 25.6)


def test_model_chart_carries_the_interval() -> None:
    record = make_record(STUDY_MODELS[4], GPU)
    spec = charts.model_batches([record], ["gpu"]).to_dict()
    rules = _values(spec, "rule")
    assert {r["batch_size"] for r in rules} == {1, 2, 4, 8, 16, 32, 64}
    one = next(r for r in rules if r["batch_size"] == 1)
    assert one["ms_low"] < 0.8272 < one["ms_high"]


# --- axes -------------------------------------------------------------------------------------------------------

def _scales(spec: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("x", "y") and isinstance(value, dict) and isinstance(value.get("scale"), dict):
                yield value.get("field", ""), value["scale"]
            yield from _scales(value)
    elif isinstance(spec, list):
        for item in spec:
            yield from _scales(item)


@pytest.mark.parametrize("figure", registry.FIGURES, ids=lambda f: f.id)
@pytest.mark.parametrize("hardware", ["fixture-gpu", "fixture-cpu-2t"])
def test_no_negative_range_for_quantities_that_cannot_be_negative(runs: dict[str, data.Run], figure: registry.Figure,
                                                                  hardware: str) -> None:
    records = figure.drawable(runs[hardware].records)
    if not records:
        pytest.skip("nothing to draw")
    for lay in charts.LAYOUTS:
        spec = _spec(figure.chart, records, lay)
        for field, scale in _scales(spec):
            if "domain" in scale and isinstance(scale["domain"][0], (int, float)):
                assert scale["domain"][0] >= 0, (figure.id, field, scale)
                assert scale["domain"][0] < scale["domain"][1]


def test_fig3_is_log_log(gpu: list[Any]) -> None:
    line = next(layer for layer in _layers(_spec(charts.time_vs_batch, gpu)) if _mark(layer) == "line")
    assert line["encoding"]["x"]["scale"]["type"] == "log" and line["encoding"]["y"]["scale"]["type"] == "log"


def test_tick_labels_do_not_run_together() -> None:
    # Throughput over three decades on a narrow axis: the ticks thin out until their labels fit.
    axis = charts.fit_axis([12.0, 40.0, 50.0, 3800.0], 280, True, False)
    ticks = axis.ticks()
    assert len(ticks) >= 2
    boxes = sorted((axis.pixel(t) - layout.text_width(charts._format(t), 10) / 2,
                    axis.pixel(t) + layout.text_width(charts._format(t), 10) / 2) for t in ticks)
    assert all(b[0] - a[1] >= 5 for a, b in itertools.pairwise(boxes)), ticks


def test_axis_never_goes_negative_for_small_values() -> None:
    axis = charts.fit_axis([0.1, 0.2, 50.0], 320, False, True, 40)
    assert axis.low == 0.0 and axis.high > 50


# --- colours ----------------------------------------------------------------------------------------------------

def _colour_of(spec: dict[str, Any], name: str) -> str:
    for layer in _layers(spec):
        colour = layer.get("encoding", {}).get("color")
        if colour and colour.get("field") == "model":
            scale = colour["scale"]
            if name in scale["domain"]:
                return str(scale["range"][scale["domain"].index(name)])
    raise AssertionError(f"{name} has no colour")


def test_one_colour_per_network_the_same_on_every_chart(gpu: list[Any]) -> None:
    names = sorted({r.model.study_name for r in gpu})
    colours = {palette.network_colour(n) for n in names}
    assert len(colours) == len(names)  # the two AlexNets, the ResNets, the VGGs all apart
    for function in (charts.accuracy_vs_operations, charts.time_vs_batch, charts.memory_vs_batch,
                     charts.operations_vs_time, charts.accuracy_vs_throughput, charts.top1_bars):
        spec = _spec(function, gpu)
        for name in ("ResNet-50", "ResNet-152", "AlexNet", "BN-AlexNet", "VGG-16"):
            assert _colour_of(spec, name) == palette.STUDY_NETWORK_COLOURS[name], (function.__name__, name)


def test_whole_zoo_colours_by_family(runs: dict[str, data.Run]) -> None:
    spec = _spec(charts.accuracy_vs_operations, runs["fixture-gpu"].records)
    colour = next(layer["encoding"]["color"] for layer in _layers(spec) if _mark(layer) == "circle")
    assert colour["field"] == "family"
    assert colour["scale"]["range"][colour["scale"]["domain"].index("resnet")] == palette.FAMILY_COLOURS["resnet"]
    # ... and still names the study's networks.
    assert "ResNet-50" in {r["model"] for r in _values(spec, "text")}


def test_dark_scheme_colours_stay_apart_and_visible() -> None:
    darks = palette.dark_variants(palette.STUDY_NETWORK_COLOURS.values())
    shown = [darks.get(c, c) for c in palette.STUDY_NETWORK_COLOURS.values()]
    assert len(set(shown)) == len(shown)
    background = palette._luminance(palette.DARK_BACKGROUND)
    for colour in shown:
        assert (palette._luminance(colour) + 0.05) / (background + 0.05) >= palette.MIN_DARK_CONTRAST, colour


# --- labels -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("function", [charts.accuracy_vs_operations, charts.time_vs_batch, charts.memory_vs_batch,
                                      charts.operations_vs_time, charts.accuracy_vs_throughput],
                         ids=lambda f: f.__name__)
def test_every_network_is_named_on_the_chart(gpu: list[Any], function: Any) -> None:
    spec = _spec(function, gpu)
    panels = spec.get("hconcat") or [spec]
    for panel in panels:
        drawn = {r["model"] for layer in _layers(panel) if _mark(layer) in ("circle", "line")
                 for r in layer["data"]["values"] if "model" in r}
        named = {r["model"] for layer in _layers(panel) if _mark(layer) == "text" for r in layer["data"]["values"]}
        assert drawn <= named, sorted(drawn - named)


def test_a_point_grid_counts_the_circles_a_box_touches_as_checking_every_circle_would() -> None:
    import random

    rng = random.Random(7)
    points = [layout.Point(f"p{i}", rng.uniform(-20, 320), rng.uniform(-20, 220), rng.choice([0, 2, 3, 5, 9]), "")
              for i in range(600)]
    grid = layout.PointGrid(points)
    for _ in range(400):
        left, top = rng.uniform(-30, 300), rng.uniform(-30, 200)
        box = layout.Box(left, top, left + rng.uniform(0, 90), top + rng.uniform(0, 20))
        skip, skip_keys = rng.choice(points), frozenset(p.key for p in rng.sample(points, 20))
        touched = [p for p in points
                   if box.hits_circle(p.x, p.y, max(p.radius, 3)) and p is not skip and p.key not in skip_keys]
        assert grid.count_hits(box, math.inf, skip, skip_keys) == len(touched)
        if touched:  # stops counting at the limit
            assert grid.count_hits(box, 1, skip, skip_keys) == 1


def test_labels_never_overlap_nor_leave_the_plot() -> None:
    # A dense cloud: whatever fits is placed apart; nothing is placed overlapping.
    points = [layout.Point(f"p{i}", 40 + (i * 37) % 120, 40 + (i * 53) % 90, 4, f"network-{i}") for i in range(30)]
    placed = layout.place_labels(points, 300, 200, 10)
    boxes = [label.box for label in placed.values()]
    assert len(placed) >= 15
    for i, box in enumerate(boxes):
        assert box.inside(0, 0, 300, 200)
        assert not any(box.overlaps(other) for other in boxes[i + 1:])


def test_end_labels_stack_without_overlap() -> None:
    baselines = layout.stack_end_labels([(f"k{i}", 100.0) for i in range(10)], 0, 300, 10)
    ordered = sorted(baselines.values())
    assert all(b - a >= (layout.ASCENT + layout.DESCENT) * 10 for a, b in itertools.pairwise(ordered))
    assert layout.stack_end_labels([(f"k{i}", 10.0) for i in range(40)], 0, 100, 10) == {}  # cannot fit: none


SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><g transform="translate(10,10)">
<g class="mark-text role-mark"><text transform="translate(20,30)" font-size="10px">AlexNet</text>
<text transform="translate(25,32)" font-size="10px">BN-AlexNet</text>
<text transform="translate(180,50)" font-size="10px">VGG-19</text>
<text transform="translate(20,80)" font-size="10px">Res…</text></g></g></svg>"""


def test_text_check_finds_overlap_cut_and_outside() -> None:
    problems = layout.text_problems(SVG)
    assert any(p.startswith("overlap: 'AlexNet'") for p in problems)
    assert any(p.startswith("outside the picture: 'VGG-19'") for p in problems)
    assert any(p.startswith("cut short: 'Res…'") for p in problems)
    assert len(problems) == 3


# --- the registry -----------------------------------------------------------------------------------------------

def test_registry_ids_are_unique_and_named() -> None:
    ids = [figure.id for figure in registry.FIGURES]
    assert len(ids) == len(set(ids))
    assert all(figure.name and figure.title for figure in registry.FIGURES)


def test_caption_says_what_to_look_at(gpu: list[Any]) -> None:
    caption = registry.BY_ID["fig2"].caption(gpu)
    # VGG-19: 39.26 GFLOPs, 72.4 %; the most accurate cheaper network: Inception-v4, 24.56 GFLOPs, 80.1 %.
    assert caption.startswith("VGG-19 is the outlier: 1.60× the operations of Inception-v4 for 7.70 points less top-1.")
    assert "R² = 1.000" in registry.BY_ID["fig7"].caption(gpu)


def test_figure_spec_is_json(gpu: list[Any]) -> None:
    for figure in registry.FIGURES:
        records = figure.drawable(gpu)
        if records:
            json.dumps(_spec(figure.chart, records))
            assert math.isfinite(len(figure.caption(records)))


def test_findings_name_only_registered_figures(runs: dict[str, data.Run]) -> None:
    from generator.render import findings

    for run in runs.values():
        for finding in findings.run_findings(run):
            assert set(finding.figures) <= set(registry.BY_ID), (finding.key, finding.figures)


def test_home_page_needs_no_other_page_built_first() -> None:
    from generator.render import pages, site

    items = load_records(FIXTURES)
    runs = group_runs(items)
    # The home page alone, before (and without) any figures page ...
    home = pages.home_page(items, runs)
    images = {image.svg for run in home.runs for finding in run.findings for image in finding.images}
    assert images, "no figure shown beside any finding"
    # ... shows exactly figures the figures pages draw.
    drawn = {pages.rel("index.md", job.svg_path) for job in site.build_site_model(items).charts if job.svg_path}
    assert images <= drawn, sorted(images - drawn)
