"""The order in which models are listed: natural, by the name a reader sees.

Plain string order puts resnet101 before resnet18 and the study's Inception-v4
(registry name 'timm-inception_v4') after ResNet-50. Lists are sorted by the
label shown (the study's name where there is one), case-insensitively, ignoring
separators, with runs of digits compared as numbers.
"""

from __future__ import annotations

import re

from generator.schema import Record

_DIGITS = re.compile(r"(\d+)")
# Separators differ between a study name and a registry name ('ResNet-50', 'resnet50',
# 'inception_v3'); they must not decide the order.
_SEPARATORS = re.compile(r"[\s\-_.]+")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """'resnet18' < 'resnet101'; text and number parts never compare with each other."""
    parts = _DIGITS.split(_SEPARATORS.sub("", text.casefold()))
    return tuple((1, int(part)) if part.isdigit() else (0, part) for part in parts if part)


def model_key(record: Record) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """Sort key of a record's model: its shown label, naturally; the registry name breaks ties."""
    return (natural_key(record.model.study_name or record.model.name), record.model.name)
