"""The results store: layout, one machine and software per run, the lock, and measure's checks on its folder.

Fixture records (tests/fixtures/factory.py) through the public commands; no model is measured here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.cli import main
from generator.render.load import load_records
from generator.schema import Software
from generator.store import ResultsStore, relative_path, software_slug
from tests.fixtures.factory import CPU, STUDY_MODELS, make_record


def _run(root: Path, torch_version: str = "2.14.1") -> list[Path]:
    store = ResultsStore(root)
    paths = []
    for model in STUDY_MODELS[:3]:
        record = make_record(model, CPU, (1, 2))
        software = record.software.model_copy(update={"torch": torch_version})
        paths.append(store.write(record.model_copy(update={"software": software})))
    return paths


def test_layout_is_machine_config_software_model(tmp_path: Path) -> None:
    paths = _run(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "fixture-cpu-2t/fp32/torch-2.14.1-tv-0.29.1/alexnet.json",
        "fixture-cpu-2t/fp32/torch-2.14.1-tv-0.29.1/bn_alexnet.json",
        "fixture-cpu-2t/fp32/torch-2.14.1-tv-0.29.1/googlenet.json",
    ]
    software = Software(python="3", torch="2.14.1+cu130", torchvision="0.29.1", fvcore=None, platform="Linux")
    assert software_slug(software, None) == "torch-2.14.1-cu130-tv-0.29.1"


def test_a_record_from_another_machine_in_a_run_folder_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    measurements = tmp_path / "measurements"
    paths = _run(measurements)
    foreign = make_record(STUDY_MODELS[3], CPU, (1, 2))
    hardware = foreign.hardware.model_copy(update={"name": "Intel Xeon, 2 threads", "cpu_model": "Intel Xeon"})
    intruder = paths[0].parent / "resnet18.json"
    ResultsStore(measurements).write(foreign.model_copy(update={"hardware": hardware}), intruder)
    site = tmp_path / "site"
    assert main(["render", "--measurements", str(measurements), "--out", str(site)]) == 1
    err = capsys.readouterr().err
    assert str(intruder) in err and "hardware.name" in err and "one machine" in err
    assert not site.exists()  # it never relabels the run: nothing is rendered


def test_two_software_stacks_of_one_machine_are_two_runs(tmp_path: Path) -> None:
    old = _run(tmp_path, "2.13.0")
    new = _run(tmp_path, "2.14.1")
    assert {p.parent for p in old}.isdisjoint({p.parent for p in new})  # beside, not replacing
    items = load_records(tmp_path)
    # One machine and configuration (the comparison splits it by software stack) ...
    assert {item.run_key for item in items} == {("fixture-cpu-2t", "fp32")}
    # ... whose records keep a site copy per stack.
    assert {item.site_path.parent.name for item in items} == {"torch-2.13.0-tv-0.29.1", "torch-2.14.1-tv-0.29.1"}


def test_old_layout_records_are_adopted(tmp_path: Path) -> None:
    (path,) = _run(tmp_path)[:1]
    old = tmp_path / "fixture-cpu-2t" / "fp32" / "alexnet.json"
    shutil.move(path, old)
    moved = ResultsStore(tmp_path).adopt_old_layout()
    assert moved == [(old, path)] and path.exists() and not old.exists()


def test_writing_keeps_an_evaluated_accuracy(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    from tests.fixtures.factory import GPU

    evaluated = make_record(STUDY_MODELS[4], GPU, (1,), measured_top1=75.9)
    path = store.write(evaluated)
    remeasured = make_record(STUDY_MODELS[4], GPU, (1, 2))
    assert store.write(remeasured) == path == tmp_path / relative_path(remeasured)
    assert store.read(path).accuracy.measured == evaluated.accuracy.measured


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", ""], "--models: no model named"),
        (["--models", "quick", "--rounds", "0"], "--rounds"),
        (["--models", "quick", "--machine", "../up"], "--machine"),
    ],
)
def test_bad_measure_arguments_exit_2_before_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["measure", "--measurements", str(tmp_path / "m"), "--device", "cpu", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.json"))


def test_an_unusable_records_folder_is_reported_before_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "records"
    not_a_folder.write_text("a file\n")
    for out in (not_a_folder, not_a_folder / "inside"):
        assert main(["measure", "--models", "quick", "--device", "cpu", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --measurements {out}: cannot write records there") and "Traceback" not in err
    assert not_a_folder.read_text() == "a file\n"


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ResultsStore(tmp_path).lock():
        code = main(["measure", "--models", "squeezenet1_1", "--device", "cpu", "--measurements", str(tmp_path),
                     "--batch-sizes", "1", "--time-budget", "0.05", "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "another 'measure' run" in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.json"))


def test_reading_the_records_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    """The load pauses the cyclic collector (a zoo's records are hundreds of thousands of objects that all
    live on); a long-lived process (a server, the tests) must get it back, also after a bad record."""
    import gc

    from generator.schema import RecordError

    store = ResultsStore(tmp_path)
    for model in STUDY_MODELS[:2]:
        store.write(make_record(model, CPU))
    assert gc.isenabled()
    assert len(load_records(tmp_path)) == 2
    assert gc.isenabled()
    bad = next(tmp_path.rglob("*.json"))
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(RecordError):
        load_records(tmp_path)
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(RecordError):
            load_records(tmp_path)
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()
