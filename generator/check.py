"""``check DIR...``: gate records made elsewhere before they reach ``measurements/``.

Modelled on MLPerf's submission checker: every file is checked in full and
every problem is reported (file and field), not only the first. A folder
passes only when every record in it passes:

- it is readable as untrusted input (``generator.safe_read``: a regular file,
  size-capped, strict UTF-8 and JSON) and a record of a known schema version
  (older versions are migrated by the schema's migrations);
- it validates against the schema (types, ranges, strict numbers) and its
  fields agree with each other (``generator.schema.record_problems``);
- each measured batch size was timed for at least ``min_iterations``
  iterations in each of at least ``min_rounds`` rounds;
- it carries the metadata that makes it traceable: a hardware fingerprint
  (a name, and the CPU or GPU model), software versions (Python, torch,
  torchvision, platform), the command and an ISO 8601 date that is not in the
  future;
- each folder holds one machine: records side by side, or under one hardware
  slug, share one hardware fingerprint;
- no two records claim the same model, hardware, configuration and software;
- a run folder's ``machine.json`` (the machine's measured ceilings) is read
  as untrusted as a record, validates against its schema
  (``generator.schema.MachineCeilings``, every relation), sits beside records
  and names the machine, device and precision they were measured on.

The command line prints one line per problem, or JSON with ``--json``; the
exit status is 0 only when everything passed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from generator.safe_read import read_json, walk_ceilings_files, walk_json_files
from generator.schema import (
    CEILINGS_FILE_NAME,
    CEILINGS_SCHEMA_VERSION,
    SCHEMA_VERSION,
    MachineCeilings,
    Record,
    RecordError,
    ceilings_mismatches,
    ceilings_problems,
    parse_ceilings,
    parse_record,
    record_problems,
)

DEFAULT_MIN_ITERATIONS = 5  # measure always times at least 5 iterations per batch size
DEFAULT_MIN_ROUNDS = 1
# A clock a little ahead of ours is not a forgery; a date next week is.
FUTURE_TOLERANCE = dt.timedelta(days=1)


T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    field: str | None  # dotted field, None for the file as a whole
    message: str

    def describe(self, path: Path) -> str:
        return f"{path}: field '{self.field}': {self.message}" if self.field else f"{path}: {self.message}"


@dataclass
class CheckedFile:
    """One file, checked: it passed when it has no problems."""

    path: Path
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "problems": [{"field": p.field, "message": p.message} for p in self.problems],
        }


@dataclass
class FileResult(CheckedFile):
    """A record file."""

    record: Record | None = None


@dataclass
class CeilingsResult(CheckedFile):
    """A run folder's ``machine.json``."""

    ceilings: MachineCeilings | None = None


@dataclass
class CheckReport:
    folders: list[Path]
    files: list[FileResult]
    folder_problems: list[tuple[Path, Problem]] = field(default_factory=list)
    ceilings_files: list[CeilingsResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.folder_problems
            and all(result.ok for result in self.files)
            and all(result.ok for result in self.ceilings_files)
        )

    @property
    def records(self) -> list[tuple[Path, Record]]:
        return [(result.path, result.record) for result in self.files if result.record is not None]

    @property
    def ceilings(self) -> list[tuple[Path, MachineCeilings]]:
        return [(result.path, result.ceilings) for result in self.ceilings_files if result.ceilings is not None]

    def lines(self) -> list[str]:
        found = [problem.describe(path) for path, problem in self.folder_problems]
        found += [problem.describe(result.path) for result in self.files for problem in result.problems]
        found += [problem.describe(result.path) for result in self.ceilings_files for problem in result.problems]
        return found

    def summary(self) -> str:
        failed = sum(not result.ok for result in self.files) + sum(not result.ok for result in self.ceilings_files)
        verdict = (
            "all passed"
            if self.ok
            else f"{failed} failed" + (f", {len(self.folder_problems)} folder problems" if self.folder_problems else "")
        )
        ceilings = f" and {len(self.ceilings_files)} {CEILINGS_FILE_NAME} files" if self.ceilings_files else ""
        return f"checked {len(self.files)} records{ceilings} in {len(self.folders)} folders: {verdict}"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "schema_version": SCHEMA_VERSION,
            "folders": [str(folder) for folder in self.folders],
            "folder_problems": [
                {"path": str(path), "field": p.field, "message": p.message} for path, p in self.folder_problems
            ],
            "files": [result.to_json() for result in self.files],
            "ceilings_files": [result.to_json() for result in self.ceilings_files],
            "summary": self.summary(),
        }


def _validation_problems(document: Any, schema: type[Record] | type[MachineCeilings] = Record) -> list[Problem]:
    """Every type and range error of a current-version document (pydantic stops at none of them)."""
    try:
        schema.model_validate(document)
    except ValidationError as error:
        return [Problem(".".join(str(part) for part in item["loc"]) or None, item["msg"]) for item in error.errors()]
    return []


