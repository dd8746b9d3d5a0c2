"""Uncertainty from timing to claim: intervals per point, recipes of accuracy, three-outcome verdicts."""

from __future__ import annotations

import json
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

from generator.render import charts, data, findings, pages
from generator.render.data import group_runs
from generator.render.load import load_records
from generator.schema import Record

RESNET50 = STUDY_MODELS[4]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "measurements"


@pytest.fixture(scope="module")
def runs() -> dict[str, data.Run]:
    return {run.hardware_slug: run for run in group_runs(load_records(FIXTURES))}


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
    def named(weights: str) -> Record:
        return old.model_copy(update={"model": old.model.model_copy(update={"weights": weights})})

    later, original = named("ResNet50_Weights.IMAGENET1K_V2"), named("AlexNet_Weights.IMAGENET1K_V1")
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


def _speedup_run(tmp_path: Path, factor: float, noise: float | None, models: int = 8) -> data.Run:
    """``models`` fixture models, each ``factor`` times faster per image at batch 16 than at batch 1, with every
    point's 95 % interval ``noise`` (relative half width) wide."""
    records = []
    for index, model in enumerate((*STUDY_MODELS, *STUDY_MODELS)[:models]):
        if index >= len(STUDY_MODELS):
            model = FixtureModel(f"{model.name.split(':')[-1]}_copy", model.family, None, model.params_millions,
                                 model.gmacs, model.top1, model.top5)
        base = 10.0 + index
        records.append(retimed(make_record(model, CPU, (1, 16)), {1: base, 16: base / factor}, noise))
    return _run(records, tmp_path)


def test_speed_up_smaller_than_its_noise_is_inconclusive(tmp_path: Path) -> None:
    # A 1.05x speed-up measured with +-10 % intervals: each model's interval includes 1x.
    finding = findings.batching_speedup(_speedup_run(tmp_path, 1.05, 0.10))
    assert finding.verdict == "inconclusive"
    assert finding.split is not None and finding.split.shows == [] and finding.split.contradicts == []
    assert len(finding.split.cannot_tell) == 8
    effect = finding.effects[0]
    assert effect.value == pytest.approx(1.05) and effect.n == 8
    assert effect.low is not None and effect.high is not None and effect.low < 1 < effect.high
    assert "(95 % interval" in finding.sentences[0] and "n = 8 models" in finding.sentences[0]


def test_speed_up_beyond_its_noise_is_supported(tmp_path: Path) -> None:
    finding = findings.batching_speedup(_speedup_run(tmp_path, 1.5, 0.05))
    assert finding.verdict == "supported"
    assert finding.split is not None and len(finding.split.shows) == 8
    assert finding.effects[0].above(1.0)


def test_slow_down_beyond_its_noise_is_not_supported_and_names_the_models(tmp_path: Path) -> None:
    finding = findings.batching_speedup(_speedup_run(tmp_path, 0.8, 0.05))
    assert finding.verdict == "not supported"
    assert finding.split is not None and "ResNet-50" in finding.split.contradicts
    assert "Slower (whole interval below 1×): " in finding.sentences[1] and "ResNet-50" in finding.sentences[1]


def test_points_without_interval_cannot_be_told_apart(tmp_path: Path) -> None:
    finding = findings.batching_speedup(_speedup_run(tmp_path, 1.5, None))
    assert finding.verdict == "inconclusive"
    assert finding.split is not None and len(finding.split.cannot_tell) == 8
    assert any("without an interval" in sentence for sentence in finding.sentences)


def test_too_few_models_is_inconclusive(tmp_path: Path) -> None:
    finding = findings.batching_speedup(_speedup_run(tmp_path, 2.0, 0.01, models=3))
    assert finding.split is not None and len(finding.split.shows) == 3  # each model shows it ...
    assert finding.verdict == "inconclusive"  # ... but three models are no pattern
    assert any("rests on 3 models" in sentence for sentence in finding.sentences)


def test_operations_fit_within_noise_is_inconclusive(tmp_path: Path) -> None:
    # Times proportional to GFLOPs, but each point known only to +-60 %: R² could be anything.
    records = [retimed(make_record(m, CPU, (1, 16)), {1: 5 * m.gmacs + 1, 16: 4 * m.gmacs + 1}, 0.6)
               for m in STUDY_MODELS]
    noisy = findings.operations_predict_time(_run(records, tmp_path / "noisy"))
    assert noisy.verdict == "inconclusive"
    assert noisy.effects[0].low is not None and noisy.effects[0].low < findings.R2_SUPPORTED
    quiet = [retimed(make_record(m, CPU, (1, 16)), {1: 5 * m.gmacs + 1, 16: 4 * m.gmacs + 1}, 0.01)
             for m in STUDY_MODELS]
    assert findings.operations_predict_time(_run(quiet, tmp_path / "quiet")).verdict == "supported"


def test_verdicts_are_the_same_on_every_render(runs) -> None:  # type: ignore[no-untyped-def]
    first = findings.run_findings(runs["fixture-cpu-2t"])
    again = findings.run_findings(runs["fixture-cpu-2t"])
    assert first == again  # fixed bootstrap seed: no verdict flips between two renders of the same records


