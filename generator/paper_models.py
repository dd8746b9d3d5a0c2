"""The study's networks that no maintained library ships: BN-AlexNet, BN-NIN, ENet.

STUB: filled in by the study line-up work (issue 4). Interface used by the registry:
"""

from __future__ import annotations

from generator.model_spec import ModelSpec


def specs() -> list[ModelSpec]:
    """Registry entries for the hand-written study networks (names 'bn_alexnet', 'bn_nin', 'enet')."""
    return []
