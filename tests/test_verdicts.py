"""Uncertainty from timing to claim: intervals per point, recipes of accuracy, three-outcome verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.factory import (
    CPU,
    GPU,
    STUDY_MODELS,
    FixtureModel,
    make_record,
    retimed,
    with_measured_accuracy,
    with_recipes,
    write_records,
)

from generator.render import charts, data, pages
from generator.render.data import group_runs
from generator.render.load import load_records
from generator.schema import Record

RESNET50 = STUDY_MODELS[4]


def _run(records: list[Record], tmp_path: Path) -> data.Run:
    write_records(records, tmp_path)
    return group_runs(load_records(tmp_path))[0]


def test_every_point_exposes_its_interval() -> None:
    record = retimed(make_record(RESNET50, CPU, (1, 4)), {1: 40.0, 4: 20.0}, 0.05)
    one, four = data.ok_batch(record, 1), data.ok_batch(record, 4)
    fields = data.timing_fields(four)
    assert fields["ms_per_image"] == pytest.approx(20.0)
    assert fields["ms_per_image_low"] == pytest.approx(19.0) and fields["ms_per_image_high"] == pytest.approx(21.0)
    assert fields["images_per_s"] == pytest.approx(50.0)
    # Throughput's interval comes from the time interval's ends: 1000 / 21 and 1000 / 19 images/s.
    assert fields["images_per_s_low"] == pytest.approx(1000 / 21)
    assert fields["images_per_s_high"] == pytest.approx(1000 / 19)
    point = data.timing_point(record, one)
    assert point is not None and point.has_interval and point.rounds >= 1 and point.timed_iterations >= 1
    assert data.interval_basis(one) != "none"


def test_a_point_without_interval_says_so() -> None:
    record = retimed(make_record(RESNET50, CPU, (1, 4)), {1: 40.0}, None)
    fields = data.timing_fields(data.ok_batch(record, 1))
    assert fields["ms_per_image"] == pytest.approx(40.0)
    assert fields["ms_per_image_low"] is None and fields["images_per_s_high"] is None
    assert data.interval_basis(data.ok_batch(record, 1)) == "none"
    # Not measured stays not measured.
    assert data.timing_fields(None) == dict.fromkeys(data.timing_fields(None), None)


def test_model_table_shows_interval_iterations_rounds_and_stop_reason(tmp_path: Path) -> None:
    record = retimed(make_record(RESNET50, CPU, (1, 4)), {1: 40.0, 4: 20.0}, 0.05)
    record = retimed(record, {4: 20.0}, None)
    write_records([record], tmp_path)
    items = load_records(tmp_path)
    pairs = [(run, item) for run in group_runs(items) for item in run.items]
    page = pages.model_page(pairs, [i.record for i in items], pages.SiteModel())
    table = page.runs[0].table
    for header in ("ms per image (95 % interval)", "images/s (95 % interval)", "timed iterations", "rounds",
                   "stopped on"):
        assert header in table.headers
    row1 = dict(zip(table.headers, table.rows[0], strict=True))
    row4 = dict(zip(table.headers, table.rows[1], strict=True))
    assert row1["ms per image (95 % interval)"] == "40.00 (38.00–42.00)"
    assert row1["stopped on"] == "converged"
    assert row4["ms per image (95 % interval)"] == "20.00 (no interval)"
    assert row4["stopped on"] == "time budget"
    assert "no interval" in page.runs[0].interval_note


def test_study_figures_use_the_original_recipe_and_show_the_gain() -> None:
    record = with_recipes(make_record(RESNET50, GPU), 76.13, 80.858, "ResNet50_Weights.IMAGENET1K_V2")
    assert data.top1(record) == pytest.approx(76.13)
    assert data.top1_source(record) == "original recipe"
    assert data.accuracy_recipe(record) == "original"
    gains = data.recipe_gain_points([record, make_record(STUDY_MODELS[0], GPU)])
    assert len(gains) == 1
    assert gains[0]["gain_points"] == pytest.approx(80.858 - 76.13)
    assert gains[0]["later_weights"] == "ResNet50_Weights.IMAGENET1K_V2"
    assert data.recipe_note([record]) is None


def test_a_record_from_before_original_recipe_is_marked_not_mixed_in_silently() -> None:
    old = make_record(RESNET50, GPU)
    later = old.model_copy(update={"model": old.model.model_copy(update={"weights": "ResNet50_Weights.IMAGENET1K_V2"})})
    original = old.model_copy(update={"model": old.model.model_copy(update={"weights": "AlexNet_Weights.IMAGENET1K_V1"})})
    assert data.accuracy_recipe(later) == "later"
    assert data.accuracy_recipe(original) == "original"
    note = data.recipe_note([later, original])
    assert note is not None and "ResNet-50" in note and "later training recipe" in note


def test_limited_evaluation_is_shown_but_never_used(tmp_path: Path) -> None:
    enet = FixtureModel("enet", "enet", "ENet", 0.53, 0.24, None, None, "generator")
    limited = with_measured_accuracy(make_record(enet, CPU), 100.0, 1)
    assert data.limited_evaluation(limited) is not None and data.full_evaluation(limited) is None
    assert data.top1(limited) is None and data.density(limited) is None
    full = with_measured_accuracy(make_record(enet, CPU), 60.0, data.IMAGENET_VAL_IMAGES)
    assert data.top1(full) == pytest.approx(60.0)
    # The model page shows it, as limited, with its image count.
    write_records([limited], tmp_path)
    items = load_records(tmp_path)
    pairs = [(run, item) for run in group_runs(items) for item in run.items]
    page = pages.model_page(pairs, [i.record for i in items], pages.SiteModel())
    labels = [str(row[0]) for row in page.accuracy.rows]
    assert "measured on 1 image only (limited: not used)" in labels
    # No figure receives it.
    spec = charts.density_bars([limited], charts.Palette.for_records([limited])).to_dict()
    assert spec["data"]["values"] == []


def test_interval_basis_names_what_the_interval_covers() -> None:
    # The fixture CPU times in two rounds, the fixture GPU in one (as a schema 1 record migrates).
    cpu = data.ok_batch(make_record(RESNET50, CPU), 1)
    gpu = data.ok_batch(make_record(RESNET50, GPU), 1)
    assert data.rounds(cpu) == 2 and data.interval_basis(cpu) == "within and across rounds"
    assert data.rounds(gpu) == 1 and data.interval_basis(gpu) == "within one round"
