"""timm as an optional model source: 'timm:<name>' selectors.

STUB: filled in by the timm work (issue 4). Interface used by the registry:
"""

from __future__ import annotations

from generator.errors import CliError
from generator.model_spec import ModelSpec


def timm_spec(name: str) -> ModelSpec:
    """Registry entry for timm model ``name`` (without the 'timm:' prefix), random weights."""
    raise CliError(f"timm:{name}: timm support is not implemented yet")


def family_specs() -> list[ModelSpec]:
    """What the 'timm' family selector expands to."""
    raise CliError("the 'timm' selector is not implemented yet")
