"""The results store: the one owner of the measurements folder's layout.

Finding, reading (through generator.schema), writing (atomically) and updating
records all happen here; measure, evaluate and render go through it.
"""

from __future__ import annotations

from pathlib import Path

from generator.schema import Record, model_file_stem, safe_slug


def relative_path(record: Record) -> Path:
    """Where ``record`` lives under the measurements folder."""
    stem = model_file_stem(record.model.name)
    return Path(safe_slug(record.hardware.slug)) / safe_slug(record.config.slug) / f"{stem}.json"
