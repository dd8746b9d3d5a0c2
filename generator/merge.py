"""``merge SRC... [--measurements DST]``: import checked records from other machines, all or nothing.

1. Every source folder goes through ``check`` (generator/check.py); one
   problem anywhere and nothing is imported.
2. Each record is migrated to the current schema (the schema's migrations)
   and given its canonical place and bytes under ``DST``.
3. A record already in place for the same model, hardware and configuration
   is a conflict when it describes another machine (hardware fingerprint),
   other software or other measurement settings, or when the incoming one is
   older: refused unless ``replace``. Identical records are left alone; a
   newer measurement of the same machine, software and settings replaces its
   predecessor. Records of one hardware slug in ``DST`` must also stay one
   machine: a foreign machine under a slug already taken is refused.
   A run folder's ``machine.json`` (its measured ceilings, checked with the
   records) comes along into the run folder of its records; one already there
   with other ceilings is a conflict, refused unless ``replace``.
4. All new files are written into a staging folder inside ``DST`` first and
   then renamed into place with SIGINT and SIGTERM held back, so neither an
   error nor Ctrl-C leaves half an import; an error during the renames puts
   back what was replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generator import interrupts
from generator.check import (
    DEFAULT_MIN_ITERATIONS,
    DEFAULT_MIN_ROUNDS,
    check_folders,
    fingerprint,
    software_key,
)
from generator.errors import CliError
from generator.safe_read import walk_json_files
from generator.schema import (
    CEILINGS_FILE_NAME,
    MachineCeilings,
    Record,
    RecordError,
    ceilings_to_json,
    load_record,
    record_to_json,
)
from generator.store import ResultsStore, relative_path, run_folder


@dataclass
class MergePlan:
    new: list[Path] = field(default_factory=list)  # relative paths under DST
    replaced: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    files: dict[Path, bytes] = field(default_factory=dict)  # relative path -> content to write
    ceilings_written: list[Path] = field(default_factory=list)  # machine.json files, new or replaced
    ceilings_unchanged: list[Path] = field(default_factory=list)


def _settings(record: Record) -> str | None:
    return None if record.settings is None else record.settings.model_dump_json()


def _differences(old: Record, new: Record) -> list[str]:
    found = []
    if fingerprint(old) != fingerprint(new):
        found.append("hardware fingerprint")
    if software_key(old) != software_key(new):
        found.append("software")
    if _settings(old) != _settings(new) or old.config != new.config:
        found.append("measurement settings")
    return found


def plan_merge(records: Sequence[tuple[Path, Record]], destination: Path, replace: bool) -> MergePlan:
    plan = MergePlan()
    existing_prints: dict[str, tuple[str, Path]] = {}  # hardware slug -> (fingerprint, a record in DST)
    if destination.is_dir():
        for path in walk_json_files(destination):
            try:
                record = load_record(path)
            except RecordError as error:
                raise CliError(f"the destination holds a bad record: {error}", exit_code=1) from None
            existing_prints.setdefault(record.hardware.slug, (fingerprint(record), path))
    for source, record in records:
        relative = relative_path(record)
        content = record_to_json(record).encode("utf-8")
        taken = existing_prints.get(record.hardware.slug)
        if taken is not None and taken[0] != fingerprint(record):
            plan.conflicts.append(
                f"{source}: hardware slug {record.hardware.slug!r} is already another machine in "
                f"{destination} ({taken[1]}); measure with another machine name"
            )
            continue
        target = destination / relative
        if not os.path.lexists(target):
            plan.new.append(relative)
            plan.files[relative] = content
            continue
        old = load_record(target)  # safe_read: a link or FIFO in DST is refused by name
        if record_to_json(old).encode("utf-8") == content:
            plan.unchanged.append(relative)
            continue
        differs = _differences(old, record)
        if not differs and record.run.date < old.run.date:
            differs = [f"date (incoming {record.run.date} is older than {old.run.date})"]
        if differs and not replace:
            plan.conflicts.append(
                f"{source}: conflicts with {target}: same model, hardware and configuration, "
                f"other {', '.join(differs)}; pass --replace to import it anyway"
            )
            continue
        plan.replaced.append(relative)
        plan.files[relative] = content
    return plan


def plan_ceilings(
    plan: MergePlan,
    ceilings: Sequence[tuple[Path, MachineCeilings]],
    records: Sequence[tuple[Path, Record]],
    destination: Path,
    replace: bool,
) -> None:
    """Add each source ``machine.json`` to ``plan``, into the run folder(s) its records go to.

    ``check`` has made sure that the ceilings are of the machine, device and
    precision of every record beside them. A different machine.json already in
    place is a conflict (unless ``replace``): the ceilings of a run are
    measured once, so two of them are two measurements the site cannot both show.
    """
    store = ResultsStore(destination)
    for source, measured in ceilings:
        content = ceilings_to_json(measured).encode("utf-8")
        folders = sorted({Path(run_folder(record)) for path, record in records if path.parent == source.parent})
        for folder in folders:
            relative = folder / CEILINGS_FILE_NAME
            target = destination / relative
            if not os.path.lexists(target):
                plan.ceilings_written.append(relative)
                plan.files[relative] = content
                continue
            try:
                old = store.read_ceilings(destination / folder)
            except RecordError as error:
                raise CliError(f"the destination holds a bad {CEILINGS_FILE_NAME}: {error}", exit_code=1) from None
            if old is not None and ceilings_to_json(old).encode("utf-8") == content:
                plan.ceilings_unchanged.append(relative)
            elif replace:
                plan.ceilings_written.append(relative)
                plan.files[relative] = content
            else:
                plan.conflicts.append(
                    f"{source}: conflicts with {target}: other ceilings for the same run folder "
                    f"(measured {measured.date}, the one in place {old.date if old else 'unknown'}); "
                    "pass --replace to import it anyway"
                )


def apply_plan(plan: MergePlan, destination: Path) -> None:
    """Write every file of the plan, all or nothing."""
    if not plan.files:
        return
    destination.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".merge-", dir=destination))
    done: list[tuple[Path, Path | None]] = []  # (target, backup of what it replaced)
    try:
        staged: dict[Path, Path] = {}
        for index, (relative, content) in enumerate(sorted(plan.files.items())):
            path = staging / f"{index}.json"
            with path.open("wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(path, 0o644)
            staged[relative] = path
        with interrupts.held():  # the renames take milliseconds
            try:
                for index, (relative, path) in enumerate(sorted(staged.items())):
                    target = destination / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    backup: Path | None = None
                    if os.path.lexists(target):
                        backup = staging / f"{index}.old"
                        os.rename(target, backup)
                    done.append((target, backup))
                    os.rename(path, target)
            except BaseException:
                for target, backup in reversed(done):
                    if os.path.lexists(target) and backup is not None and os.path.lexists(backup):
                        os.replace(backup, target)
                    elif backup is None and os.path.lexists(target):
                        os.unlink(target)
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def merge(
    sources: Sequence[Path],
    destination: Path,
    replace: bool = False,
    dry_run: bool = False,
    min_iterations: int = DEFAULT_MIN_ITERATIONS,
    min_rounds: int = DEFAULT_MIN_ROUNDS,
) -> int:
    """The ``merge`` command: 0 when imported (or nothing to do), 1 when refused."""
    resolved = {source.resolve() for source in sources if source.exists()}
    if destination.exists() and destination.resolve() in resolved:
        raise CliError(f"{destination} is both a source and the destination")
    report = check_folders(sources, min_iterations=min_iterations, min_rounds=min_rounds)
    if not report.ok:
        for line in report.lines():
            print(line)
        print(f"{report.summary()}; nothing imported")
        return 1
    if destination.is_symlink():
        raise CliError(f"{destination} is a symbolic link; give the folder it points to")
    plan = plan_merge(report.records, destination, replace)
    plan_ceilings(plan, report.ceilings, report.records, destination, replace)
    if plan.conflicts:
        for line in plan.conflicts:
            print(line)
        print(f"{len(plan.conflicts)} conflicts; nothing imported")
        return 1
    if not dry_run:
        apply_plan(plan, destination)
    verb = "would import" if dry_run else "imported"
    print(
        f"{verb} {len(plan.new) + len(plan.replaced)} records into {destination}: {len(plan.new)} new, "
        f"{len(plan.replaced)} replaced, {len(plan.unchanged)} unchanged"
        + (
            f"; {CEILINGS_FILE_NAME}: {len(plan.ceilings_written)} written, {len(plan.ceilings_unchanged)} unchanged"
            if plan.ceilings_written or plan.ceilings_unchanged
            else ""
        )
    )
    return 0
