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


def test_model_page_shows_static_charts_and_reuses_unchanged_svgs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = tmp_path / "measurements"
    write_records([make_record(model, CPU) for model in STUDY_MODELS[:5]], records)
    site = tmp_path / "site"
    render_site(records, TEMPLATES, site, quiet=True)
    page = (site / "models/resnet50.md").read_text()
    assert "![Time per image and peak memory vs batch size](charts/resnet50.svg)" in page
    assert "charts/resnet50-fig2.svg" in page and "charts/resnet50-fig9-fixture-cpu-2t-fp32.svg" in page
    assert "4 other models with both values in grey" in page
    for name in ("resnet50.svg", "resnet50-fig2.svg", "resnet50-fig9-fixture-cpu-2t-fp32.svg"):
        assert layout.text_problems((site / "models/charts" / name).read_text()) == []

    drawn: list[str] = []
    real = svg.to_svg

    def counting(spec_json: str, vl_version: str) -> bytes:
        drawn.append(spec_json)
        return real(spec_json, vl_version)

    monkeypatch.setattr(svg, "to_svg", counting)
    edited = site / "models/charts/resnet50.svg"
    original = edited.read_bytes()
    edited.write_bytes(original.replace(b"Batch size", b"Batch sizes"))  # a hand edit keeps the stamp line
    render_site(records, TEMPLATES, site, quiet=True)
    assert len(drawn) == 1  # only the edited chart is drawn again; every other SVG is reused
    assert edited.read_bytes() == original


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
    # The static image is drawn from the spec with its points inline: the grey points are in it.
    assert (charts_dir / "resnet50-fig2.svg").read_text().count("<path") > len(points)
