"""What the registry knows about one model before building it (measure side only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from generator.schema import Accuracy, ModelInfo, ModelSource, PublishedAccuracy

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    name: str  # registry name: 'resnet50', 'resnet50.IMAGENET1K_V1', 'bn_alexnet', 'timm:inception_v4'
    family: str
    source: ModelSource
    builder: str  # fully qualified, e.g. 'torchvision.models.resnet50'
    build: Callable[[], nn.Module]  # random weights, eval mode not yet set; never downloads
    input_size_px: int
    weights: str | None  # weights entry whose metadata applies, e.g. 'ResNet50_Weights.IMAGENET1K_V2'
    architecture_source: str  # citation or URL
    study_name: str | None = None  # e.g. 'ResNet-50' if one of the study's 14 networks
    published_accuracy: PublishedAccuracy | None = None
    # The architecture's original training recipe when the weights above are a later
    # one (torchvision IMAGENET1K_V1 beside a V2 default): the study's figures use it.
    original_recipe_accuracy: PublishedAccuracy | None = None
    published_num_params: int | None = None  # weights meta['num_params'] or the paper's figure
    published_gmacs: float | None = None  # weights meta['_ops'] (GMACs of conv/linear/matmul)
    checkpoint_bytes: int | None = None
    is_default_weights: bool = True  # False for extra weights entries of the same builder

    def accuracy(self) -> Accuracy:
        """What a new record states about accuracy before any local evaluation."""
        return Accuracy(published=self.published_accuracy, original_recipe=self.original_recipe_accuracy)

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            name=self.name,
            family=self.family,
            source=self.source,
            builder=self.builder,
            weights=self.weights,
            input_size_px=self.input_size_px,
            architecture_source=self.architecture_source,
            study_name=self.study_name,
        )
