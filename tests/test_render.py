"""Render stage, fast unit tests: loading, metrics, findings, charts, escaping, page model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import altair as alt
import pytest

from fixtures.factory import CPU, GPU, STUDY_MODELS, FixtureModel, make_record, write_bad_fixtures, write_records
from generator.render import charts, data, export, figures, findings, pages, stats
from generator.render.data import group_runs
from generator.render.pages.figures import limit_tables
from generator.render.escape import finalize, href, markdown_text
from generator.render.load import load_records
from generator.schema import RecordError, record_to_json

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "measurements"
BAD = Path(__file__).resolve().parent / "fixtures" / "bad"


@pytest.fixture(scope="module")
def items():  # type: ignore[no-untyped-def]
    return load_records(FIXTURES)


@pytest.fixture(scope="module")
def runs(items):  # type: ignore[no-untyped-def]
    return {run.hardware_slug: run for run in group_runs(items)}


def test_committed_fixtures_match_the_factory(tmp_path: Path) -> None:
    # The JSON files under tests/fixtures are the factory's output: regenerate with
    # 'python -m tests.fixtures.factory' after changing it.
    from fixtures.factory import fixture_records

    write_records(fixture_records(), tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    committed = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*.json"))
    assert made == committed
    for relative in made:
        assert (tmp_path / relative).read_text() == (FIXTURES / relative).read_text(), relative


def test_load_orders_and_places_records(items) -> None:  # type: ignore[no-untyped-def]
    assert len(items) == 29
    # Runs in order; within a run, models in natural order of their shown name (resnet18 < resnet101).
    from generator.render.order import model_key

    keys = [(item.run_key, model_key(item.record)) for item in items]
    assert keys == sorted(keys)
    names = [item.record.model.name for item in items if item.run_key == ("fixture-gpu", "fp32")]
    assert names.index("resnet18") < names.index("resnet50") < names.index("resnet152")
    assert str(items[0].site_path).startswith("data/records/fixture-cpu-2t/fp32/")


@pytest.mark.parametrize(
    ("kind", "field", "words"),
    [
        ("missing_field", "hardware", "Field required"),
        ("unknown_version", "schema_version", "newer than this generator"),
        ("wrong_type", "batches.0.latency.median_ms_per_batch", "valid number"),
        ("not_json", None, "not valid JSON"),
    ],
)
def test_bad_record_names_file_and_field(tmp_path: Path, kind: str, field: str | None, words: str) -> None:
    bad = write_bad_fixtures(tmp_path / "all")[kind]
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / bad.name).write_bytes(bad.read_bytes())
    with pytest.raises(RecordError) as caught:
        load_records(folder)
    assert caught.value.path.endswith(bad.name)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert bad.name in str(caught.value)


def test_committed_bad_fixtures_are_the_factory_output(tmp_path: Path) -> None:
    for kind, path in write_bad_fixtures(tmp_path).items():
        assert path.read_text() == (BAD / path.name).read_text(), kind


def test_duplicate_record_is_refused(tmp_path: Path) -> None:
    record = make_record(STUDY_MODELS[0], CPU)
    write_records([record], tmp_path)
    (tmp_path / "copy.json").write_text(record_to_json(record))
    with pytest.raises(RecordError, match="same hardware, configuration and model"):
        load_records(tmp_path)


def test_missing_folder_is_no_records(tmp_path: Path) -> None:
    assert load_records(tmp_path / "nothing") == []


def test_linear_fit_and_r2_on_known_data() -> None:
    fit = stats.linear_fit([1, 2, 3, 4], [3, 5, 7, 9])
    assert fit is not None and fit.slope == pytest.approx(2) and fit.intercept == pytest.approx(1)
    assert fit.r2 == pytest.approx(1)
    noisy = stats.linear_fit([1, 2, 3, 4], [1, 3, 2, 4])
    assert noisy is not None and noisy.r2 == pytest.approx(0.64)
    assert stats.linear_fit([1, 2], [1, 2]) is None


def test_pareto_front() -> None:
    points = [("a", 1.0, 50.0), ("b", 2.0, 60.0), ("c", 3.0, 55.0), ("d", 4.0, 70.0), ("e", 1.0, 40.0)]
    assert stats.pareto_front(points) == ["a", "b", "d"]


def test_spearman() -> None:
    assert stats.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert stats.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)


def test_missing_values_stay_missing(runs) -> None:  # type: ignore[no-untyped-def]
    gpu = {r.model.name: r for r in runs["fixture-gpu"].records}
    oom = data.batch(gpu["vgg19"], 64)
    assert oom is not None and oom.status == "oom"
    assert data.ms_per_image(oom) is None and data.memory_bytes(oom) is None and data.net_power_w(oom) is None
    cpu = {r.model.name: r for r in runs["fixture-cpu-2t"].records}
    assert data.net_power_w(data.ok_batch(cpu["resnet50"], 1)) is None
    assert data.top1(cpu["squeezenet1_0"]) is None and data.density(cpu["squeezenet1_0"]) is None


def test_operations_time_finding_matches_the_fixture_model(runs) -> None:  # type: ignore[no-untyped-def]
    # The factory times a model at ms_per_gmac * gmacs * b * (0.6 + 0.4/sqrt(b)) + 0.5 per batch:
    # at batch 1 that is 0.08 ms per GMAC on the GPU, i.e. 0.04 ms per GFLOP plus 0.5 ms.
    finding = findings.operations_predict_time(runs["fixture-gpu"])
    assert finding.verdict == "supported"
    assert "0.0400 ms per GFLOP × GFLOPs + 0.500 ms, R² = 1.000 over 14 models" in finding.sentences[0]


def test_power_on_a_cpu_cannot_be_tested_and_says_why(runs) -> None:  # type: ignore[no-untyped-def]
    finding = findings.power_independent(runs["fixture-cpu-2t"])
    assert finding.verdict == "cannot be tested"
    assert "no RAPL energy counter readable on this CPU" in finding.sentences[0]


def test_power_verdict_follows_the_spread(runs) -> None:  # type: ignore[no-untyped-def]
    finding = findings.power_independent(runs["fixture-gpu"])
    # Fixture GPU power rises 4 W per doubling of the batch: well over 10 % spread.
    assert finding.verdict == "not supported"
    assert "% of the mean" in finding.sentences[0]


def test_memory_knee_and_slope() -> None:
    record = make_record(STUDY_MODELS[4], CPU)  # resnet50
    shape = findings.memory_shape(record)
    assert shape is not None and shape.flat_then_grows
    # Flat at the 200 MB floor until batch * activations exceeds it: the fixture's
    # activations are 4e6 * (2 + 3 sqrt(4.09)) = 32.3 MB per image, so the knee is batch 4.
    assert shape.knee_batch == 4
    assert shape.slope_mb_per_image == pytest.approx(4 * (2 + 3 * 4.09 ** 0.5), rel=0.05)


def test_accuracy_time_and_energy_need_data(tmp_path: Path) -> None:
    records = [make_record(m, CPU) for m in STUDY_MODELS[:2]]
    write_records(records, tmp_path)
    run = group_runs(load_records(tmp_path))[0]
    assert findings.accuracy_time(run).verdict == "cannot be tested"
    assert findings.energy_bounds_accuracy(run).verdict == "cannot be tested"
    assert findings.operations_predict_time(run).verdict == "cannot be tested"


def test_density_names_the_best_model(items) -> None:  # type: ignore[no-untyped-def]
    finding = findings.information_density([item.record for item in items])
    # efficientnet_b0 in the fixtures: 77.7 % / 5.3 M = 14.66 per million.
    assert "efficientnet_b0 with 14.7 top-1 % per million parameters" in finding.sentences[0]
    assert finding.verdict == "cannot be tested as stated"  # ENet not in the fixtures
    assert any("ENet was not measured" in sentence for sentence in finding.sentences)


def test_density_says_why_when_enet_has_no_accuracy() -> None:
    enet = FixtureModel("enet", "enet", "ENet", 0.53, 0.24, None, None, "generator")
    records = [make_record(m, CPU) for m in STUDY_MODELS[:3]] + [make_record(enet, CPU)]
    finding = findings.information_density(records)
    assert finding.verdict == "cannot be tested as stated"
    assert any("ENet has no sourced top-1" in sentence for sentence in finding.sentences)
    # The best of the networks that have a top-1 is shown beside it.
    assert "Best accuracy per parameter among the networks with a sourced top-1: GoogLeNet" in finding.sentences[0]


ALL_CHART_FUNCTIONS = [
    charts.top1_bars, charts.accuracy_vs_operations, charts.time_vs_batch, charts.power_vs_batch,
    charts.memory_vs_batch, charts.memory_vs_parameters, charts.operations_vs_time, charts.operations_vs_power,
    charts.accuracy_vs_throughput, charts.density_bars, charts.accuracy_latency_front, charts.accuracy_energy_front,
]


@pytest.mark.parametrize("function", ALL_CHART_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("hardware", ["fixture-gpu", "fixture-cpu-2t"])
def test_every_chart_spec_validates(runs, function, hardware: str) -> None:  # type: ignore[no-untyped-def]
    records = runs[hardware].records
    palette = charts.Palette.for_records(records)
    for lay in charts.LAYOUTS:
        spec = function(records, palette, lay).to_dict()  # raises on a spec Vega-Lite would reject
    text = json.dumps(spec)
    if '"values": []' not in text:  # a figure with nothing measured (power on a CPU) has nothing to point at
        assert '"tooltip"' in text
    # Selections named explicitly: Altair's numbered defaults depend on call order.
    assert not re.search(r'"param_\d+"', text)


def test_model_chart_validates(runs) -> None:  # type: ignore[no-untyped-def]
    records = [runs["fixture-gpu"].records[0], runs["fixture-cpu-2t"].records[0]]
    spec = charts.model_batches(records, ["gpu", "cpu"]).to_dict()  # to_dict() validates against Vega-Lite
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert "gpu" in json.dumps(spec) and "cpu" in json.dumps(spec)  # one line per hardware


def test_invalid_spec_is_caught() -> None:
    # The validation the test above relies on really rejects a bad spec.
    with pytest.raises(Exception):
        alt.Chart(alt.Data(values=[])).mark_point().encode(x=alt.X("a:Q", scale=alt.Scale(type="nonsense"))).to_dict()


def test_family_colours_are_fixed_and_distinct(items) -> None:  # type: ignore[no-untyped-def]
    from generator.render import palette

    colours = palette.family_colours(item.record.model.family for item in items)
    assert colours["resnet"] == palette.FAMILY_COLOURS["resnet"]
    assert len(set(colours.values())) == len(colours)
    fewer = palette.family_colours(["resnet"])
    assert fewer["resnet"] == colours["resnet"]


def test_markdown_escaping() -> None:
    assert str(markdown_text("<script>alert(1)</script>")) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert str(markdown_text("**bold** [x](y) a|b")) == "\\*\\*bold\\*\\* \\[x\\](y) a\\|b"
    assert str(markdown_text("study's & co")) == "study's &amp; co"
    assert str(markdown_text("line\nbreak")) == "line break"
    with pytest.raises(ValueError):
        finalize(None)
    with pytest.raises(ValueError):
        href("javascript:alert(1)")
    with pytest.raises(ValueError):
        href("../../etc/passwd x")


def test_csv_rows_and_missing_cells(items) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(export.records_csv(items))))
    assert len(rows) == sum(max(1, len(item.record.batches)) for item in items)
    oom = next(r for r in rows if r["model"] == "vgg19" and r["hardware_slug"] == "fixture-gpu"
               and r["batch_size"] == "64")
    assert oom["batch_status"] == "oom" and oom["median_ms_per_image"] == "" and oom["net_power_w"] == ""
    broken = next(r for r in rows if r["model"] == "broken_net")
    assert broken["record_status"] == "error" and broken["batch_size"] == ""
    cpu = next(r for r in rows if r["model"] == "resnet50" and r["hardware_slug"] == "fixture-cpu-2t"
               and r["batch_size"] == "1")
    assert cpu["power_available"] == "false" and cpu["net_power_w"] == ""
    assert float(cpu["median_ms_per_image"]) == data.ms_per_image(
        data.ok_batch(next(i.record for i in items if i.record.model.name == "resnet50"), 1))


def test_model_page_numbers(items, runs) -> None:  # type: ignore[no-untyped-def]
    site = pages.SiteModel()
    pairs = [(run, item) for run in runs.values() for item in run.items if item.record.model.name == "vgg19"]
    page = pages.model_page(pairs, [item.record for item in items], site)
    flat = json.dumps(page, default=lambda o: o.__dict__)
    assert "143,700,000" in flat  # parameters, exact count
    assert "72.40 %" in flat  # published top-1
    assert "oom: CUDA out of memory (synthetic)" in flat
    assert "not measurable" in flat  # CPU power
    assert page.chart is not None and len(site.charts) == 2  # wide and narrow


def test_speed_limit_tables_follow_bianco(runs) -> None:  # type: ignore[no-untyped-def]
    tables = limit_tables(runs["fixture-cpu-2t"].records, "figures/x/y/all.md")
    titles = [t.title for t in tables]
    assert titles[:3] == [f"Best top-1 at ≥ {n} images/s at batch 1" for n in (15, 30, 60)]
    at_15 = tables[0].table
    assert at_15 is not None
    # Every model listed really reaches 15 images/s, best top-1 first.
    values = [float(row[2].replace(",", "")) for row in at_15.rows]  # type: ignore[union-attr]
    assert all(v >= 15 for v in values)
    tops = [float(str(row[1]).rstrip(" %")) for row in at_15.rows]
    assert tops == sorted(tops, reverse=True)


def test_study_and_all_scopes(runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert pages.scopes(runs["fixture-gpu"]) == ["study", "all"]
    only_extra = FixtureModel("tiny", "tiny", None, 1.0, 0.1, 50.0, None)
    write_records([make_record(only_extra, GPU)], tmp_path / "extra")
    assert pages.scopes(group_runs(load_records(tmp_path / "extra"))[0]) == ["all"]
    write_records([make_record(m, GPU) for m in STUDY_MODELS[:3]], tmp_path / "study")
    assert pages.scopes(group_runs(load_records(tmp_path / "study"))[0]) == ["study"]


def test_models_sharing_a_page_name_are_refused(tmp_path: Path) -> None:
    a = FixtureModel("timm:net", "net", None, 1.0, 1.0, 50.0, None, "timm")
    b = FixtureModel("timm-net", "net", None, 1.0, 1.0, 50.0, None, "timm")
    write_records([make_record(a, CPU)], tmp_path / "a")
    write_records([make_record(b, GPU)], tmp_path / "b")
    with pytest.raises(RecordError, match="share the page name"):
        load_records(tmp_path)


def test_model_page_takes_counts_from_a_record_that_has_them(tmp_path: Path) -> None:
    model = STUDY_MODELS[4]
    write_records([make_record(model, CPU, failed=True), make_record(model, GPU)], tmp_path)
    items = load_records(tmp_path)
    pairs = [(run, item) for run in group_runs(items) for item in run.items]
    assert pairs[0][1].record.operations is None  # the CPU record (first) failed
    page = pages.model_page(pairs, [i.record for i in items], pages.SiteModel())
    assert page.operations is not None
    assert page.size.rows[0][1] == "25,600,000"


def test_hardware_index_links_the_comparison(runs) -> None:  # type: ignore[no-untyped-def]
    index = pages.hardware_index(list(runs.values()))
    assert [link.href for link in index.links] == ["compare.md"]
    assert "[" not in index.intro  # links are Link objects, never Markdown typed into text


def test_two_weights_of_one_study_network_keep_apart() -> None:
    v1 = FixtureModel("resnet50.IMAGENET1K_V1", "resnet", "ResNet-50", 25.6, 4.09, 76.1, 92.9)
    v2 = FixtureModel("resnet50.IMAGENET1K_V2", "resnet", "ResNet-50", 25.6, 4.09, 80.9, 95.4)
    records = [make_record(v1, GPU), make_record(v2, GPU), make_record(STUDY_MODELS[0], GPU)]
    assert charts.display_names(records) == {
        "resnet50.IMAGENET1K_V1": "resnet50.IMAGENET1K_V1", "resnet50.IMAGENET1K_V2": "resnet50.IMAGENET1K_V2",
        "alexnet": "AlexNet",
    }
    spec = charts.top1_bars(records, charts.Palette.for_records(records)).to_dict()
    assert sorted(row["model"] for row in spec["data"]["values"]) == [
        "AlexNet", "resnet50.IMAGENET1K_V1", "resnet50.IMAGENET1K_V2"]


def test_batch_16_stand_in_is_named(tmp_path: Path) -> None:
    # The measure stage's CPU default stops at batch 8: the study's batch-16 comparisons use 8 and say so.
    write_records([make_record(m, CPU, (1, 2, 4, 8)) for m in STUDY_MODELS[:5]], tmp_path)
    run = group_runs(load_records(tmp_path))[0]
    assert data.large_batch(run.records) == 8
    finding = findings.operations_predict_time(run)
    assert finding.sentences[1].startswith("At batch 8 (the study's 16 not measured), time per image ≈")
    spec = charts.operations_vs_time(run.records, charts.Palette.for_records(run.records)).to_dict()
    text = json.dumps(spec)
    assert '"title": "Batch 1"' in text and '"title": "Batch 8 (the study\'s 16 not measured)"' in text
    assert "Batch 16" not in text
    page = pages.figures_page(run, "study", charts.Palette.for_records(run.records), pages.SiteModel())
    fig7 = next(c for c in page.charts if c.id == "fig7")
    assert "the second panel shows batch 8" in fig7.caption


def test_batching_speedup_matches_the_fixture_model(runs) -> None:  # type: ignore[no-untyped-def]
    finding = findings.batching_speedup(runs["fixture-cpu-2t"])
    assert finding.verdict == "supported"
    # alexnet on the fixture CPU: 9 ms/GMAC x 0.71 GMACs; per image 6.39 + 0.5 = 6.89 ms at batch 1 and
    # 6.39 x (0.6 + 0.4/8) + 0.5/64 = 4.161 ms at batch 64: 1.656x.
    assert any(s.startswith("AlexNet: 1.66× (") and "from batch 1 to batch 64" in s for s in finding.sentences)


def test_slowest_model_is_named(runs) -> None:  # type: ignore[no-untyped-def]
    finding = findings.operations_predict_time(runs["fixture-cpu-2t"])
    # vgg19 on the fixture CPU: 9 ms/GMAC x 19.63 GMACs + 0.5 ms = 177.2 ms at batch 1.
    assert any(s.startswith("Slowest at batch 1: VGG-19, 177 ms per image (") and s.endswith("for 39.3 GFLOPs.")
               for s in finding.sentences)


def test_figure_summaries_count_one_model_in_the_singular() -> None:
    # AlexNet (0.71 GMACs) on the fixture GPU: 0.08 ms/GMAC x 0.71 + 0.5 = 0.5568 ms at batch 1; batch 16 takes
    # 0.08 x 0.71 x 16 x 0.7 + 0.5 = 1.1362 ms, 0.071 ms per image: 7.84x. Power 60 + 2 ln 1.71 = 61.1 W, +16 W at 16.
    records = [make_record(STUDY_MODELS[0], GPU, (1, 16))]
    summaries = {f.id: f.summary(records) for f in figures.FIGURES if f.id in ("fig3", "fig4", "pareto")}
    assert summaries == {
        "fig3": "Time per image falls with batch size: the median model is 7.84× faster per image at its largest "
        "batch than at batch 1 (1 model). Slowest at batch 1: AlexNet, 0.557 ms per image.",
        "fig4": "Net power spans 61.1 to 77.1 W over 2 model × batch points (mean 69.1 W): the study found it flat "
        "at about 11.8 W on the TX1.",
        "pareto": "On the front, from cheapest to most accurate: AlexNet (1 model, cost in ms per image).",
    }
