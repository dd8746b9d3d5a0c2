"""Golden charts: the whole Vega-Lite spec of every chart on a small record set, and rows checked by hand.

``tests/golden/charts.json`` holds each chart's spec (data rows, encodings,
titles, units, formats, scales, tick values, label positions) for four
fixture models on the fixture GPU, timed at batch 1, 2 and 16 with round
numbers and a +-5 % interval. Before it was written, its rows were checked by
hand (the tests below spell the checks out): a chart that plots the wrong
quantity, names an axis wrongly or loses a unit differs from it. If a change
is meant, look at the new figure and its numbers before writing the file
again (``GOLDEN_WRITE=1``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.factory import EXTRA_MODELS, GPU, STUDY_MODELS, make_record, retimed, with_recipes
from fixtures.tight import approx

from generator.render import charts
from generator.schema import BatchResult, Record

GOLDEN = Path(__file__).resolve().parent / "golden" / "charts.json"
MB = 1_000_000

# ms per image at batch 1, 2 and 16: round numbers, each with a +-5 % interval.
TIMES = {"alexnet": (4.0, 3.0, 2.0), "resnet50": (8.0, 6.0, 4.0), "vgg19": (20.0, 16.0, 10.0),
         "mobilenet_v3_large": (1.0, 0.6, 0.25)}


def _records() -> list[Record]:
    records = []
    for model in (STUDY_MODELS[0], STUDY_MODELS[4], STUDY_MODELS[7], EXTRA_MODELS[0]):
        times = TIMES[model.name]
        records.append(retimed(make_record(model, GPU, (1, 2, 16)), dict(zip((1, 2, 16), times, strict=True)), 0.05))
    records[1] = with_recipes(records[1], 76.13, 80.858, "ResNet50_Weights.IMAGENET1K_V2")
    return records


RECORDS = _records()
STUDY = [r for r in RECORDS if r.model.study_name]


def _draw(function: Callable[..., Any], records: list[Record], lay: charts.Layout = charts.WIDE) -> Any:
    return function(records, charts.Palette.for_records(records), lay)


def _highlight(kind: str) -> Any:
    if kind == "operations":
        base = charts.operations_highlight_base(RECORDS)
        name = "resnet50"
    else:
        base = charts.throughput_highlight_base(RECORDS, 16)
        name = "alexnet"
    assert base is not None
    return charts.highlighted(base, name, "#123456")


CASES: dict[str, Callable[[], Any]] = {
    **{name: (lambda name=name: _draw(getattr(charts, name), RECORDS)) for name in (
        "top1_bars", "top5_bars", "density_bars", "accuracy_vs_operations", "time_vs_batch", "power_vs_batch",
        "memory_vs_batch", "memory_vs_parameters", "operations_vs_time", "operations_vs_power",
        "accuracy_vs_throughput", "accuracy_latency_front", "accuracy_energy_front",
    )},
    **{f"{name}-narrow": (lambda name=name: _draw(getattr(charts, name), RECORDS, charts.NARROW)) for name in (
        "top1_bars", "time_vs_batch", "operations_vs_time",
    )},
    "top1_bars-study": lambda: _draw(charts.top1_bars, STUDY),
    "accuracy_vs_operations-study": lambda: _draw(charts.accuracy_vs_operations, STUDY),
    "model_batches": lambda: charts.model_batches(RECORDS[:2], ["run a", "run b"]),
    "highlight-operations": lambda: _highlight("operations"),
    "highlight-throughput": lambda: _highlight("throughput"),
    "empty": lambda: _draw(charts.time_vs_batch, []),
}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _spec(case: str) -> Any:
    # Altair numbers views by a process-wide counter: the number depends on what was drawn before.
    text = re.sub(r"view_[0-9a-f_]+", "view_N", json.dumps(CASES[case]().to_dict(), sort_keys=True))
    return _rounded(json.loads(text))


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    if os.environ.get("GOLDEN_WRITE") == "1":
        specs = {case: _spec(case) for case in CASES}
        GOLDEN.write_text(json.dumps(specs, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return json.loads(GOLDEN.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", sorted(CASES))
def test_chart_spec_is_golden(case: str, golden: dict[str, Any]) -> None:
    assert _spec(case) == golden[case]


# --- the rows of the golden set, by hand ---------------------------------------------------------------------------


def _layers(spec: dict[str, Any], data: Any = None) -> Iterator[dict[str, Any]]:
    """Every unit spec (one mark), each with its data (Altair may hoist a single layer's data to its parent)."""
    data = spec.get("data", data)
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for child in spec.get(key, []):
            yield from _layers(child, data)
    if "mark" in spec:
        yield {"data": data, **spec}


def _mark(layer: dict[str, Any]) -> str:
    mark = layer["mark"]
    return mark if isinstance(mark, str) else str(mark["type"])


def _rows(spec: dict[str, Any], mark: str) -> list[dict[str, Any]]:
    return [row for layer in _layers(spec) if _mark(layer) == mark for row in layer["data"]["values"]]


def _by(rows: list[dict[str, Any]], *keys: str) -> dict[Any, dict[str, Any]]:
    return {tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]: row for row in rows}


