"""check and merge: records from other machines are gated like MLPerf submissions and imported all or nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fixtures.factory import CPU, STUDY_MODELS, make_record, write_records
from test_render_hostile import HOSTILE_TEXT
from test_roofline import _ceilings

from generator.cli import main
from generator.render.load import load_records
from generator.schema import CEILINGS_FILE_NAME, SCHEMA_VERSION, Record, ceilings_to_json, record_to_json
from generator.store import relative_path

SMALL = (1, 2)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _records(count: int = 3) -> list[Record]:
    return [_complete(make_record(model, CPU, SMALL)) for model in STUDY_MODELS[:count]]


def _complete(record: Record) -> Record:
    """The fixtures leave torch's version unset; a record from a real run has it."""
    return record.model_copy(update={"software": record.software.model_copy(update={"torch": "2.14.1"})})


def _lab(tmp_path: Path, records: list[Record] | None = None, name: str = "lab") -> Path:
    folder = tmp_path / name
    write_records(records if records is not None else _records(), folder)
    return folder


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_good_records_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = _lab(tmp_path)
    code, out = _run(capsys, "check", str(lab))
    assert code == 0, out
    assert "checked 3 records in 1 folders: all passed" in out
    code, out = _run(capsys, "check", "--json", str(lab))
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and len(report["files"]) == 3


def test_every_hostile_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = _lab(tmp_path)
    folder = lab / CPU.slug / "fp32"
    bad = []
    for kind, content in HOSTILE_TEXT.items():
        (folder / f"{kind}.json").write_bytes(content())
        bad.append(folder / f"{kind}.json")
    (folder / "link.json").symlink_to(lab / CPU.slug / "fp32" / "alexnet.json")
    os.mkfifo(folder / "pipe.json")
    with (folder / "big.json").open("wb") as handle:
        handle.truncate(9 * 1024 * 1024)
    (lab / "linked-folder").symlink_to(folder)
    bad += [folder / "link.json", folder / "pipe.json", folder / "big.json", lab / "linked-folder"]
    code, out = _run(capsys, "check", "--json", str(lab))
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    failing = {entry["path"] for entry in report["files"] if not entry["ok"]}
    assert failing == {str(path) for path in bad}
    code, out = _run(capsys, "check", str(lab))
    assert code == 1 and "Traceback" not in out
    for path in bad:
        assert f"{path}: " in out, path


def test_schema_errors_are_all_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = _lab(tmp_path)
    path = next(lab.rglob("alexnet.json"))
    document = json.loads(path.read_text())
    document["batches"][0]["batch_size"] = -1
    document["config"]["threads"] = "two"
    path.write_text(json.dumps(document))
    code, out = _run(capsys, "check", str(lab))
    assert code == 1
    assert "field 'batches.0.batch_size'" in out and "field 'config.threads'" in out