def _parsed(
    path: Path, parse: Callable[[Any, Path], T], every_problem: Callable[[Any], list[Problem]]
) -> tuple[T | None, list[Problem]]:
    """Read and parse one file: its value, or its problems.

    ``parse`` names the first problem only; ``every_problem`` lists them all for a
    document of the current version (an old one may not migrate far enough to
    tell), and returns nothing for any other.
    """
    try:
        document = read_json(path)
    except RecordError as error:
        return None, [Problem(error.field, _message(error))]
    try:
        return parse(document, path), []
    except RecordError as error:
        return None, every_problem(document) or [Problem(error.field, _message(error))]


def _every_record_problem(document: Any) -> list[Problem]:
    if not _is_current(document):
        return []
    listed = _validation_problems(document)
    # Types are fine: the relations between fields failed.
    return listed or _record_problems(Record.model_validate(document))


def _every_ceilings_problem(document: Any) -> list[Problem]:
    if not (isinstance(document, dict) and document.get("schema_version") == CEILINGS_SCHEMA_VERSION):
        return []
    listed = _validation_problems(document, MachineCeilings)
    # Types are fine: the relations between fields failed.
    relations = [] if listed else ceilings_problems(MachineCeilings.model_validate(document))
    return listed or [Problem(problem.field, problem.message) for problem in relations]


def _read(path: Path) -> FileResult:
    record, problems = _parsed(path, parse_record, _every_record_problem)
    return FileResult(path, problems, record)


def _read_ceilings(path: Path, records_beside: Sequence[FileResult]) -> CeilingsResult:
    """A ``machine.json``: readable, valid (every problem listed), and of the records in its folder."""
    ceilings, problems = _parsed(path, parse_ceilings, _every_ceilings_problem)
    result = CeilingsResult(path, problems, ceilings)
    if ceilings is None:
        return result
    if not records_beside:
        result.problems.append(
            Problem(None, "no records beside it: a run folder's ceilings belong with the records measured there")
        )
    named: set[str] = set()  # one line per field, naming the first record that disagrees
    for beside in records_beside:
        if beside.record is None:
            continue
        for name, theirs, ours in ceilings_mismatches(ceilings, beside.record):
            if name not in named:
                named.add(name)
                result.problems.append(Problem(name, f"{theirs!r} but the record {beside.path} says {ours!r}"))
    return result


def _is_current(document: Any) -> bool:
    return isinstance(document, dict) and document.get("schema_version") == SCHEMA_VERSION


def _message(error: RecordError) -> str:
    """The RecordError's text without the path and field it starts with (printed separately)."""
    text = str(error)
    prefix = f"{error.path}: field '{error.field}': " if error.field else f"{error.path}: "
    return text.removeprefix(prefix)


def _iteration_problems(record: Record, min_iterations: int, min_rounds: int) -> Iterable[Problem]:
    for index, batch in enumerate(record.batches):
        if batch.status != "ok" or batch.latency is None:
            continue
        where = f"batches.{index}.latency"
        rounds = batch.latency.rounds
        if len(rounds) < min_rounds:
            yield Problem(
                f"{where}.rounds",
                f"batch size {batch.batch_size}: {len(rounds)} rounds, at least {min_rounds} required",
            )
        for number, one in enumerate(rounds):
            if one.timed_iterations < min_iterations:
                yield Problem(
                    f"{where}.rounds.{number}.timed_iterations",
                    f"batch size {batch.batch_size}: "
                    f"{one.timed_iterations} timed iterations, at least {min_iterations} required",
                )


def _metadata_problems(record: Record, now: dt.datetime) -> Iterable[Problem]:
    hardware = record.hardware
    if not hardware.name.strip():
        yield Problem("hardware.name", "empty: the machine must be named")
    if record.config.device == "cuda":
        if hardware.gpu is None or not hardware.gpu.name.strip():
            yield Problem("hardware.gpu", "a CUDA record must name its GPU")
        elif not hardware.gpu.driver_version:
            yield Problem("hardware.gpu.driver_version", "a CUDA record must give the driver version")
    elif not (hardware.cpu_model or "").strip():
        yield Problem("hardware.cpu_model", "a CPU record must name its CPU model")
    software = record.software
    for name in ("python", "torch", "torchvision", "platform"):
        value = getattr(software, name)
        if value is None or not str(value).strip():
            yield Problem(f"software.{name}", "missing: the software versions must be recorded")
    if record.config.device == "cuda" and not software.cuda:
        yield Problem("software.cuda", "a CUDA record must give the CUDA version")
    if not record.run.command.strip():
        yield Problem("run.command", "empty: the command that measured must be recorded")
    try:
        date = dt.datetime.fromisoformat(record.run.date)
    except ValueError:
        yield Problem("run.date", f"{record.run.date!r} is not an ISO 8601 date-time")
        return
    if date.tzinfo is None:
        yield Problem("run.date", f"{record.run.date!r} has no time zone")
    elif date > now + FUTURE_TOLERANCE:
        yield Problem("run.date", f"{record.run.date} is in the future")