def _titles(spec: dict[str, Any]) -> dict[str, str]:
    """Field -> axis title of every encoded axis."""
    found = {}
    for layer in _layers(spec):
        for channel in ("x", "y"):
            encoding = layer.get("encoding", {}).get(channel, {})
            title = encoding.get("axis", {}).get("title") if isinstance(encoding.get("axis"), dict) else None
            if title:
                found[encoding["field"]] = title
    return found


def test_time_and_throughput_rows_by_hand() -> None:
    spec = _draw(charts.time_vs_batch, RECORDS).to_dict()
    rows = _by(_rows(spec, "line"), "registry_name", "batch_size")
    for name, times in TIMES.items():
        for size, ms in zip((1, 2, 16), times, strict=True):
            row = rows[(name, size)]
            assert row["value"] == approx(ms)
            assert (row["low"], row["high"]) == approx((0.95 * ms, 1.05 * ms))
    assert _titles(spec) == {"value": "Time per image (ms, median)", "batch_size": "Batch size (images)"}
    spec9 = _draw(charts.accuracy_vs_throughput, RECORDS).to_dict()
    panels = spec9["hconcat"]
    at16 = _by([r for layer in _layers(panels[1]) if _mark(layer) == "circle" for r in layer["data"]["values"]],
               "registry_name")
    # 16 images in 16 x 4 ms = 250 images/s; the interval's ends from 4.2 and 3.8 ms per image.
    assert at16["resnet50"]["ips"] == approx(250.0)
    assert (at16["resnet50"]["ips_low"], at16["resnet50"]["ips_high"]) == approx((1000 / 4.2, 1000 / 3.8))
    assert at16["resnet50"]["top1"] == 76.13  # the original recipe, not the later 80.858
    assert [[layer["title"] for layer in _layers(p) if "title" in layer] for p in panels] == [["Batch 1"], ["Batch 16"]]
    assert _titles(spec9) == {"ips": "Throughput (images per second)", "top1": "Top-1 accuracy (%)"}


def test_operations_time_rows_by_hand() -> None:
    spec = _draw(charts.operations_vs_time, RECORDS).to_dict()
    first, second = ([r for layer in _layers(p) if _mark(layer) == "circle" for r in layer["data"]["values"]]
                     for p in spec["hconcat"])
    one, sixteen = _by(first, "registry_name"), _by(second, "registry_name")
    assert (one["vgg19"]["gflops"], one["vgg19"]["ms"], sixteen["vgg19"]["ms"]) == approx((39.26, 20.0, 10.0))
    assert (one["vgg19"]["ms_low"], one["vgg19"]["ms_high"]) == approx((19.0, 21.0))
    assert one["vgg19"]["params_m"] == approx(143.7)
    assert _titles(spec) == {"gflops": "Operations (GFLOPs per image)", "ms": "Time per image (ms, median)"}


