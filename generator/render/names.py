"""The one rule for what a model is called on the site."""

from __future__ import annotations

from generator.schema import Record


def label(record: Record) -> str:
    """The study's name for one of its 14 networks (e.g. 'ResNet-50'), else the registry name."""
    return record.model.study_name or record.model.name
