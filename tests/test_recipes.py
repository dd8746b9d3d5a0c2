"""The original training recipe: the registry carries it beside a later default, from the weights' own metadata."""

from __future__ import annotations

import pytest

from generator import registry, timm_source


@pytest.mark.parametrize("name", ["resnet50", "resnet101", "resnet152"])
def test_later_default_carries_the_original_recipe(name: str) -> None:
    from torchvision.models import get_model_weights

    weights = get_model_weights(name)
    v1 = weights.IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]
    spec = registry.spec_by_name(name)
    accuracy = spec.accuracy()
    # The default is the 2021 recipe; the study's figures need the original one beside it.
    assert weights.DEFAULT is not weights.IMAGENET1K_V1
    assert accuracy.published is not None and accuracy.published.weights == spec.weights
    original = accuracy.original_recipe
    assert original is not None
    assert original.weights == f"{type(weights.IMAGENET1K_V1).__name__}.IMAGENET1K_V1"
    assert (original.top1_percent, original.top5_percent) == (v1["acc@1"], v1["acc@5"])
    assert accuracy.published.top1_percent is not None and original.top1_percent is not None
    assert accuracy.published.top1_percent > original.top1_percent


@pytest.mark.parametrize("name", ["alexnet", "vgg19", "resnet18", "resnet50.IMAGENET1K_V1"])
def test_original_weights_carry_no_second_recipe(name: str) -> None:
    accuracy = registry.spec_by_name(name).accuracy()
    assert accuracy.published is not None and accuracy.published.weights is not None
    assert accuracy.published.weights.endswith("IMAGENET1K_V1")
    assert accuracy.original_recipe is None


def test_explicit_later_weights_also_carry_the_original() -> None:
    accuracy = registry.spec_by_name("resnet50.IMAGENET1K_V2").accuracy()
    assert accuracy.original_recipe is not None
    assert accuracy.original_recipe.weights == "ResNet50_Weights.IMAGENET1K_V1"


def test_timm_original_recipe_comes_from_the_shipped_csv() -> None:
    row = timm_source.results_index()[("inception_v4.tf_in1k", 299)]
    # timm's Inception-v4 default is the original release: no second recipe.
    assert timm_source.original_recipe_accuracy("inception_v4", "inception_v4.tf_in1k") is None
    # Any other weights of the architecture get the original's CSV row beside them.
    original = timm_source.original_recipe_accuracy("inception_v4", "inception_v4.some_later_recipe")
    assert original is not None and original.weights == "inception_v4.tf_in1k"
    assert (original.top1_percent, original.top5_percent) == (row.top1_percent, row.top5_percent)
    assert timm_source.original_recipe_accuracy("resnet50", "resnet50.a1_in1k") is None  # no known original


def test_timm_published_names_its_weights() -> None:
    pytest.importorskip("timm")
    spec = timm_source.timm_spec("inception_v4")
    assert spec.published_accuracy is not None and spec.published_accuracy.weights == "inception_v4.tf_in1k"
    assert spec.accuracy().original_recipe is None
