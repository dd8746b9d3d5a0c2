"""Read and validate every record under a measurements folder.

Any unusable file stops the render with a RecordError naming the file and the
field: a site silently missing a model would misstate the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.render.order import model_key
from generator.schema import Record, RecordError, model_file_stem
from generator.store import ResultsStore


@dataclass(frozen=True)
class LoadedRecord:
    record: Record
    source: Path  # the file it came from, for messages
    # Where the copy of the record lives in the site, relative to the site root:
    # rebuilt from sanitised record fields, never from the file name on disk.
    site_path: PurePosixPath
    # (machine, configuration): one 'run' of the study on one machine, from the
    # store (the configuration names the software too when a machine has
    # runs of several software stacks).
    run_key: tuple[str, str]


def load_records(measurements_dir: Path) -> list[LoadedRecord]:
    """Every ``*.json`` under ``measurements_dir`` (recursively), validated, in a stable order.

    A missing folder means no records (a fresh clone before measuring), not an error.
    """
    loaded: list[LoadedRecord] = []
    seen: dict[PurePosixPath, Path] = {}
    stems: dict[str, tuple[str, Path]] = {}  # page file stem -> (model name, first file)
    # The store finds and reads every record (strictly) and refuses a run folder
    # whose records describe different machines or software.
    for stored in ResultsStore(measurements_dir).load_all():
        path, record = stored.path, stored.record
        site_path = PurePosixPath(
            "data", "records", *stored.run_key, f"{model_file_stem(record.model.name)}.json"
        )
        if site_path in seen:
            # Two files claiming the same hardware, configuration and model: which
            # one the site shows would depend on file order, so refuse.
            raise RecordError(
                path,
                f"same hardware, configuration and model ({record.model.name!r}) as {seen[site_path]}",
                "model.name",
            )
        seen[site_path] = path
        stem = model_file_stem(record.model.name)
        other_name, other_path = stems.setdefault(stem, (record.model.name, path))
        if other_name != record.model.name:
            # Both would get the page models/<stem>.md: one would silently hide the other.
            raise RecordError(
                path, f"{record.model.name!r} and {other_name!r} ({other_path}) share the page name {stem!r}",
                "model.name",
            )
        loaded.append(LoadedRecord(record=record, source=path, site_path=site_path, run_key=stored.run_key))
    loaded.sort(key=lambda item: (item.run_key, model_key(item.record)))  # resnet18 before resnet101
    return loaded
