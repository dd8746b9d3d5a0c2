"""The registry: coverage of torchvision, presets, building at the published size, and bad names."""

from __future__ import annotations

import json

import pytest

from generator import registry
from generator.cli import main
from generator.counting import count_parameters
from generator.errors import CliError


def test_every_torchvision_builder_and_weights_entry() -> None:
    import torchvision
    from torchvision.models import get_model_weights, list_models

    specs = registry.torchvision_specs()
    builders = list_models(module=torchvision.models)
    entries = sum(len(list(get_model_weights(name))) for name in builders)
    defaults = [s for s in specs if s.is_default_weights]
    assert len(builders) == 80 and len(defaults) == 80
    assert entries == 115 and len(specs) == 115
    assert len({s.name for s in specs}) == 115
    assert {s.name for s in defaults} == set(builders)


def test_entries_carry_the_weights_metadata() -> None:
    by_name = {s.name: s for s in registry.torchvision_specs()}
    resnet50 = by_name["resnet50"]
    assert resnet50.weights == "ResNet50_Weights.IMAGENET1K_V2"
    assert resnet50.published_accuracy is not None
    assert resnet50.published_accuracy.top1_percent == pytest.approx(80.858)
    assert "IMAGENET1K_V2" in resnet50.published_accuracy.source
    assert resnet50.published_gmacs == pytest.approx(4.089)
    assert resnet50.checkpoint_bytes == pytest.approx(97.79 * 2**20, rel=1e-6)  # '_file_size' is MiB
    assert resnet50.study_name == "ResNet-50" and resnet50.family == "resnet"
    old = by_name["resnet50.IMAGENET1K_V1"]
    assert not old.is_default_weights and old.published_accuracy.top1_percent == pytest.approx(76.13)
    # Resolution comes from each weights entry's own transforms.
    assert by_name["inception_v3"].input_size_px == 299
    assert by_name["vit_h_14"].input_size_px == 518
    assert by_name["efficientnet_b7"].input_size_px == 600
    assert by_name["vit_b_16.IMAGENET1K_SWAG_E2E_V1"].input_size_px == 384


@pytest.mark.parametrize(
    "name", ["squeezenet1_1", "googlenet", "inception_v3", "vit_b_16.IMAGENET1K_SWAG_E2E_V1", "maxvit_t"]
)
def test_built_model_has_the_published_parameter_count(name: str) -> None:
    spec = registry.spec_by_name(name)
    assert count_parameters(spec.build()) == spec.published_num_params


def test_presets_families_and_mixing() -> None:
    assert [s.name for s in registry.resolve(["quick"])] == list(registry.QUICK)
    assert {s.name for s in registry.resolve(["resnet"])} == {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"}
    mixed = [s.name for s in registry.resolve(["quick", "vgg16", "squeezenet1_1"])]
    assert mixed == [*registry.QUICK, "vgg16"]  # in order, no duplicates
    everything = registry.resolve(["all"])
    assert len([s for s in everything if s.source == "torchvision"]) == 80
    assert len(registry.resolve(["all"], all_weights=True)) >= 115
    assert len(registry.resolve(["resnet50"], all_weights=True)) == 2


def test_explicit_weights_names() -> None:
    assert registry.spec_by_name("resnet50.IMAGENET1K_V1").input_size_px == 224
    # Naming the default weights gives the default entry.
    assert [s.name for s in registry.resolve(["resnet50.IMAGENET1K_V2"])] == ["resnet50"]


def test_paper_preset_has_the_study_networks(capsys: pytest.CaptureFixture[str]) -> None:
    specs = registry.resolve(["paper"])
    names = {s.name for s in specs}
    assert set(registry.STUDY_NAMES) <= names
    assert all(s.study_name for s in specs)
    if "timm:inception_v4" not in names:
        # Without timm the preset says, in one line, what it leaves out.
        err = capsys.readouterr().err
        assert "Inception-v4" in err and len(err.strip().splitlines()) == 1


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(CliError) as raised:
        registry.resolve(["resnt50"])
    assert raised.value.exit_code == 2
    assert "'resnet50'" in str(raised.value)


def test_cli_unknown_model_exits_2_with_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "vgg161"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model selector 'vgg161'") and "'vgg16'" in err
    assert "Traceback" not in err


def test_cli_models_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "quick", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(registry.QUICK)
    assert rows[1]["top1_percent"] == pytest.approx(58.178)
    assert main(["models", "resnet18", "inception_v3"]) == 0
    table = capsys.readouterr().out
    assert "resnet18" in table and "299" in table and "GMACs" in table


def test_cli_models_count_builds_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "squeezenet1_1", "--count", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["counted"] is True
    assert row["params_millions"] * 1e6 == pytest.approx(1235496)
    assert row["gmacs"] == pytest.approx(0.349, rel=0.01)


@pytest.mark.slow
def test_all_80_builders_count_within_one_percent_of_metadata() -> None:
    from generator.counting import count_spec

    for spec in registry.torchvision_specs():
        if not spec.is_default_weights:
            continue
        counted = count_spec(spec)
        assert counted.parameters == spec.published_num_params, spec.name
        # meta['_ops'] is rounded to 0.001 GMACs, which alone is > 1% for the smallest models.
        tolerance = max(0.01 * spec.published_gmacs, 0.0005)
        assert abs(counted.gmacs_conv_linear_matmul - spec.published_gmacs) <= tolerance, spec.name


def test_models_preset_paper_lists_all_14_with_parameters_and_operations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["models", "--preset", "paper", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert len(rows) == 14
    for name, row in rows.items():
        assert row["params_millions"] and row["gmacs"], name
    # Nothing is published for the hand-written networks: their figures are counted, and say so.
    assert rows["enet"]["counted"] is True
    assert 0.5 < rows["enet"]["params_millions"] < 0.55
    assert rows["resnet50"].get("counted") is not True
    assert rows["resnet50"]["gmacs"] == pytest.approx(4.089)