def test_power_and_energy_rows_by_hand() -> None:
    # Fixture GPU: net power 60 + 4 log2(b) + 2 ln(1 + GMACs) W, rounded to 3 decimals.
    rows = _by(_rows(_draw(charts.power_vs_batch, RECORDS).to_dict(), "line"), "registry_name", "batch_size")
    assert rows[("alexnet", 1)]["value"] == approx(61.073)
    assert rows[("alexnet", 2)]["value"] == approx(65.073)
    assert rows[("alexnet", 16)]["value"] == approx(77.073)
    spec8 = _draw(charts.operations_vs_power, RECORDS).to_dict()
    second = _by([r for layer in _layers(spec8["hconcat"][1]) if _mark(layer) == "circle"
                  for r in layer["data"]["values"]], "registry_name")
    assert second["vgg19"]["watts"] == approx(60 + 16 + 6.053) and second["vgg19"]["gflops"] == 39.26
    assert _titles(spec8) == {"gflops": "Operations (GFLOPs per image)", "watts": "Net power above idle (W)"}
    front = _by(_rows(_draw(charts.accuracy_energy_front, RECORDS).to_dict(), "circle"), "registry_name")
    record = RECORDS[0]
    power, latency = record.batches[0].power, record.batches[0].latency
    assert power is not None and latency is not None
    assert front["alexnet"]["cost"] == power.energy_j_per_image  # J per image at batch 1, as recorded


def test_memory_rows_by_hand() -> None:
    # NVML above its baseline: 4 bytes x parameters + max(200 MB, b x activation bytes per image).
    rows = _by(_rows(_draw(charts.memory_vs_batch, RECORDS).to_dict(), "line"), "registry_name", "batch_size")
    activations = int(4e6 * (2 + 3 * 0.71**0.5))  # AlexNet, bytes per image
    assert rows[("alexnet", 1)]["value"] == approx(244.4 + 200)
    assert rows[("alexnet", 16)]["value"] == approx(244.4 + 16 * activations / MB)
    spec6 = _draw(charts.memory_vs_parameters, RECORDS).to_dict()
    six = _by(_rows(spec6, "circle"), "registry_name")
    assert (six["vgg19"]["param_mb"], six["vgg19"]["memory_mb"]) == approx((574.8, 774.8))
    assert _titles(spec6) == {"param_mb": "Parameters (MB in the measured precision)",
                              "memory_mb": "Peak memory at batch 1 (MB)"}
    fit = [r for r in _rows(spec6, "line")]
    # memory = 200 MB + 1 x parameter MB exactly: the fit's ends lie on it.
    assert [value for r in fit for value in (r["fx"], r["fy"])] == approx([22.0, 222.0, 574.8, 774.8])
    assert fit[0]["fit"] == "least squares, R² = 1.000"


def test_bars_and_fronts_by_hand() -> None:
    bars = _by(_rows(_draw(charts.density_bars, RECORDS).to_dict(), "bar"), "registry_name")
    assert bars["mobilenet_v3_large"]["density"] == approx(75.3 / 5.5)
    top1 = _draw(charts.top1_bars, RECORDS).to_dict()
    hollow = _by(_rows(top1, "point"), "registry_name")
    assert hollow["resnet50"]["later_top1"] == 80.858 and hollow["resnet50"]["gain_points"] == approx(4.728)
    assert [r["gain_label"] for r in _rows(top1, "text")] == ["+4.7"]
    latency = _by(_rows(_draw(charts.accuracy_latency_front, RECORDS).to_dict(), "circle"), "registry_name")
    # Faster and more accurate: mobilenet (1 ms, 75.3 %) dominates AlexNet (4 ms, 56.5 %) and VGG-19;
    # ResNet-50 (8 ms, 76.13 %) is more accurate than it.
    assert {name: row["front"] for name, row in latency.items()} == {
        "alexnet": "dominated", "mobilenet_v3_large": "on the front", "resnet50": "on the front", "vgg19": "dominated",
    }
    assert latency["vgg19"]["cost"] == approx(20.0)


def test_model_batches_rows_by_hand() -> None:
    spec = charts.model_batches(RECORDS[:1], ["run a"]).to_dict()
    rows = _by([r for r in _rows(spec, "line") if r.get("ms") is not None], "batch_size")
    assert {size: row["ms"] for size, row in rows.items()} == approx({1: 4.0, 2: 3.0, 16: 2.0})
    assert rows[16]["memory_mb"] == approx(244.4 + 16 * int(4e6 * (2 + 3 * 0.71**0.5)) / MB)
    assert (rows[2]["ms_low"], rows[2]["ms_high"]) == approx((2.85, 3.15))