def _record_problems(record: Record) -> list[Problem]:
    """The schema's relations between fields (``generator.schema.record_problems``), every one of them."""
    return [Problem(problem.field, problem.message) for problem in record_problems(record)]


def fingerprint(record: Record) -> str:
    """The machine as a record describes it: equal fingerprints, same machine."""
    return json.dumps(record.hardware.model_dump(mode="json"), sort_keys=True)


def software_key(record: Record) -> str:
    software = record.software.model_dump(mode="json")
    gpu = record.hardware.gpu
    return json.dumps({**software, "driver": None if gpu is None else gpu.driver_version}, sort_keys=True)


def identity(record: Record) -> tuple[str, str, str, str]:
    """What a duplicate shares: model, hardware slug, configuration and software stack."""
    return (record.model.name, record.hardware.slug, record.config.slug, software_key(record))


def _folder_problems(results: Sequence[FileResult]) -> list[tuple[Path, Problem]]:
    problems: list[tuple[Path, Problem]] = []
    by_folder: dict[Path, dict[str, Path]] = {}
    by_slug: dict[str, dict[str, Path]] = {}
    first_of: dict[tuple[str, str, str, str], Path] = {}
    for result in results:
        record = result.record
        if record is None:
            continue
        print_ = fingerprint(record)
        by_folder.setdefault(result.path.parent, {}).setdefault(print_, result.path)
        by_slug.setdefault(record.hardware.slug, {}).setdefault(print_, result.path)
        key = identity(record)
        if key in first_of:
            result.problems.append(
                Problem(
                    "model.name",
                    f"duplicate: {record.model.name!r} on "
                    f"{record.hardware.slug}/{record.config.slug} with the same software "
                    f"is also in {first_of[key]}",
                )
            )
        else:
            first_of[key] = result.path
    for folder, prints in sorted(by_folder.items()):
        if len(prints) > 1:
            problems.append(
                (
                    folder,
                    Problem(
                        None,
                        "holds records of more than one machine (hardware differs "
                        "between " + " and ".join(str(p) for p in sorted(prints.values())) + ")",
                    ),
                )
            )
    for slug, prints in sorted(by_slug.items()):
        if len(prints) > 1:
            problems.append(
                (
                    Path(slug),
                    Problem(
                        "hardware.slug",
                        f"{slug!r} names more than one machine (hardware "
                        "differs between " + " and ".join(str(p) for p in sorted(prints.values())) + ")",
                    ),
                )
            )
    return problems


def check_folders(
    folders: Sequence[Path],
    min_iterations: int = DEFAULT_MIN_ITERATIONS,
    min_rounds: int = DEFAULT_MIN_ROUNDS,
    now: dt.datetime | None = None,
) -> CheckReport:
    """Check every ``*.json`` under each folder; the report lists every problem found."""
    now = now or dt.datetime.now(dt.UTC)
    report = CheckReport(folders=list(folders), files=[])
    for folder in folders:
        if folder.is_symlink() or not folder.is_dir():
            what = (
                "is a symbolic link" if folder.is_symlink() else "is not a folder" if folder.exists() else "not found"
            )
            report.folder_problems.append((folder, Problem(None, what)))
            continue
        try:
            paths = walk_json_files(folder)
        except RecordError as error:
            report.folder_problems.append((Path(error.path), Problem(error.field, _message(error))))
            continue
        if not paths:
            report.folder_problems.append((folder, Problem(None, "holds no records (*.json)")))
        for path in paths:
            result = _read(path)
            if result.record is not None:
                result.problems += _iteration_problems(result.record, min_iterations, min_rounds)
                result.problems += _metadata_problems(result.record, now)
            report.files.append(result)
        for path in walk_ceilings_files(folder):
            beside = [result for result in report.files if result.path.parent == path.parent]
            report.ceilings_files.append(_read_ceilings(path, beside))
    report.folder_problems += _folder_problems(report.files)
    return report


def check(
    folders: Sequence[Path],
    as_json: bool = False,
    min_iterations: int = DEFAULT_MIN_ITERATIONS,
    min_rounds: int = DEFAULT_MIN_ROUNDS,
) -> int:
    """The ``check`` command: print the problems (or JSON); 0 when all passed, else 1."""
    report = check_folders(folders, min_iterations=min_iterations, min_rounds=min_rounds)
    if as_json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        for line in report.lines():
            print(line)
        print(report.summary())
    return 0 if report.ok else 1
