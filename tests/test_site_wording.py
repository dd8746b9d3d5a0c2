"""Small defects seen on the built site (issue 10, item 8): each one checked on a rendered page."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from fixtures.factory import CPU, STUDY_MODELS, make_record, write_records

from generator.cli import main
from generator.render import findings, pages
from generator.render.data import group_runs
from generator.render.load import load_records

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "measurements"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wording") / "site"
    assert main(["render", "--measurements", str(FIXTURES), "--out", str(out)]) == 0
    return out


def test_csv_columns_show_without_backslashes(rendered: Path) -> None:
    line = next(line for line in (rendered / "data.md").read_text().splitlines() if line.startswith("CSV columns"))
    assert "`hardware_slug`" in line and "`peak_memory_bytes`" in line
    assert "\\" not in line


def test_title_keeps_the_apostrophe(rendered: Path) -> None:
    front = (rendered / "figures/fixture-gpu/fp32/study.md").read_text().splitlines()[1]
    assert front == 'title: "Figures: Fixture GPU (synthetic data), fp32 (the study\u2019s networks)"'


def test_figures_index_has_no_empty_column(rendered: Path) -> None:
    table = [line for line in (rendered / "figures/index.md").read_text().splitlines() if line.startswith("|")]
    assert table[0] == "| hardware | configuration | records | figures |"
    assert all(line.count("|") == 5 for line in table), table
    assert "| 10 | [the study's networks](fixture-gpu/fp32/study.md) |" in "\n".join(table)
    assert "| 14 | [all models](fixture-gpu/fp32/all.md) |" in "\n".join(table)


def test_models_sort_naturally_by_shown_name(rendered: Path) -> None:
    rows = list(csv.DictReader(io.StringIO((rendered / "data/records.csv").read_text())))
    order = list(dict.fromkeys(row["model"] for row in rows if row["hardware_slug"] == "fixture-gpu"))
    # Inception-v4 (registry name timm:inception_v4) sits beside Inception-v3; ResNet-18 < 50 < 152.
    assert order.index("inception_v3") + 1 == order.index("timm:inception_v4")
    assert order.index("resnet18") < order.index("resnet50") < order.index("resnet152")


def test_peak_memory_bytes_are_whole_numbers(rendered: Path) -> None:
    rows = list(csv.DictReader(io.StringIO((rendered / "data/records.csv").read_text())))
    values = [row["peak_memory_bytes"] for row in rows if row["peak_memory_bytes"]]
    assert values and all(value.isdigit() for value in values), values[:5]


def test_methodology_clock_list_is_followed_by_a_space(rendered: Path) -> None:
    text = (rendered / "methodology.md").read_text()
    assert re.search(r"perf\\_counter\s+\(CUDA events", text)


def test_accuracy_note_names_only_weights_that_exist(rendered: Path) -> None:
    # The fixtures name no weights: the note must not point at "the weights named above".
    page = (rendered / "models/resnet50.md").read_text()
    assert "weights named above" not in page
    assert "accuracy belongs to the trained model given as the source in the table" in page
    unknown = (rendered / "models/squeezenet1_0.md").read_text()
    assert "No trained weights are named for this model and no accuracy is known" in unknown


def test_counts_agree_with_their_nouns(tmp_path: Path) -> None:
    write_records([make_record(STUDY_MODELS[0], CPU, batch_sizes=(1, 2, 4, 8, 16))], tmp_path / "m")
    items = load_records(tmp_path / "m")
    runs = group_runs(items)
    home = pages.home_page(items, runs)
    assert home.summary == "1 record: 1 model measured on 1 machine in 1 hardware × configuration run."
    memory = findings.memory_flat_then_linear(runs[0])
    assert "Of 1 model with memory" in memory.sentences[0]
    assert re.search(r"\b1 (stays|grows)\b", memory.sentences[0]), memory.sentences[0]
    assert not re.search(r"\b1 (stay|grow) ", memory.sentences[0]), memory.sentences[0]
