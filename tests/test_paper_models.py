"""The hand-written study networks: shapes, exact counts, published counts, registry entries."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from generator import paper_models  # noqa: E402


def _num_params(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


@pytest.fixture(scope="module")
def built() -> dict[str, torch.nn.Module]:
    return {spec.name: spec.build().eval() for spec in paper_models.specs()}


def test_specs_are_the_three_study_networks() -> None:
    specs = {spec.name: spec for spec in paper_models.specs()}
    assert set(specs) == {"bn_alexnet", "bn_nin", "enet"}
    assert {spec.study_name for spec in specs.values()} == {"BN-AlexNet", "BN-NIN", "ENet"}
    assert {name: spec.family for name, spec in specs.items()} == {
        "bn_alexnet": "alexnet",
        "bn_nin": "nin",
        "enet": "enet",
    }
    for spec in specs.values():
        assert spec.source == "generator"
        assert spec.input_size_px == 224
        assert spec.builder == f"generator.paper_models.{spec.name}"
        assert spec.architecture_source
        info = spec.model_info()  # validates against the record schema
        assert info.architecture_source == spec.architecture_source


def test_published_accuracy_is_cited_and_none_where_unknown() -> None:
    specs = {spec.name: spec for spec in paper_models.specs()}
    assert specs["bn_alexnet"].published_accuracy is not None
    assert specs["bn_alexnet"].published_accuracy.top1_percent == 56.60
    assert "imagenet-validation.torch" in specs["bn_alexnet"].published_accuracy.source
    assert specs["bn_nin"].published_accuracy.top1_percent == 62.6
    assert "ninbn.lua" in specs["bn_nin"].published_accuracy.source
    enet = specs["enet"].published_accuracy
    assert enet is not None and enet.top1_percent is None and enet.top5_percent is None


@pytest.mark.parametrize("name", ["bn_alexnet", "bn_nin", "enet"])
def test_forward_shape_at_224(built: dict[str, torch.nn.Module], name: str) -> None:
    with torch.no_grad():
        out = built[name](torch.zeros(1, 3, 224, 224))
    assert tuple(out.shape) == (1, 1000)


@pytest.mark.parametrize("name", ["bn_alexnet", "bn_nin", "enet"])
def test_exact_parameter_counts(built: dict[str, torch.nn.Module], name: str) -> None:
    # Hand-summed from the layer lists of the source files (see paper_models).
    assert _num_params(built[name]) == paper_models.EXPECTED_NUM_PARAMS[name]


def test_bn_alexnet_within_2_percent_of_published_alexnet(built: dict[str, torch.nn.Module]) -> None:
    published, _source = paper_models.PUBLISHED_NUM_PARAMS["bn_alexnet"]
    ours = _num_params(built["bn_alexnet"])
    assert abs(ours - published) / published < 0.02
    # BatchNorm's affine parameters are exactly the difference.
    assert ours - published == 2 * (64 + 192 + 384 + 256 + 256 + 4096 + 4096)


def test_bn_alexnet_matches_torchvision_alexnet_layers() -> None:
    torchvision = pytest.importorskip("torchvision")
    plain = torchvision.models.alexnet(weights=None)
    published, _ = paper_models.PUBLISHED_NUM_PARAMS["bn_alexnet"]
    assert _num_params(plain) == published


def test_enet_blocks_match_published_segmentation_count() -> None:
    published, source = paper_models.PUBLISHED_NUM_PARAMS["enet_segmentation"]
    ours = _num_params(paper_models.enet_segmentation_layers())
    assert "1606.02147" in source
    assert abs(ours - published) / published < 0.02


def test_enet_downsamples_to_7x7_before_pooling() -> None:
    model = paper_models.ENet().eval()
    with torch.no_grad():
        feature_map = torch.nn.Sequential(*list(model.features)[:-2])(torch.zeros(1, 3, 224, 224))
    assert tuple(feature_map.shape) == (1, 128, 7, 7)


def test_paper_preset_holds_all_14_study_networks() -> None:
    registry = pytest.importorskip("generator.registry")
    specs = registry.resolve(["paper"])
    assert len(specs) == 14
    assert {"BN-AlexNet", "BN-NIN", "ENet", "Inception-v4"} <= {spec.study_name for spec in specs}
    by_name = {spec.name: spec for spec in specs}
    assert by_name["timm:inception_v4"].published_accuracy.top1_percent == pytest.approx(80.144)
