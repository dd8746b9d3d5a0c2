"""Model pages: the model highlighted among all others (small Fig. 2 and 9), a static SVG of the
batch chart, and SVGs reused from the previous render when their spec did not change.

Golden values come from the fixture records (tests/fixtures/measurements): 13
distinct models have a top-1 and an operation count; the factory's formulas give
ResNet-50's 8.18 GFLOPs and its GPU throughput.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.factory import CPU, STUDY_MODELS, make_record, write_records

from generator.render import charts, layout, palette, svg
from generator.render.data import group_runs
from generator.render.load import load_records
from generator.render.pages.models import ModelHighlights
from generator.render.site import render_site

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "measurements"
TEMPLATES = REPO / "templates"


@pytest.fixture(scope="module")
def highlights() -> ModelHighlights:
    items = load_records(FIXTURES)
    runs = group_runs(items)
    return ModelHighlights.build(runs, charts.Palette.for_records([i.record for i in items]))


def _layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [layer for layer in spec.get("layer", []) if "mark" in layer]


def test_small_fig2_greys_every_other_model_and_colours_this_one(highlights: ModelHighlights) -> None:
    base = highlights.operations
    assert base is not None
    assert len(base.rows) == 13  # distinct models with top-1 and GFLOPs (squeezenet: no top-1; broken_net: failed)
    chart = charts.highlighted(base, "resnet50", palette.network_colour("ResNet-50"))
    assert chart is not None
    spec = chart.to_dict()
    grey, this, *labels = _layers(spec)
    assert grey["mark"]["color"] == charts.GREY and len(grey["data"]["values"]) == 13
    assert this["mark"]["color"] == palette.network_colour("ResNet-50")
    assert [(r["registry_name"], r["top1"], r["gflops"]) for r in this["data"]["values"]] == [("resnet50", 76.1, 8.18)]
    assert [r["model"] for layer in labels if layer["mark"]["type"] == "text" for r in layer["data"]["values"]] == [
        "ResNet-50"
    ]
    assert charts.highlighted(base, "squeezenet1_0", "#000000") is None  # not drawn: no top-1


def test_small_fig9_is_per_run_at_batch_1(highlights: ModelHighlights) -> None:
    assert sorted(highlights.throughput) == [("fixture-cpu-2t", "fp32"), ("fixture-gpu", "fp32")]
    base = highlights.throughput[("fixture-gpu", "fp32")]
    assert base is not None
    row = next(r for r in base.rows if r["registry_name"] == "resnet50")
    assert row["ips"] == pytest.approx(1000 / (0.5 + 0.04 * 8.18) * 1, rel=1e-3)


@pytest.mark.parametrize("name", ["resnet50", "alexnet", "vgg19", "googlenet", "efficientnet_b0"])
def test_small_figures_have_no_text_problems(highlights: ModelHighlights, name: str) -> None:
    import json

    from generator.render.site import _vegalite_version

    bases = [highlights.operations, *highlights.throughput.values()]
    for base in bases:
        assert base is not None
        chart = charts.highlighted(base, name, "#1f77b4")
        assert chart is not None
        image = svg.to_svg(json.dumps(chart.to_dict()), _vegalite_version()).decode("utf-8")
        assert layout.text_problems(image) == []


def test_model_page_shows_its_static_batch_chart_and_unchanged_svgs_are_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = tmp_path / "measurements"
    write_records([make_record(model, CPU) for model in STUDY_MODELS[:5]], records)
    site = tmp_path / "site"
    render_site(records, TEMPLATES, site, quiet=True)
    page = (site / "models/resnet50.md").read_text()
    assert "![Time per image and peak memory vs batch size](charts/resnet50.svg)" in page
    # The small figures are interactive only (a static copy would carry every model's points once per
    # page), built small enough for a phone: no image, no narrow version.
    assert 'data-spec="charts/resnet50-fig2.vl.json"></div>' in page
    assert 'data-spec="charts/resnet50-fig9-fixture-cpu-2t-fp32.vl.json"></div>' in page
    assert "resnet50-fig2.svg" not in page and not (site / "models/charts/resnet50-fig2.svg").exists()
    assert "4 other models with both values in grey" in page
    image = (site / "models/charts/resnet50.svg").read_text()
    assert layout.text_problems(image) == []
    texts = {text.text for text in layout.drawn_texts(image)[0]}
    assert {"Batch size (images)", "Time per image (ms, median)", "Peak memory (MB)"} <= texts

    drawn: list[str] = []
    real = svg.to_svg

    def counting(spec_json: str, vl_version: str) -> bytes:
        drawn.append(spec_json)
        return real(spec_json, vl_version)

    monkeypatch.setattr(svg, "to_svg", counting)
    edited = site / "figures/fixture-cpu-2t/fp32/charts/study-fig1.svg"
    original = edited.read_bytes()
    edited.write_bytes(original.replace(b"</svg>", b"<!-- edited --></svg>"))  # a hand edit keeps the stamp line
    render_site(records, TEMPLATES, site, quiet=True)
    assert len(drawn) == 1  # only the edited chart is drawn again; every other SVG is reused
    assert edited.read_bytes() == original


def test_static_batch_chart_draws_the_specs_rows_ticks_and_colours() -> None:
    from xml.etree import ElementTree

    from fixtures.factory import GPU

    records = [make_record(STUDY_MODELS[4], CPU, (1, 2, 4)), make_record(STUDY_MODELS[4], GPU, (1, 2, 4))]
    spec = charts.model_batches(records, ["run b", "run a"]).to_dict()
    image = charts.model_batches_svg(records, ["run b", "run a"])
    assert layout.text_problems(image) == []
    time_panel, _memory_panel = spec["hconcat"]
    colour = time_panel["layer"][0]["encoding"]["color"]["scale"]
    assert colour == {"domain": ["run a", "run b"], "range": list(charts.RUN_COLOURS[:2])}
    circles = [c for c in ElementTree.fromstring(image).iter() if c.tag.endswith("circle")]
    for run, fill in zip(colour["domain"], colour["range"], strict=True):
        rows = [r for r in time_panel["layer"][0]["data"]["values"] if r["run"] == run]
        assert len(rows) == 3
        # One point per batch size in each panel, and one in the legend.
        assert sum(1 for c in circles if c.get("fill") == fill) == 3 + 3 + 1
    texts = [text.text for text in layout.drawn_texts(image)[0]]
    for value in time_panel["layer"][0]["encoding"]["y"]["axis"]["values"]:
        assert charts._format(value) in texts
    assert texts.count("1") >= 2 and texts.count("4") >= 2  # the batch sizes under both panels (and y ticks)
    assert "run a" in texts and "run b" in texts


def test_small_fig2_draws_the_later_recipe_of_this_model_only() -> None:
    import json

    from test_recipe_figures import recipe_records

    from generator.render.site import _vegalite_version

    records = recipe_records()  # ResNet-50: 76.13 original, 80.858 later recipe
    base = charts.operations_highlight_base(records)
    assert base is not None and sorted(base.later) == ["resnet152", "resnet50"]
    assert base.y.high > 82.284  # the axis holds every later recipe, so the pages share one axis
    spec = charts.highlighted(base, "resnet50", "#2ca02c").to_dict()  # type: ignore[union-attr]
    hollow = [r for layer in _layers(spec) if layer["mark"]["type"] == "point" for r in layer["data"]["values"]]
    assert [(r["registry_name"], r["top1"], r["later_top1"]) for r in hollow] == [("resnet50", 76.13, 80.858)]
    texts = [
        r.get("text") or r.get("model")
        for layer in _layers(spec)
        if layer["mark"]["type"] == "text"
        for r in layer["data"]["values"]
    ]
    assert sorted(texts) == ["+4.7 (later recipe)", "ResNet-50"]
    image = svg.to_svg(json.dumps(spec), _vegalite_version()).decode("utf-8")
    assert layout.text_problems(image) == []
    plain = charts.highlighted(base, "alexnet", "#1f77b4").to_dict()  # type: ignore[union-attr]
    assert not [layer for layer in _layers(plain) if layer["mark"]["type"] == "point"]


def test_small_figures_share_the_other_models_points(highlights: ModelHighlights, tmp_path: Path) -> None:
    """Every model page's copy of a small figure points at one file of the grey points, not a copy of them."""
    import json

    site = tmp_path / "site"
    render_site(FIXTURES, TEMPLATES, site, quiet=True)
    charts_dir = site / "models/charts"
    urls = set()
    for path in sorted(charts_dir.glob("*-fig2*.vl.json")):
        grey = _layers(json.loads(path.read_text()))[0]
        assert set(grey["data"]) == {"url"}  # no inline copy
        urls.add(grey["data"]["url"])
    assert len(urls) == 1  # one file for every page's small Fig. 2
    (url,) = urls
    points = json.loads((site / "models" / url).read_text())
    assert highlights.operations is not None
    assert points == [dict(r) for r in highlights.operations.rows]
    # No static copy carries the points again.
    assert not list(charts_dir.glob("*-fig2*.svg"))
