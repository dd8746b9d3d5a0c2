"""The models index as a leaderboard, its CSV per hardware, and the model pages' 'use instead' lists."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest

from generator.cli import main
from generator.render import fmt
from generator.render.export import LEADERBOARD_COLUMNS
from generator.schema import load_record

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "measurements"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("leaderboard") / "site"
    assert main(["render", "--measurements", str(FIXTURES), "--out", str(out)]) == 0
    return out


def _tables(text: str) -> dict[str, list[list[str]]]:
    """Each '## run' section's pipe table as rows of cells (header first)."""
    tables: dict[str, list[list[str]]] = {}
    section = None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:]
        elif line.startswith("|") and section is not None and not line.startswith("| ---"):
            tables.setdefault(section, []).append([cell.strip() for cell in line.strip("|").split(" | ")])
    return tables


def test_one_table_per_hardware_and_configuration(rendered: Path) -> None:
    tables = _tables((rendered / "models/index.md").read_text())
    assert list(tables) == ["Fixture CPU, 2 threads (synthetic data), fp32", "Fixture GPU (synthetic data), fp32"]
    gpu = tables["Fixture GPU (synthetic data), fp32"]
    header, rows = gpu[0], {row[0]: dict(zip(gpu[0], row, strict=True)) for row in gpu[1:]}
    assert header[:5] == ["model", "family", "top-1 (%)", "top-5 (%)", "accuracy of weights"]
    assert len(rows) == 14
    resnet50 = rows["[ResNet-50 (resnet50)](resnet50.md)"]
    assert resnet50["top-1 (%)"] == "76.10" and resnet50["top-5 (%)"] == "92.90"
    assert resnet50["accuracy of weights"] == "fixture"  # the head of a long source; the CSV has all of it
    assert resnet50["params (M)"] == "25.6" and resnet50["GMACs"] == "4.09"
    # 0.08 ms/GMAC x 4.09 GMACs + 0.5 ms at batch 1, with the record's 95 % interval of the median.
    latency = load_record(next((FIXTURES / "fixture-gpu/fp32").rglob("resnet50.json"))).batches[0].latency
    assert latency is not None and latency.ci95_low_ms_per_batch is not None and latency.ci95_high_ms_per_batch
    assert resnet50["ms/image at batch 1 (95 % interval)"] == (
        f"0.8272 ({fmt.sig(latency.ci95_low_ms_per_batch, 4)}–{fmt.sig(latency.ci95_high_ms_per_batch, 4)})")
    assert latency.ci95_low_ms_per_batch < 0.8272 < latency.ci95_high_ms_per_batch
    assert resnet50["best images/s (at batch)"] == "4,535 (batch 64)"
    # VGG-19 ran out of memory at batch 64: its best is at 32, not a failed batch.
    assert rows["[VGG-19 (vgg19)](vgg19.md)"]["best images/s (at batch)"] == "936 (batch 32)"
    # NVML above the run's 300 MB baseline: 102.4 MB of weights + the 200 MB reserved floor.
    assert resnet50["memory at batch 1 (MB)"] == "302.4"
    assert float(resnet50["energy/image at batch 1 (J)"]) > 0
    cpu = tables["Fixture CPU, 2 threads (synthetic data), fp32"]
    cpu_rows = {row[0]: dict(zip(cpu[0], row, strict=True)) for row in cpu[1:]}
    assert cpu_rows["[broken\\_net](broken_net.md)"]["ms/image at batch 1 (95 % interval)"] == "error"
    assert cpu_rows["[squeezenet1\\_0](squeezenet1_0.md)"]["top-1 (%)"] == "not known"
    assert {row["energy/image at batch 1 (J)"] for name, row in cpu_rows.items() if "broken" not in name} == {
        "not measurable"}


def test_leaderboard_reads_as_markdown_and_says_what_is_left_out(rendered: Path) -> None:
    text = (rendered / "models/index.md").read_text()
    assert '<div class="leaderboard" markdown="1">\n\n| model |' in text  # a blank line: GitHub renders the table
    assert "fraction of the machine's peak GFLOP/s: not measured (this run has no machine.json" in text
    assert "[fixture-gpu.csv](../data/leaderboard/fixture-gpu.csv)" in text
    assert "Memory: GPU memory in use above the run's baseline (NVML, whole device" in text