def test_exclusions_name_each_failure() -> None:
    failed = make_record(STUDY_MODELS[2], GPU, failed=True)
    oom = make_record(STUDY_MODELS[7], GPU, (1, 64))
    error = RECORDS[0].model_copy(update={"batches": [BatchResult(batch_size=2, status="error", error="boom")]})
    records = [oom, failed, error]
    assert charts.exclusions(records) == [
        "AlexNet at batch 2: error (boom)",
        "GoogLeNet: whole model error (builder raised RuntimeError (synthetic))",
        "VGG-19 at batch 64: oom (CUDA out of memory (synthetic))",
    ]
    assert charts.exclusions(records, (1, 2)) == [
        "AlexNet at batch 2: error (boom)",
        "GoogLeNet: whole model error (builder raised RuntimeError (synthetic))",
    ]


def test_display_names_keep_registry_names_where_a_study_name_repeats() -> None:
    twin = RECORDS[1].model_copy(update={"model": RECORDS[1].model.model_copy(update={"name": "resnet50.v2"})})
    assert charts.display_names([RECORDS[0], RECORDS[1], twin]) == {
        "alexnet": "AlexNet", "resnet50": "resnet50", "resnet50.v2": "resnet50.v2",
    }


def test_axes_by_hand() -> None:
    # Linear, 100 px, 5 px margins: the span 10 - 0 grows by 1 / (1 - 2 x 0.05) so each margin is 5 px.
    axis = charts.fit_axis([0.0, 10.0], 100, False, False, 5.0, non_negative=False)
    assert (axis.low, axis.high) == approx((-10 / 0.9 * 0.05, 10 + 10 / 0.9 * 0.05))
    assert axis.pixel(0.0) == approx(5.0) and axis.pixel(10.0) == approx(95.0)
    assert axis.value(5.0) == approx(0.0)
    clipped = charts.fit_axis([0.0, 10.0], 100, False, False, 5.0)
    assert clipped.low == 0.0  # cannot be negative
    zero = charts.fit_axis([5.0, 10.0], 100, False, True, 5.0, include_zero=True)
    assert zero.low == 0.0 and zero.high == approx(10 + 10 / 0.9 * 0.05)
    assert zero.pixel(0.0) == approx(100.0) and zero.pixel(zero.high) == approx(0.0)  # y grows upwards
    flat = charts.fit_axis([4.0, 4.0], 100, False, False, 0.0)
    assert (flat.low, flat.high) == (2.0, 6.0)  # one value: +-50 % around it
    nothing = charts.fit_axis([], 100, False, False, 0.0)
    assert (nothing.low, nothing.high) == (1.0, 10.0)
    # Log: 1 to 100 over 100 px with 10 px margins: 2 decades / 0.8 = 2.5 decades, 0.25 at each end.
    log = charts.fit_axis([1.0, 100.0], 100, True, False, 10.0)
    assert (log.low, log.high) == approx((10**-0.25, 10**2.25))
    assert log.pixel(10.0) == approx(50.0) and log.value(50.0) == approx(10.0)
    narrow = charts.fit_axis([10.0, 12.0], 100, True, False, 0.0)  # under a factor 2: 0.3 decades around the centre
    assert (narrow.low, narrow.high) == approx((10 ** (1.0396 - 0.15), 10 ** (1.0396 + 0.15)), rel=1e-4)
    assert charts.Axis(0.0, 100.0, False, 500, False).ticks() == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    # Vertical: labels 16 px apart at least; 10 px per 10 is too close, 20 px per 20 fits.
    assert charts.Axis(0.0, 100.0, False, 100, True).ticks() == [0, 20, 40, 60, 80, 100]
    assert charts.Axis(1.0, 1000.0, True, 1000, False).ticks() == [
        1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000
    ]
    assert charts.Axis(1.0, 1000.0, True, 300, False).ticks() == [1, 10, 100, 1000]


def test_a_models_own_colour() -> None:
    from generator.render import palette

    pal = charts.Palette.for_records(RECORDS)
    # The study's networks by name; any other model by its family; a family the palette lacks in grey.
    assert pal.colour_of(RECORDS[1]) == palette.STUDY_NETWORK_COLOURS["ResNet-50"]
    assert pal.colour_of(RECORDS[3]) == dict(pal.family_colours)["mobilenet"]
    assert pal.colour_of(RECORDS[3]) != palette.UNKNOWN_NETWORK
    stranger = RECORDS[3].model_copy(update={"model": RECORDS[3].model.model_copy(update={"family": "unlisted"})})
    assert pal.colour_of(stranger) == palette.UNKNOWN_NETWORK


