"""Read and validate every record under a measurements folder.

Any unusable file stops the render with a RecordError naming the file and the
field: a site silently missing a model would misstate the comparison.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.render.order import model_key
from generator.schema import MachineCeilings, Record, RecordError, ceilings_mismatches, model_file_stem, safe_slug
from generator.store import ResultsStore

# Names the site's fixed pages and folders use where record-supplied names also
# go (models/<model>.md, hardware/<slug>.md, figures/<slug>/...): a model named
# 'index' must not replace the models index, nor a hardware slug 'compare' the
# comparison page. Compared case-insensitively (macOS and Windows file systems).
RESERVED_STEMS = frozenset(
    {"index", "compare", "charts", "assets", "data", "records", "figures", "models", "hardware", "methodology"}
)
# A record-supplied name ending like a file would make a folder that shadows a
# fixed page ('figures/index.md/' beside 'figures/index.md').
_FILE_SUFFIXES = (".md", ".json", ".svg", ".csv", ".js", ".html", ".htm", ".yml", ".yaml")


def site_stem(name: str) -> str:
    """The site's file or folder name for a record-supplied name: safe, length-capped, never a fixed page's.

    A reserved or file-like name keeps its text and gains a short hash of it, so
    it stays recognisable and cannot collide with another record's name.
    """
    slug = safe_slug(name)
    lowered = slug.lower()
    if lowered in RESERVED_STEMS or lowered.endswith(_FILE_SUFFIXES):
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = safe_slug(f"{slug}-{digest}")
    return slug


def model_stem(model_name: str) -> str:
    """Stem of a model's page, chart and record copy in the site."""
    return site_stem(model_file_stem(model_name))


@dataclass(frozen=True)
class LoadedRecord:
    record: Record
    source: Path  # the file it came from, for messages
    # Where the copy of the record lives in the site, relative to the site root:
    # rebuilt from sanitised record fields, never from the file name on disk.
    site_path: PurePosixPath
    # The machine's ceilings of the run folder the record sits in (its machine.json), None: not measured.
    ceilings: MachineCeilings | None = None

    @property
    def run_key(self) -> tuple[str, str]:
        return run_key(self.record)


def _check_ceilings_match(ceilings: MachineCeilings, record: Record, path: Path) -> None:
    """A run folder's ceilings must be of the machine, device and precision its records were measured on."""
    mismatches = ceilings_mismatches(ceilings, record)
    if mismatches:
        field, theirs, ours = mismatches[0]
        raise RecordError(
            path,
            f"{theirs!r} but the records of this run folder say {ours!r} "
            "(measure the ceilings again with 'python -m generator ceilings --force')",
            field,
        )


def run_key(record: Record) -> tuple[str, str]:
    """(hardware slug, configuration slug): one 'run' of the study on one machine, as site names."""
    return (site_stem(record.hardware.slug), site_stem(record.config.slug))


def load_records(measurements_dir: Path) -> list[LoadedRecord]:
    """Every ``*.json`` under ``measurements_dir`` (recursively), validated, in a stable order.

    A missing folder means no records (a fresh clone before measuring), not an
    error; the render refuses to replace a non-empty site with an empty one.
    Links and special files inside the folder are refused (``safe_read``).
    """
    loaded: list[LoadedRecord] = []
    seen: dict[PurePosixPath, Path] = {}
    stems: dict[str, tuple[str, Path]] = {}  # page file stem -> (model name, first file)
    hardware: dict[str, tuple[str, Path]] = {}  # site hardware name -> (hardware slug, first file)
    # The store finds and reads every record (strictly, as untrusted input) and
    # refuses a run folder whose records describe different machines or software.
    store = ResultsStore(measurements_dir)
    ceilings_of: dict[Path, MachineCeilings | None] = {}
    for stored in store.load_all():
        path, record = stored.path, stored.record
        if path.parent not in ceilings_of:
            ceilings_of[path.parent] = store.read_ceilings(path.parent)
        ceilings = ceilings_of[path.parent]
        if ceilings is not None:
            _check_ceilings_match(ceilings, record, store.ceilings_path(path.parent))
        # A machine and configuration measured under several software stacks keeps a copy per stack.
        stack = () if stored.software is None else (site_stem(stored.software),)
        site_path = PurePosixPath("data", "records", *run_key(record), *stack, f"{model_stem(record.model.name)}.json")
        if site_path in seen:
            # Two files claiming the same hardware, configuration and model: which
            # one the site shows would depend on file order, so refuse.
            raise RecordError(
                path,
                f"same hardware, configuration and model ({record.model.name!r}) as {seen[site_path]}",
                "model.name",
            )
        seen[site_path] = path
        stem = model_stem(record.model.name)
        other_name, other_path = stems.setdefault(stem, (record.model.name, path))
        if other_name != record.model.name:
            # Both would get the page models/<stem>.md: one would silently hide the other.
            raise RecordError(
                path,
                f"{record.model.name!r} and {other_name!r} ({other_path}) share the page name {stem!r}",
                "model.name",
            )
        hardware_stem = run_key(record)[0]
        other_slug, other_path = hardware.setdefault(hardware_stem, (record.hardware.slug, path))
        if other_slug != record.hardware.slug:
            # Two machines would be drawn as one run on one page.
            raise RecordError(
                path,
                f"hardware slugs {record.hardware.slug!r} and {other_slug!r} ({other_path}) share the "
                f"page name {hardware_stem!r}",
                "hardware.slug",
            )
        loaded.append(LoadedRecord(record=record, source=path, site_path=site_path, ceilings=ceilings))
    loaded.sort(key=lambda item: (item.run_key, model_key(item.record)))  # resnet18 before resnet101
    return loaded