def test_iterations_and_rounds_have_minimums(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = _lab(tmp_path)
    code, out = _run(capsys, "check", "--min-iterations", "1000", str(lab))
    assert code == 1 and "timed iterations, at least 1000 required" in out and "timed_iterations'" in out
    code, out = _run(capsys, "check", "--min-rounds", "50", str(lab))
    assert code == 1 and "at least 50 required" in out and "rounds'" in out


def test_metadata_is_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second, third = _records()
    first = first.model_copy(update={"software": first.software.model_copy(update={"torchvision": None})})
    second = second.model_copy(update={"run": second.run.model_copy(update={"date": "2999-01-01T00:00:00+00:00"})})
    third = third.model_copy(update={"run": third.run.model_copy(update={"command": " "})})
    lab = _lab(tmp_path, [first, second, third])
    code, out = _run(capsys, "check", str(lab))
    assert code == 1
    assert "field 'software.torchvision': missing" in out
    assert "field 'run.date': 2999-01-01T00:00:00+00:00 is in the future" in out
    assert "field 'run.command': empty" in out


def test_one_machine_per_folder_and_no_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second, third = _records()
    other = third.model_copy(update={"hardware": third.hardware.model_copy(update={"cpu_model": "Another CPU"})})
    lab = _lab(tmp_path, [first, second, other])
    original = next(lab.rglob("alexnet.json"))  # <machine>/<config>/<software>/ (generator.store)
    copy = original.parent / "copy-of-alexnet.json"
    copy.write_bytes(original.read_bytes())
    code, out = _run(capsys, "check", str(lab))
    assert code == 1
    assert "holds records of more than one machine" in out
    assert f"'{CPU.slug}' names more than one machine" in out
    assert f"{copy}: field 'model.name': duplicate" in out


def test_missing_or_empty_folder_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, out = _run(capsys, "check", str(tmp_path / "empty"), str(tmp_path / "typo"))
    assert code == 1 and "holds no records" in out and "typo: not found" in out


def test_merge_imports_then_leaves_identical_records_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = _lab(tmp_path)
    destination = tmp_path / "measurements"
    code, out = _run(capsys, "merge", str(lab), "--measurements", str(destination))
    assert code == 0 and "imported 3 records" in out and "3 new" in out, out
    for record in _records():
        placed = destination / relative_path(record)
        assert placed.read_text() == record_to_json(record)
        assert json.loads(placed.read_text())["schema_version"] == SCHEMA_VERSION
    before = _tree(destination)
    code, out = _run(capsys, "merge", str(lab), "--measurements", str(destination))
    assert code == 0 and "3 unchanged" in out
    assert _tree(destination) == before


def test_merge_refuses_a_bad_source_and_imports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, lab = _lab(tmp_path, name="good"), _lab(tmp_path, _records(2), name="bad")
    (lab / "nan.json").write_bytes(HOSTILE_TEXT["nan"]())
    destination = tmp_path / "measurements"
    code, out = _run(capsys, "merge", str(good), str(lab), "--measurements", str(destination))
    assert code == 1 and "nothing imported" in out and "nan.json" in out
    assert not destination.exists()


def test_merge_refuses_conflicts_unless_replace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    destination = _lab(tmp_path, name="measurements")
    before = _tree(destination)
    first = _records(1)[0]
    other_machine = first.model_copy(update={"hardware": first.hardware.model_copy(update={"ram_bytes": 1})})
    other_threads = first.model_copy(update={"config": first.config.model_copy(update={"threads": 1})})
    for name, record in (("machine", other_machine), ("threads", other_threads)):
        lab = _lab(tmp_path, [record], name=name)
        code, out = _run(capsys, "merge", str(lab), "--measurements", str(destination))
        assert code == 1 and "nothing imported" in out, out
        assert _tree(destination) == before
    assert "already another machine" in _run(capsys, "merge", str(tmp_path / "machine"), "--measurements",
                                             str(destination))[1]
    code, out = _run(capsys, "merge", str(tmp_path / "threads"), "--measurements", str(destination))
    assert "other measurement settings; pass --replace" in out
    code, out = _run(capsys, "merge", str(tmp_path / "threads"), "--measurements", str(destination), "--replace")
    assert code == 0 and "1 replaced" in out
    assert json.loads((destination / relative_path(first)).read_text())["config"]["threads"] == 1


def test_merge_is_all_or_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    destination = _lab(tmp_path, _records(1), name="measurements")
    before = _tree(destination)
    first = _records(1)[0]
    newer = first.model_copy(update={"run": first.run.model_copy(update={"date": "2026-11-30T00:00:00+00:00"})})
    lab = _lab(tmp_path, [newer, *_records(3)[1:]])
    real = os.rename
    calls: list[str] = []

    def failing(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        calls.append(str(target))
        if len(calls) == 4:  # after one replacement and one new record are in place
            raise OSError(28, "No space left on device")
        real(source, target)

    monkeypatch.setattr(os, "rename", failing)
    code, out = _run(capsys, "merge", str(lab), "--measurements", str(destination))
    monkeypatch.undo()
    assert code == 1 and "No space left on device" in out and "Traceback" not in out
    assert len(calls) == 4
    assert _tree(destination) == before
    assert not [p for p in destination.iterdir() if p.name.startswith(".merge-")]
    code, out = _run(capsys, "merge", str(lab), "--measurements", str(destination))
    assert code == 0 and "2 new, 1 replaced" in out, out


V1 = Path(__file__).resolve().parent / "fixtures" / "v1"


def test_an_older_version_is_checked_and_migrated_on_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert json.loads(next(V1.rglob("*.json")).read_text())["schema_version"] == 1
    code, out = _run(capsys, "check", str(V1))
    assert code == 0, out
    destination = tmp_path / "measurements"
    code, out = _run(capsys, "merge", str(V1), "--measurements", str(destination))
    assert code == 0 and "1 new" in out, out
    (placed,) = destination.rglob("*.json")
    document = json.loads(placed.read_text())
    assert document["schema_version"] == SCHEMA_VERSION
    assert len(document["batches"][0]["latency"]["rounds"]) == 1


def test_every_broken_relation_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = _lab(tmp_path)
    path = next(lab.rglob("alexnet.json"))
    document = json.loads(path.read_text())
    latency = document["batches"][1]["latency"]
    latency["median_ms_per_image"] *= 3
    latency["throughput_images_per_s"] *= 3
    path.write_text(json.dumps(document))
    code, out = _run(capsys, "check", str(lab))
    assert code == 1
    assert "field 'batches.1.latency.median_ms_per_image'" in out
    assert "field 'batches.1.latency.throughput_images_per_s'" in out


# --------------------------------------------------------------------------- a run folder's machine.json


def _with_ceilings(lab: Path, **changes: object) -> Path:
    """Write the run folder's machine.json beside the lab's records (``changes``: top-level fields replaced)."""
    folder = next(lab.rglob("alexnet.json")).parent
    document = json.loads(ceilings_to_json(_ceilings(_records(1)[0])))
    document.update(changes)
    (folder / CEILINGS_FILE_NAME).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return folder / CEILINGS_FILE_NAME


def test_check_validates_the_machine_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = _lab(tmp_path)
    ceilings = _with_ceilings(lab)
    code, out = _run(capsys, "check", str(lab))
    assert code == 0 and f"checked 3 records and 1 {CEILINGS_FILE_NAME} files in 1 folders: all passed" in out, out
    bad_type = json.loads(ceilings.read_text())
    bad_type["matmul"]["gflops"] = "fast"
    bad_type["threads"] = 0
    broken_relation = json.loads(ceilings.read_text())
    broken_relation["bandwidth"]["gb_per_s"] *= 2  # no longer 2 x buffer bytes / the best sample
    cases: list[tuple[object, list[str]]] = [
        (bad_type, ["field 'matmul.gflops'", "field 'threads'"]),
        (broken_relation, ["field 'bandwidth.gb_per_s'", "is not 2 x buffer bytes / the best sample"]),
        ({**broken_relation, "schema_version": 9}, ["field 'schema_version'", "newer than this generator"]),
        ({**json.loads(ceilings.read_text()), "hardware_slug": "elsewhere", "precision": "bf16"},
         ["field 'hardware_slug': 'elsewhere' but the record", "field 'precision': 'bf16' but the record",
          "alexnet.json says 'fp32'"]),
        ("{not json", ["not valid JSON"]),
    ]
    for document, words in cases:
        ceilings.write_text(document if isinstance(document, str) else json.dumps(document))
        code, out = _run(capsys, "check", str(lab))
        assert code == 1 and "1 failed" in out, out
        assert all(word in out for word in words), out
        assert all(line.startswith(str(ceilings)) for line in out.splitlines()[:-1]), out  # names the file
        assert "Traceback" not in out
    code, out = _run(capsys, "check", "--json", str(lab))
    report = json.loads(out)
    assert report["ok"] is False and report["ceilings_files"][0]["path"] == str(ceilings)
    # Ceilings without the records they were measured with belong to no run.
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / CEILINGS_FILE_NAME).write_text(ceilings_to_json(_ceilings(_records(1)[0])))
    _lab(tmp_path, name="lone")  # records in their run folder below, none beside it
    code, out = _run(capsys, "check", str(lone))
    assert code == 1 and f"{lone / CEILINGS_FILE_NAME}: no records beside it" in out, out


def test_merge_brings_the_machine_json_along(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = _lab(tmp_path)
    _with_ceilings(lab)
    destination = tmp_path / "measurements"
    code, out = _run(capsys, "merge", str(lab), "--measurements", str(destination))
    assert code == 0 and "3 new" in out and f"{CEILINGS_FILE_NAME}: 1 written" in out, out
    placed = destination / relative_path(_records(1)[0]).parent / CEILINGS_FILE_NAME
    assert placed.read_text() == ceilings_to_json(_ceilings(_records(1)[0]))
    assert all(item.ceilings is not None for item in load_records(destination))  # the render reads it
    before = _tree(destination)
    code, out = _run(capsys, "merge", str(lab), "--measurements", str(destination))
    assert code == 0 and "3 unchanged" in out and f"{CEILINGS_FILE_NAME}: 0 written, 1 unchanged" in out, out
    assert _tree(destination) == before
    # Another measurement of the same run's ceilings: refused, naming the file, and nothing imported.
    other = _lab(tmp_path, name="other")
    _with_ceilings(other, date="2026-02-01T00:00:00+00:00", threads=1)
    code, out = _run(capsys, "merge", str(other), "--measurements", str(destination))
    assert code == 1 and f"conflicts with {placed}: other ceilings" in out and "nothing imported" in out, out
    assert _tree(destination) == before
    code, out = _run(capsys, "merge", str(other), "--measurements", str(destination), "--replace")
    assert code == 0 and f"{CEILINGS_FILE_NAME}: 1 written" in out, out
    assert json.loads(placed.read_text())["threads"] == 1


def test_merge_refuses_a_bad_machine_json_and_imports_nothing(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    lab = _lab(tmp_path)
    ceilings = _with_ceilings(lab, device="cuda")
    destination = tmp_path / "measurements"
    code, out = _run(capsys, "merge", str(lab), "--measurements", str(destination))
    assert code == 1 and f"{ceilings}: field 'device': 'cuda' but the record" in out and "nothing imported" in out
    assert not destination.exists()