def test_a_crowded_small_figure_moves_the_name_off_the_other_points_with_a_leader_line() -> None:
    """The highlighted model sits inside a dense cluster: its name must go where no grey point is, joined to
    its point by a leader line (the golden figures above are too sparse to need either)."""
    from generator.render import layout

    def row(name: str, gflops: float, top1: float) -> dict[str, Any]:
        return {"registry_name": name, "model": name, "family": "f", "gflops": gflops, "top1": top1}

    found = [row("far_low", 0.01, 50.0), row("far_high", 100.0, 90.0), row("centre", 1.0, 70.0)]
    found += [
        row(f"c{i}_{j}", 10 ** (i * 0.05), 70.0 + j * 0.5)
        for i in range(-3, 4)
        for j in range(-6, 7)
        if (i, j) != (0, 0)
    ]
    base = charts.highlight_base(found, "gflops", "GFLOPs", True, "top1", "Top-1 (%)", [])
    assert base is not None
    spec = charts.highlighted(base, "centre", "#123456")
    assert spec is not None
    layers = spec.to_dict()["layer"]
    (leader,) = [layer for layer in layers if layer["mark"]["type"] == "rule"]
    assert leader["mark"] == {"type": "rule", "style": "leader", "strokeWidth": 0.8}
    assert {channel: leader["encoding"][channel]["field"] for channel in ("x", "y", "x2", "y2")} == {
        "x": "x1", "y": "y1", "x2": "x2", "y2": "y2"}
    (name,) = [layer for layer in layers if layer["mark"]["type"] == "text"]
    (at,) = name["data"]["values"]
    box = layout.text_box(base.x.pixel(at["label_x"]), base.y.pixel(at["label_y"]), "centre", 10, bold=True)
    covered = [r["registry_name"] for r in found
               if box.hits_circle(base.x.pixel(r["gflops"]), base.y.pixel(r["top1"]), 3.0)]
    assert covered == []
    # The line runs from the point's edge to the name's box.
    (ends,) = leader["data"]["values"]
    assert box.nearest(base.x.pixel(ends["x2"]), base.y.pixel(ends["y2"])) == approx(
        (base.x.pixel(ends["x2"]), base.y.pixel(ends["y2"])))


def test_an_axis_that_must_show_zero_keeps_its_margin_below_negative_values() -> None:
    # Net power can dip below idle: -2 to 8 W over 100 px with 10 px margins spans 12.5 W, 1.25 W each side.
    axis = charts.fit_axis([-2.0, 8.0], 100, False, False, 10.0, include_zero=True)
    assert (axis.low, axis.high) == approx((-3.25, 9.25))
    at_zero = charts.fit_axis([0.0, 8.0], 100, False, False, 10.0, include_zero=True)
    assert (at_zero.low, at_zero.high) == approx((0.0, 9.0))  # from zero: no margin below it


def test_the_static_batch_chart_draws_each_interval() -> None:
    """The SVG a model page shows on GitHub: one rule per timed batch size, from the interval's low to its
    high end, in the run's colour (the fixture times carry +-5 %)."""
    import re

    record = RECORDS[1]
    image = charts.model_batches_svg([record], ["run a"])
    spec = charts.model_batches([record], ["run a"]).to_dict()
    time_panel = spec["hconcat"][0]["layer"]
    rows = time_panel[1]["data"]["values"]  # the interval layer
    assert [r["batch_size"] for r in rows] == [1, 2, 16]
    assert [value for r in rows for value in (r["ms_low"], r["ms_high"])] == approx([7.6, 8.4, 5.7, 6.3, 3.8, 4.2])
    colour = charts.RUN_COLOURS[0]
    rules = re.findall(
        rf'<line x1="([0-9.]+)" y1="([0-9.]+)" x2="\1" y2="([0-9.]+)" stroke="{colour}" stroke-width="1.2"/>', image)
    assert len(rules) == len(rows) == 3
    # Each spans its interval: the low end is drawn lower (a larger y) than the high end, on a log axis
    # whose length in pixels is the same for equal ratios (8.4/7.6 = 6.3/5.7 = 4.2/3.8).
    spans = [float(bottom) - float(top) for _, top, bottom in rules]
    assert all(span > 0 for span in spans) and max(spans) - min(spans) < 0.05
