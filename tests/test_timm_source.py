"""timm as an optional source: results CSV parsing, timm:<name> entries, the timm-missing path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from generator import timm_source
from generator.errors import CliError

REPO = Path(__file__).resolve().parent.parent


def test_parse_number_handles_thousands_separator() -> None:
    assert timm_source.parse_number("1,014.45") == pytest.approx(1014.45)
    assert timm_source.parse_number("42.68") == pytest.approx(42.68)


def test_read_results_parses_quoted_values(tmp_path: Path) -> None:
    csv_file = tmp_path / "results.csv"
    csv_file.write_text(
        "model,img_size,top1,top1_err,top5,top5_err,param_count,crop_pct,interpolation\n"
        'eva_giant_patch14_560.m30m_ft_in22k_in1k,560,89.790,10.210,98.990,1.010,"1,014.45",1.000,bicubic\n'
        "inception_v4.tf_in1k,299,80.144,19.856,94.982,5.018,42.68,0.875,bicubic\n"
    )
    rows = timm_source.read_results(csv_file)
    assert [row.model for row in rows] == ["eva_giant_patch14_560.m30m_ft_in22k_in1k", "inception_v4.tf_in1k"]
    assert rows[0].param_count_millions == pytest.approx(1014.45)
    assert rows[0].img_size == 560
    assert rows[1].top1_percent == pytest.approx(80.144)
    assert rows[1].top5_percent == pytest.approx(94.982)


def test_read_results_names_file_and_line_of_a_bad_row(tmp_path: Path) -> None:
    csv_file = tmp_path / "results.csv"
    csv_file.write_text("model,img_size,top1,top5,param_count\nx.y,abc,1,2,3\n")
    with pytest.raises(CliError, match=r"results\.csv: line 2"):
        timm_source.read_results(csv_file)


def test_shipped_csv_is_complete_and_has_the_separator_rows() -> None:
    rows = timm_source.read_results()
    assert len(rows) == 1556
    big = [row for row in rows if row.param_count_millions and row.param_count_millions > 1000]
    assert big, "the rows quoted with a thousands separator must parse as > 1000 M"
    readme = (timm_source.RESULTS_CSV.parent / "README.md").read_text()
    assert "Apache-2.0" in readme and "pytorch-image-models" in readme


def test_published_accuracy_matches_tag_and_resolution() -> None:
    accuracy = timm_source.published_accuracy("inception_v4.tf_in1k", 299)
    assert accuracy is not None
    assert accuracy.top1_percent == pytest.approx(80.144)
    assert "results-imagenet.csv" in accuracy.source
    # Same tag at another resolution is a different measurement: no match.
    assert timm_source.published_accuracy("inception_v4.tf_in1k", 224) is None
    assert timm_source.published_accuracy(None, 224) is None


@pytest.mark.parametrize(
    ("architecture", "family"),
    [("inception_v4", "inception"), ("resnet50d", "resnet"), ("vit_base_patch16_224", "vit"),
     ("tf_efficientnet_b0", "efficientnet"), ("mobilenetv3_large_100", "mobilenet"), ("levit_128", "levit")],
)
def test_family_of(architecture: str, family: str) -> None:
    assert timm_source.family_of(architecture) == family


def test_inception_v4_spec() -> None:
    pytest.importorskip("timm")
    spec = timm_source.timm_spec("inception_v4")
    assert spec.name == "timm:inception_v4"
    assert spec.family == "inception"
    assert spec.source == "timm"
    assert spec.study_name == "Inception-v4"
    assert spec.input_size_px == 299
    assert spec.weights == "inception_v4.tf_in1k"
    assert spec.published_accuracy is not None and spec.published_accuracy.top1_percent == pytest.approx(80.144)
    assert "1602.07261" in spec.architecture_source
    assert spec.published_num_params == 42_680_000
    spec.model_info()  # valid against the record schema
    # Naming the default tag gives the same entry.
    assert timm_source.timm_spec("inception_v4.tf_in1k").name == "timm:inception_v4"


def test_inception_v4_builds_with_random_weights_and_published_size() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("timm")
    model = timm_source.timm_spec("inception_v4").build().eval()
    count = sum(parameter.numel() for parameter in model.parameters())
    assert abs(count - 42_680_000) / 42_680_000 < 0.001
    with torch.no_grad():
        assert tuple(model(torch.zeros(1, 3, 299, 299)).shape) == (1, 1000)


def test_non_default_tag_keeps_its_name() -> None:
    pytest.importorskip("timm")
    spec = timm_source.timm_spec("resnet50.tv_in1k")
    assert spec.name == "timm:resnet50.tv_in1k"
    assert spec.weights == "resnet50.tv_in1k"
    assert spec.is_default_weights is False
    assert spec.published_accuracy is not None


@pytest.mark.parametrize(("name", "message"), [("resnt50", "did you mean timm:resnet50"),
                                               ("inception_v4.nope", "tags: tf_in1k"), ("", "needs a model name")])
def test_bad_names_are_clear_errors(name: str, message: str) -> None:
    pytest.importorskip("timm")
    with pytest.raises(CliError, match=message):
        timm_source.timm_spec(name)


def test_family_selector_is_bounded_by_the_csv() -> None:
    pytest.importorskip("timm")
    specs = timm_source.family_specs()
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names))
    assert 0 < len(specs) <= 900  # one per architecture in the CSV
    assert "timm:inception_v4" in names
    assert all(spec.source == "timm" and spec.is_default_weights for spec in specs)


_BLOCK_TIMM = textwrap.dedent(
    """
    import sys
    sys.modules["timm"] = None  # any 'import timm' now raises ImportError
    from generator.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _run_without_timm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK_TIMM, *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_without_timm_a_timm_name_exits_2_with_install_hint() -> None:
    try:
        import generator.registry  # noqa: F401
    except ImportError:
        pytest.skip("registry not there yet")
    result = _run_without_timm("models", "timm:inception_v4")
    assert result.returncode == 2, result.stderr
    assert "pip install .[timm]" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_timm_the_module_imports_and_raises_cli_error() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["timm"] = None
        from generator import timm_source
        from generator.errors import CliError
        try:
            timm_source.timm_spec("inception_v4")
        except CliError as error:
            print(error, error.exit_code)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "pip install .[timm]" in result.stdout and result.stdout.strip().endswith("2")
