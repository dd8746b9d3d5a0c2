"""The later training recipe beside the original on figures 1 and 2, and the recipe-gain figure.

Golden values: the fixture's ResNet-50 and ResNet-152 get torchvision's two
recipes (76.13 -> 80.858 and 78.312 -> 82.284 top-1); every other network keeps
one figure, so it gets no second marker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fixtures.factory import GPU, STUDY_MODELS, make_record, with_recipes

from generator.render import charts, layout, svg
from generator.render import figures as registry
from generator.schema import Record

RECIPES = {
    "resnet50": (76.13, 80.858, "ResNet50_Weights.IMAGENET1K_V2"),
    "resnet152": (78.312, 82.284, "ResNet152_Weights.IMAGENET1K_V2"),
}


def recipe_records() -> list[Record]:
    found = []
    for model in STUDY_MODELS:
        record = make_record(model, GPU)
        if model.name in RECIPES:
            record = with_recipes(record, *RECIPES[model.name])
        found.append(record)
    return found


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return recipe_records()


def _layers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for child in spec.get(key, []):
            yield from _layers(child)
    if "mark" in spec:
        yield spec


def _hollow_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        row
        for layer in _layers(spec)
        if isinstance(layer["mark"], dict) and layer["mark"]["type"] == "point" and layer["mark"].get("filled") is False
        for row in layer["data"]["values"]
    ]


def _texts(spec: dict[str, Any]) -> list[str]:
    return [
        str(row.get("gain_label") or row.get("text") or row.get("model"))
        for layer in _layers(spec)
        if (layer["mark"] if isinstance(layer["mark"], str) else layer["mark"]["type"]) == "text"
        for row in layer["data"]["values"]
    ]


def _spec(figure_id: str, records: list[Record], lay: charts.Layout) -> dict[str, Any]:
    figure = registry.BY_ID[figure_id]
    return figure.chart(figure.drawable(records), charts.Palette.for_records(records), lay).to_dict()  # type: ignore[no-any-return]


@pytest.mark.parametrize("figure_id", ["fig1", "fig2"])
def test_later_recipe_is_a_hollow_second_marker(records: list[Record], figure_id: str) -> None:
    spec = _spec(figure_id, records, charts.WIDE)
    hollow = {row["registry_name"]: row for row in _hollow_rows(spec)}
    assert set(hollow) == {"resnet50", "resnet152"}
    assert hollow["resnet50"]["top1"] == 76.13  # the filled point: the original recipe, as the study used
    assert hollow["resnet50"]["later_top1"] == 80.858
    assert hollow["resnet50"]["gain_points"] == pytest.approx(4.728)
    assert hollow["resnet152"]["gain_points"] == pytest.approx(3.972)
    assert hollow["resnet50"]["later_weights"] == "ResNet50_Weights.IMAGENET1K_V2"
    texts = _texts(spec)
    assert any(t.startswith("+4.7") for t in texts) and any(t.startswith("+4.0") for t in texts)


def test_fig2_axis_holds_the_later_recipe(records: list[Record]) -> None:
    spec = _spec("fig2", records, charts.WIDE)
    domains = [
        layer["encoding"]["y"]["scale"]["domain"]
        for layer in _layers(spec)
        if layer["encoding"].get("y", {}).get("field") == "top1" and "scale" in layer["encoding"]["y"]
    ]
    assert domains and all(high > 82.284 for _, high in domains)


def test_no_second_marker_without_two_recipes() -> None:
    plain = [make_record(model, GPU) for model in STUDY_MODELS]
    for figure_id in ("fig1", "fig2"):
        assert _hollow_rows(_spec(figure_id, plain, charts.WIDE)) == []
    assert not registry.BY_ID["recipe-gain"].drawable(plain)


def test_recipe_gain_is_a_registered_figure_after_fig2_with_a_computed_caption(records: list[Record]) -> None:
    ids = [figure.id for figure in registry.FIGURES]
    assert ids.index("recipe-gain") == ids.index("fig2") + 1
    figure = registry.BY_ID["recipe-gain"]
    assert [r.model.name for r in figure.drawable(records)] == ["resnet50", "resnet152"]
    caption = figure.caption(records)
    assert "ResNet-50 gains +4.73 points (76.13 → 80.86 % top-1, ResNet50_Weights.IMAGENET1K_V2)" in caption
    assert "median gain +4.35 points over 2 networks" in caption
    fig1 = registry.BY_ID["fig1"].caption(records)
    assert "Hollow circle" in fig1 and "(2 networks)" in fig1
    assert "Hollow circle" not in registry.BY_ID["fig1"].caption([make_record(STUDY_MODELS[0], GPU)])


@pytest.mark.parametrize("figure_id", ["fig1", "fig2", "recipe-gain"])
@pytest.mark.parametrize("lay", charts.LAYOUTS, ids=lambda lay: lay.name)
def test_recipe_figures_have_no_text_problems(records: list[Record], figure_id: str, lay: charts.Layout) -> None:
    import json

    image = svg.to_svg(json.dumps(_spec(figure_id, records, lay)), svg_version())
    assert layout.text_problems(image.decode("utf-8")) == []
    assert "+4.7" in image.decode("utf-8")


def svg_version() -> str:
    from generator.render.site import _vegalite_version

    return _vegalite_version()