def test_csv_per_hardware(rendered: Path) -> None:
    for slug, count in (("fixture-cpu-2t", 15), ("fixture-gpu", 14)):
        rows = list(csv.DictReader(io.StringIO((rendered / f"data/leaderboard/{slug}.csv").read_text())))
        assert tuple(rows[0]) == LEADERBOARD_COLUMNS
        assert len(rows) == count and {row["hardware_slug"] for row in rows} == {slug}
    rows = {row["model"]: row for row in csv.DictReader(
        io.StringIO((rendered / "data/leaderboard/fixture-gpu.csv").read_text()))}
    assert rows["resnet50"]["top1_percent"] == "76.1"
    assert rows["resnet50"]["accuracy_weights"] == "fixture: illustrative values"
    assert float(rows["resnet50"]["ms_per_image_batch1_low"]) < float(rows["resnet50"]["ms_per_image_batch1"])
    assert rows["resnet50"]["best_images_per_s_batch_size"] == "64"
    assert rows["vgg19"]["best_images_per_s_batch_size"] == "32"
    assert rows["resnet50"]["peak_memory_bytes_batch1"].isdigit()
    assert rows["squeezenet1_0"]["top1_percent"] == ""  # not known: empty, never 0


def test_data_page_links_the_csv_per_hardware(rendered: Path) -> None:
    text = (rendered / "data.md").read_text()
    assert ("[fixture-cpu-2t.csv](data/leaderboard/fixture-cpu-2t.csv), "
            "[fixture-gpu.csv](data/leaderboard/fixture-gpu.csv)") in text


def _section(page: str, run: str, title: str) -> str:
    after_run = page.split(f"### {run}", 1)[1]
    return after_run.split(f"#### {title}", 1)[1].split("####", 1)[0]


def test_model_page_lists_faster_and_smaller_models_that_are_more_accurate(rendered: Path) -> None:
    page = (rendered / "models/resnet50.md").read_text()
    gpu = "Fixture GPU (synthetic data), fp32"
    faster = _section(page, gpu, "Faster and more accurate")
    # EfficientNet-B0 (77.7 %, 0.53 ms) beats ResNet-50 (76.1 %, 0.83 ms); MobileNetV3 (75.3 %) is not more accurate.
    assert "[efficientnet\\_b0](efficientnet_b0.md) | 77.70 | \\+ 1.60 | 0.5312 |" in faster
    assert "mobilenet" not in faster and "resnet152" not in faster
    smaller = _section(page, gpu, "Smaller and more accurate")
    assert "efficientnet\\_b0" in smaller and "Inception-v3" not in smaller  # 27.2 M > 25.6 M
    assert "measured 2026-01-01T00:00:00Z at commit unknown (not recorded)" in page


def test_best_model_has_nothing_to_use_instead(rendered: Path) -> None:
    page = (rendered / "models/timm-inception_v4.md").read_text()
    assert "None: no model measured here is both more accurate and lower in time per image at batch 1." in page
    unknown = (rendered / "models/squeezenet1_0.md").read_text()
    assert "Cannot be compared: no accuracy is known for it." in unknown


def test_faster_needs_intervals_that_do_not_overlap() -> None:
    from generator.render.data import Run, group_runs
    from generator.render.load import load_records
    from generator.render.pages.alternatives import alternatives

    items = [item for item in load_records(FIXTURES) if item.run_key == ("fixture-gpu", "fp32")]
    run = group_runs(items)[0]
    resnet50 = next(r for r in run.records if r.model.name == "resnet50")
    faster = alternatives(resnet50, run, "models/resnet50.md")[0]
    assert faster.table is not None and "efficientnet" in str(faster.table.rows[0][0])
    assert "time: 95 % intervals that do not overlap" in faster.note

    # Widen EfficientNet-B0's batch-1 interval up to ResNet-50's median: a lower median alone is no evidence.
    own = resnet50.batches[0].latency
    assert own is not None and own.ci95_low_ms_per_batch is not None
    widened = []
    for item in items:
        if item.record.model.name == "efficientnet_b0":
            first = item.record.batches[0]
            assert first.latency is not None and first.batch_size == 1
            latency = first.latency.model_copy(update={"ci95_high_ms_per_batch": own.ci95_low_ms_per_batch * 1.001})
            batches = [first.model_copy(update={"latency": latency}), *item.record.batches[1:]]
            item = replace(item, record=item.record.model_copy(update={"batches": batches}))
        widened.append(item)
    overlapping = Run("fixture-gpu", "fp32", widened)
    faster = alternatives(resnet50, overlapping, "models/resnet50.md")[0]
    assert faster.table is None and faster.note.startswith("None:")


def test_leaderboard_csv_cells_never_run_as_formulas(tmp_path: Path) -> None:
    from fixtures.factory import CPU, FixtureModel, make_record, write_records

    from generator.render.data import group_runs
    from generator.render.export import leaderboard_csv
    from generator.render.load import load_records

    evil = FixtureModel("evil_net", "=HYPERLINK(\"http://x\")", None, 3.0, 0.5, 60.0, None)
    write_records([make_record(evil, CPU, batch_sizes=(1, 2))], tmp_path / "m")
    rows = list(csv.DictReader(io.StringIO(leaderboard_csv(group_runs(load_records(tmp_path / "m"))))))
    assert rows[0]["family"] == "'=HYPERLINK(\"http://x\")"  # shown as text by a spreadsheet
    assert rows[0]["top1_percent"] == "60.0"  # numbers stay numbers
