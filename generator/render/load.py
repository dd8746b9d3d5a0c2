"""Read and validate every record under a measurements folder.

Any unusable file stops the render with a RecordError naming the file and the
field: a site silently missing a model would misstate the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.render.order import model_key
from generator.schema import Record, RecordError, load_record, model_file_stem, safe_slug


@dataclass(frozen=True)
class LoadedRecord:
    record: Record
    source: Path  # the file it came from, for messages
    # Where the copy of the record lives in the site, relative to the site root:
    # rebuilt from sanitised record fields, never from the file name on disk.
    site_path: PurePosixPath

    @property
    def run_key(self) -> tuple[str, str]:
        return run_key(self.record)


def run_key(record: Record) -> tuple[str, str]:
    """(hardware slug, configuration slug): one 'run' of the study on one machine."""
    return (safe_slug(record.hardware.slug), safe_slug(record.config.slug))


def load_records(measurements_dir: Path) -> list[LoadedRecord]:
    """Every ``*.json`` under ``measurements_dir`` (recursively), validated, in a stable order.

    A missing folder means no records (a fresh clone before measuring), not an error.
    """
    if not measurements_dir.exists():
        return []
    if not measurements_dir.is_dir():
        raise RecordError(measurements_dir, "is not a folder")
    loaded: list[LoadedRecord] = []
    seen: dict[PurePosixPath, Path] = {}
    stems: dict[str, tuple[str, Path]] = {}  # page file stem -> (model name, first file)
    for path in sorted(measurements_dir.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(measurements_dir).parts):
            continue  # editor and atomic-write temporaries
        record = load_record(path)
        site_path = PurePosixPath(
            "data", "records", *run_key(record), f"{model_file_stem(record.model.name)}.json"
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
        loaded.append(LoadedRecord(record=record, source=path, site_path=site_path))
    loaded.sort(key=lambda item: (item.run_key, model_key(item.record)))  # resnet18 before resnet101
    return loaded