def test_limited_evaluation_never_reaches_a_verdict(tmp_path: Path) -> None:
    enet = FixtureModel("enet", "enet", "ENet", 0.53, 0.24, None, None, "generator")
    # One image, all correct: 100 % top-1 would make ENet the densest network by far.
    limited = with_measured_accuracy(make_record(enet, CPU), 100.0, 1)
    records = [make_record(m, CPU) for m in STUDY_MODELS] + [limited]
    density = findings.information_density(records)
    assert density.verdict == "cannot be tested as stated"
    assert any("covered only 1 of 50,000 validation images" in s for s in density.sentences)
    # Two limited evaluations (one per hardware) are listed, comma-separated, in record order.
    also = with_measured_accuracy(make_record(enet, GPU), 90.0, 1_000)
    both = findings.information_density([*records, also])
    assert any("covered only 1, 1,000 of 50,000 validation images" in s for s in both.sentences)
    assert "ENet" not in density.sentences[0]  # the best network shown is one with a sourced top-1
    run = _run(records, tmp_path)
    with_limited = findings.accuracy_time(run)
    without = findings.accuracy_time(_run([make_record(m, CPU) for m in STUDY_MODELS], tmp_path / "without"))
    assert with_limited.effects == without.effects  # ENet's one-image top-1 is not a point of the fit
    # Evaluated over the whole validation set, it counts.
    full = with_measured_accuracy(make_record(enet, CPU), 60.0, data.IMAGENET_VAL_IMAGES)
    assert findings.information_density([*records[:-1], full]).verdict == "supported"


def test_claims_table_lays_out_claims_by_hardware(runs) -> None:  # type: ignore[no-untyped-def]
    ordered = [runs["fixture-cpu-2t"], runs["fixture-gpu"]]
    table = findings.claims_table(ordered)
    assert table.runs == [run.label for run in ordered]
    keys = [row.key for row in table.rows]
    assert keys == ["operations-time", "batching", "power", "memory", "accuracy-time", "energy", "density"]
    for row in table.rows:
        assert len(row.cells) == 2
        for cell in row.cells:
            assert cell.verdict in ("supported", "not supported", "inconclusive", "cannot be tested",
                                    "cannot be tested as stated")
            assert cell.effect and cell.test
    batching = table.rows[1].cells[0]
    assert "95 % interval" in batching.effect and "n = " in batching.effect
    power = {run: cell.verdict for run, cell in zip(table.runs, table.rows[2].cells, strict=True)}
    assert power[ordered[0].label] == "cannot be tested"  # the fixture CPU has no power counter


def test_recipe_gain_chart_draws_both_recipes() -> None:
    from generator.render import recipe_chart

    resnet = with_recipes(make_record(RESNET50, GPU), 76.13, 80.858, "ResNet50_Weights.IMAGENET1K_V2")
    spec = recipe_chart.recipe_gain([resnet, make_record(STUDY_MODELS[0], GPU)]).to_dict()  # validates
    rows = recipe_chart.recipe_gain_rows([resnet])
    assert {(row["recipe"], row["top1"]) for row in rows} == {("original recipe", 76.13), ("later recipe", 80.858)}
    assert '"+.2f"' in json.dumps(spec) and "ResNet-50" in json.dumps(spec)
    assert "AlexNet" not in json.dumps(spec)  # one recipe only: nothing to compare


def test_accuracy_figure_captions_name_points_of_a_later_recipe() -> None:
    from generator.render.figures import FIGURES

    old = make_record(RESNET50, GPU)
    later = old.model_copy(update={"model": old.model.model_copy(update={"weights": "ResNet50_Weights.IMAGENET1K_V2"})})
    records = [later, make_record(STUDY_MODELS[0], GPU)]
    by_id = {figure.id: figure for figure in FIGURES}
    assert "later training recipe" in by_id["fig1"].caption(records) and "ResNet-50" in by_id["fig1"].caption(records)
    assert "later training recipe" in by_id["fig2"].caption(records)
    assert "later training recipe" not in by_id["fig3"].caption(records)  # no accuracy drawn there
    assert "later training recipe" not in by_id["fig1"].caption([make_record(STUDY_MODELS[0], GPU)])


def _mixed_run(tmp_path: Path, study: int, others: int) -> data.Run:
    """``study`` of the study's networks 2x faster per image at batch 16, and ``others`` models outside the
    study 2x slower: the two groups give opposite verdicts."""
    records = []
    for index, model in enumerate(STUDY_MODELS[:study]):
        records.append(retimed(make_record(model, CPU, (1, 16)), {1: 10.0 + index, 16: (10.0 + index) / 2}, 0.01))
    for index in range(others):
        model = STUDY_MODELS[index % len(STUDY_MODELS)]
        other = FixtureModel(f"zoo_{index}", model.family, None, model.params_millions, model.gmacs, model.top1,
                             model.top5)
        records.append(retimed(make_record(other, CPU, (1, 16)), {1: 10.0 + index, 16: (10.0 + index) * 2}, 0.01))
    return _run(records, tmp_path)


def test_claims_rest_on_the_study_networks_when_a_run_measured_more(tmp_path: Path) -> None:
    run = _mixed_run(tmp_path, study=5, others=9)
    batching = next(f for f in findings.run_findings(run) if f.key == "batching")
    assert batching.verdict == "supported"
    assert batching.effects[0].n == 5 and batching.effects[0].value == pytest.approx(2.0)
    # The same claim over every model would be the opposite: the zoo is shown by the all-models figures.
    assert findings.batching_speedup(run).verdict == "not supported"
    table = findings.claims_table([run])
    assert "n = 5 models" in next(row for row in table.rows if row.key == "batching").cells[0].effect


def test_claims_use_every_model_when_a_run_has_too_few_study_networks(tmp_path: Path) -> None:
    run = _mixed_run(tmp_path, study=4, others=9)
    batching = next(f for f in findings.run_findings(run) if f.key == "batching")
    assert batching.verdict == "not supported" and batching.effects[0].n == 13
