"""The results store: the one owner of the measurements folder's layout.

Layout (asv's results folder, keyed on machine + configuration + software)::

    measurements/<machine>/<config>/<software>/<model>.json

- ``<machine>``: ``hardware.slug``, derived from the hardware
  (``cpu-amd-epyc-7b13-2t``, ``nvidia-h200``) or named with ``--machine``;
- ``<config>``: ``Config.slug`` (``fp32``, ``bf16-channels-last``...);
- ``<software>``: ``software_slug`` of the versions that shape the numbers:
  torch and torchvision, and on a GPU CUDA and the driver
  (``torch-2.14.1-tv-0.29.1``, ``torch-2.14.1-tv-0.29.1-cuda-12.8-drv-570.86``);
- ``<model>``: ``model_file_stem`` of the registry name.

One folder ``<machine>/<config>/<software>`` is one **run**. Measuring again
with other software starts a new run beside the old one and never replaces it;
other settings on the same software re-measure in place. Every record of a run
folder must describe the same machine and software (``fingerprint``): one that
disagrees is refused, naming its file, rather than relabelling the run.

Everything that finds, reads, writes or updates records goes through here:
reading through generator.schema (strict numbers, relations), writing
atomically (generator.files), and a lock so that two ``measure`` runs never
measure into one folder at once. No torch: render uses it too.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from generator.files import write_text_atomic
from generator.schema import (
    CEILINGS_FILE_NAME,
    Accuracy,
    GpuInfo,
    MachineCeilings,
    Record,
    RecordError,
    Software,
    ceilings_to_json,
    check_record,
    load_record,
    model_file_stem,
    parse_ceilings,
    record_to_json,
    safe_slug,
)

LOCK_FILE = ".measure.lock"


class StoreLocked(Exception):
    """Another process is measuring into the same folder."""


def software_slug(software: Software, gpu: GpuInfo | None) -> str:
    """The folder name of a software stack: what a new run is keyed on besides machine and configuration."""
    parts = [f"torch-{software.torch or 'unknown'}", f"tv-{software.torchvision or 'unknown'}"]
    if gpu is not None:
        parts += [f"cuda-{software.cuda or 'unknown'}", f"drv-{gpu.driver_version or 'unknown'}"]
    return safe_slug("-".join(parts))


def run_folder(record: Record) -> PurePosixPath:
    """``<machine>/<config>/<software>`` of ``record``, relative to the measurements folder."""
    return PurePosixPath(
        safe_slug(record.hardware.slug),
        safe_slug(record.config.slug),
        software_slug(record.software, record.hardware.gpu),
    )


def relative_path(record: Record) -> Path:
    """Where ``record`` lives under the measurements folder."""
    return Path(run_folder(record), f"{model_file_stem(record.model.name)}.json")


# The part of ``fingerprint`` that tells one machine from another (the rest is software
# and configuration, which a re-run on the same machine may change).
MACHINE_KEYS = ("hardware.name", "hardware.cpu_model", "hardware.gpu.name")


def fingerprint(record: Record) -> dict[str, Any]:
    """What every record of one run must share: machine, hardware, software and configuration."""
    gpu = record.hardware.gpu
    return {
        "hardware.slug": record.hardware.slug,
        "hardware.name": record.hardware.name,
        "hardware.cpu_model": record.hardware.cpu_model,
        "hardware.gpu.name": gpu.name if gpu else None,
        "hardware.gpu.driver_version": gpu.driver_version if gpu else None,
        "software.torch": record.software.torch,
        "software.torchvision": record.software.torchvision,
        "software.cuda": record.software.cuda,
        "config": record.config.model_dump(),
    }


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off, then back as it was.

    Reading a zoo allocates hundreds of thousands of objects that all live on (the
    records), and the collector, started by the count of allocations, walked them
    again and again: a third of a 3000-record load. Parsed JSON and validated
    records hold no reference cycles, so there is nothing for it to find there.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class StoredRecord:
    path: Path
    record: Record
    # The record's software folder when its machine and configuration hold runs
    # of several software stacks (None when one stack: the usual case).
    software: str | None


def _record_files(root: Path) -> Iterator[Path]:
    # Hidden files (atomic-write temporaries, the lock) are skipped; links and
    # special files are listed, so that reading refuses them by name.
    from generator.safe_read import walk_json_files

    yield from walk_json_files(root)


def check_runs(items: list[tuple[Path, Record]]) -> None:
    """Every folder holds one machine and software stack: raise RecordError naming a record that disagrees."""
    by_folder: dict[Path, list[tuple[Path, Record]]] = {}
    for path, record in items:
        by_folder.setdefault(path.parent, []).append((path, record))
    for folder, members in by_folder.items():
        prints = [fingerprint(record) for _, record in members]
        for key in prints[0]:
            values = Counter(repr(p[key]) for p in prints)
            if len(values) == 1:
                continue
            # The value most records share describes the run (ties: the first file in order).
            common, count = values.most_common(1)[0]
            for (path, _), p in zip(members, prints, strict=True):
                if repr(p[key]) != common:
                    raise RecordError(
                        path,
                        f"{p[key]!r} but the other {count} record(s) of run folder {folder} say {common}: "
                        "a run folder holds one machine, configuration and software; measure into its own "
                        "folder (or --machine NAME) instead",
                        key,
                    )


class ResultsStore:
    """The records under one measurements folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ----------------------------------------------------------------- paths

    def path_for(self, record: Record) -> Path:
        return self.root / relative_path(record)

    def path_of(self, machine: str, config_slug: str, software: str, model_name: str) -> Path:
        stem = model_file_stem(model_name)
        return self.root / safe_slug(machine) / safe_slug(config_slug) / software / f"{stem}.json"

    # ----------------------------------------------------------------- reading

    def read(self, path: Path) -> Record:
        """One record, validated (RecordError names the file and field)."""
        return load_record(path)

    def read_if_valid(self, path: Path) -> Record | None:
        """The record at ``path``, or None when there is none or it cannot be used."""
        if not path.exists():
            return None
        try:
            return load_record(path)
        except RecordError:
            return None

    def records(self) -> list[tuple[Path, Record]]:
        """Every record, validated, in path order; the first unusable one raises RecordError."""
        if not self.root.exists():
            return []
        if not self.root.is_dir():
            raise RecordError(self.root, "is not a folder")
        with collector_paused():
            return [(path, load_record(path)) for path in _record_files(self.root)]

    def find(self, model_name: str, strict: bool = False) -> list[tuple[Path, Record]]:
        """Every record of one model (any machine, configuration, software), in path order.

        Unusable files are skipped, or with ``strict`` raise RecordError.
        """
        if not self.root.is_dir():
            return []
        stem = f"{model_file_stem(model_name)}.json"
        found = []
        for path in _record_files(self.root):
            if path.name != stem:
                continue
            record = self.read(path) if strict else self.read_if_valid(path)
            if record is not None and record.model.name == model_name:
                found.append((path, record))
        return found

    def load_all(self) -> list[StoredRecord]:
        """Every record, checked: one machine and software per run folder.

        Records of a machine and configuration measured with several software
        stacks name their stack (``StoredRecord.software``).
        """
        items = self.records()
        check_runs(items)
        stacks: dict[tuple[str, str], set[str]] = {}
        for _, record in items:
            key = (safe_slug(record.hardware.slug), safe_slug(record.config.slug))
            stacks.setdefault(key, set()).add(software_slug(record.software, record.hardware.gpu))
        stored = []
        for path, record in items:
            key = (safe_slug(record.hardware.slug), safe_slug(record.config.slug))
            several = len(stacks[key]) > 1
            stored.append(
                StoredRecord(path, record, software_slug(record.software, record.hardware.gpu) if several else None)
            )
        return stored

    # ----------------------------------------------------------------- writing

    def write(self, record: Record, path: Path | None = None) -> Path:
        """Write ``record`` atomically (at its layout path unless ``path``), after checking it reads back.

        An accuracy that 'evaluate' measured into the record being replaced is kept.
        """
        target = path or self.path_for(record)
        record = self._keep_measured_accuracy(target, record)
        check_record(record, target)  # the relations the readers will check; NaN fails in record_to_json
        write_text_atomic(target, record_to_json(record))
        return target

    def _keep_measured_accuracy(self, path: Path, record: Record) -> Record:
        if record.accuracy.measured is not None:
            return record
        old = self.read_if_valid(path)
        if old is None or old.accuracy.measured is None or old.model.name != record.model.name:
            return record
        accuracy = Accuracy.model_validate({**record.accuracy.model_dump(), "measured": old.accuracy.measured})
        return record.model_copy(update={"accuracy": accuracy})

    def adopt_old_layout(self) -> list[tuple[Path, Path]]:
        """Move records of the version-1 layout (``<machine>/<config>/<model>.json``) to their run folder.

        Only valid records move, and only where the destination is free; returns (from, to).
        """
        moved: list[tuple[Path, Path]] = []
        if not self.root.is_dir():
            return moved
        for path in sorted(self.root.glob("*/*/*.json")):
            record = self.read_if_valid(path)
            if record is None:
                continue
            target = self.path_for(record)
            if target != path and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
                moved.append((path, target))
        return moved

    def remove_stale_temporaries(self, folder: Path) -> None:
        """Temporary files of atomic writes interrupted by SIGKILL (a rename never happened)."""
        if folder.is_dir():
            for stale in folder.glob(".*.json.*.tmp"):
                stale.unlink(missing_ok=True)

    # ----------------------------------------------------------------- the run's ceilings

    @staticmethod
    def ceilings_path(run_dir: Path) -> Path:
        """The run-level file of the machine's ceilings, beside the run's records."""
        return Path(run_dir) / CEILINGS_FILE_NAME

    def read_ceilings(self, run_dir: Path) -> MachineCeilings | None:
        """The run's ceilings, or None when they were never measured; RecordError when the file is unusable."""
        from generator.safe_read import read_json

        path = self.ceilings_path(run_dir)
        if not os.path.lexists(path):
            return None
        return parse_ceilings(read_json(path), path)

    def write_ceilings(self, run_dir: Path, ceilings: MachineCeilings) -> Path:
        path = self.ceilings_path(run_dir)
        write_text_atomic(path, ceilings_to_json(ceilings))
        return path

    # ----------------------------------------------------------------- the folder itself

    def check_writable(self) -> None:
        """Raise OSError (with a message for people) unless records can be written under the root."""
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(self.root))
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".write-test-{os.getpid()}"
        try:
            probe.write_bytes(b"")
        finally:
            probe.unlink(missing_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's measure lock (StoreLocked when another run holds it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_FILE
        handle = open(path, "a+", encoding="utf-8")  # held for the whole with block
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise StoreLocked(
                    f"{self.root}: another 'measure' run (pid {holder}) is measuring into this folder; "
                    "wait for it to finish or measure into another --measurements folder"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.close()  # closing releases the lock
