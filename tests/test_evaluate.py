"""Measured accuracy: the counting core on a model with known answers, the folder layouts,
and the command end to end (a real torchvision model with saved random weights, bad input)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from generator import evaluate  # noqa: E402
from generator.cli import main  # noqa: E402
from generator.schema import (  # noqa: E402
    Accuracy,
    Config,
    Hardware,
    ModelInfo,
    PublishedAccuracy,
    Record,
    RunInfo,
    Software,
    load_record,
    record_to_json,
)

LEVELS = 10  # classes of the toy problem: the grey level of an image picks its class


class GreyLevel(nn.Module):
    """Logit of class c = -|9 * mean intensity - c|: a known function of the image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        level = x.mean(dim=(1, 2, 3)) * (LEVELS - 1)
        classes = torch.arange(LEVELS, dtype=x.dtype)
        return -(level.view(-1, 1) - classes.view(1, -1)).abs()


def _grey(path: Path, level: float, size: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = round(level / (LEVELS - 1) * 255)
    Image.new("RGB", (size, size), (value, value, value)).save(path)


@pytest.fixture
def grey_folder(tmp_path: Path) -> Path:
    """ImageFolder of 10 classes: one right image each, plus two wrong ones in class 0:
    level 1.4 (top-1 says 1, but 0 is in the top 5) and level 9 (0 is far from the top 5)."""
    root = tmp_path / "grey"
    for label in range(LEVELS):
        _grey(root / f"c{label}" / "right.png", label)
    _grey(root / "c0" / "near.png", 1.4)
    _grey(root / "c0" / "far.png", 9)
    return root


def test_evaluate_model_counts_top1_and_top5(grey_folder: Path) -> None:
    from torchvision import transforms

    samples = evaluate.find_samples(grey_folder, num_classes=LEVELS)
    assert len(samples) == LEVELS + 2
    loader = evaluate.image_loader(samples, transforms.ToTensor(), batch_size=5, workers=0)
    seen: list[int] = []
    top1, top5, count = evaluate.evaluate_model(GreyLevel(), loader, progress=seen.append)
    assert count == 12 and sum(seen) == 12
    assert top1 == pytest.approx(100 * 10 / 12)
    assert top5 == pytest.approx(100 * 11 / 12)


def test_evaluate_model_with_fewer_than_five_classes() -> None:
    images = torch.zeros(4, 3, 2, 2)
    labels = torch.tensor([0, 1, 2, 0])
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    top1, top5, count = evaluate.evaluate_model(model, [(images, labels)])
    assert count == 4 and top5 == 100.0


def test_wrong_number_of_classes_names_the_folder(grey_folder: Path) -> None:
    with pytest.raises(evaluate.CliError, match=r"grey: 10 class folders, expected 1000"):
        evaluate.find_samples(grey_folder)


def test_flat_layout_and_its_errors(tmp_path: Path) -> None:
    _grey(tmp_path / "a.png", 1)
    _grey(tmp_path / "b.png", 2)
    (tmp_path / "val.txt").write_text("a.png 1\nb.png 999\n")
    samples = evaluate.find_samples(tmp_path)
    assert [(s.path.name, s.label) for s in samples] == [("a.png", 1), ("b.png", 999)]
    (tmp_path / "val.txt").write_text("a.png 1\nb.png 1000\n")
    with pytest.raises(evaluate.CliError, match=r"val\.txt: line 2: class index 1000 outside 0-999"):
        evaluate.find_samples(tmp_path)
    (tmp_path / "val.txt").write_text("missing.png 3\n")
    with pytest.raises(evaluate.CliError, match=r"line 1: image .*missing\.png does not exist"):
        evaluate.find_samples(tmp_path)


def test_spread_takes_every_part_of_the_set() -> None:
    samples = [evaluate.Sample(Path(f"{i}.png"), i // 10) for i in range(100)]
    picked = evaluate.spread(samples, 10)
    assert [s.label for s in picked] == list(range(10))
    assert evaluate.spread(samples, None) == samples


# --------------------------------------------------------------------------- end to end

MODEL = "squeezenet1_1"  # a small torchvision model of the 'all' preset
WEIGHTS_FILE = "squeezenet1_1-b8a52dc0.pth"  # the name torchvision downloads it as


def _record(name: str = MODEL) -> Record:
    return Record(
        model=ModelInfo(
            name=name, family="squeezenet", source="torchvision", builder=f"torchvision.models.{name}",
            weights="SqueezeNet1_1_Weights.IMAGENET1K_V1", input_size_px=224, architecture_source="test",
        ),
        accuracy=Accuracy(published=PublishedAccuracy(top1_percent=58.178, top5_percent=80.624, source="test")),
        config=Config(device="cpu", threads=1, tf32=False, cudnn_benchmark=False),
        hardware=Hardware(slug="test-cpu", name="test", cpu_model=None, cpu_logical_cores=None, ram_bytes=None),
        software=Software(python="3", torch=None, torchvision=None, fvcore=None, platform="test"),
        run=RunInfo(date="2026-01-01T00:00:00+00:00", git_commit=None, command="test"),
        status="ok",
        parameters=None,
        operations=None,
        batches=[],
    )


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    """A flat validation set of 6 noise images, random squeezenet1_1 weights, one record.

    The labels are chosen from the model's own ranking so the answer is known: images 0-1
    are labelled with the top class, image 2 with the third (a top-5 hit only), images 3-5
    with the last-ranked class: top-1 2/6, top-5 3/6.
    """
    from torchvision.models import SqueezeNet1_1_Weights, squeezenet1_1

    torch.manual_seed(0)
    model = squeezenet1_1(weights=None).eval()
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save(model.state_dict(), weights / WEIGHTS_FILE)
    transform = SqueezeNet1_1_Weights.IMAGENET1K_V1.transforms()
    val = tmp_path / "val"
    val.mkdir()
    lines = []
    for index in range(6):
        noise = (torch.rand(40, 48, 3) * 255).to(torch.uint8).numpy()
        Image.fromarray(noise).save(val / f"img{index}.png")
        with torch.no_grad():
            ranking = model(transform(Image.open(val / f"img{index}.png").convert("RGB")).unsqueeze(0))[0].argsort(
                descending=True
            )
        rank = 0 if index < 2 else 2 if index == 2 else 999
        lines.append(f"img{index}.png {int(ranking[rank])}")
    (val / "val.txt").write_text("\n".join(lines) + "\n")
    measurements = tmp_path / "measurements"
    record_path = measurements / "test-cpu" / "fp32" / f"{MODEL}.json"
    record_path.parent.mkdir(parents=True)
    record_path.write_text(record_to_json(_record()))
    return {"val": val, "weights": weights, "measurements": measurements, "record": record_path}


def _cli(setup: dict[str, Path], *extra: str, models: tuple[str, ...] = (MODEL,)) -> int:
    args = ["evaluate", "--imagenet-val", str(setup["val"]), "--weights-dir", str(setup["weights"]),
            "--measurements", str(setup["measurements"]), "--workers", "0", "--batch-size", "4", "--no-progress"]
    if models:
        args += ["--models", *models]
    return main([*args, *extra])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_end_to_end_writes_measured_accuracy_and_resumes(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(setup) == 0
    record = load_record(setup["record"])
    measured = record.accuracy.measured
    assert measured is not None
    assert measured.images == 6
    assert measured.weights_file == WEIGHTS_FILE
    assert measured.dataset_dir == str(setup["val"])
    assert measured.top1_percent == pytest.approx(100 * 2 / 6, abs=1e-3)
    assert measured.top5_percent == pytest.approx(100 * 3 / 6, abs=1e-3)
    # Six images are not the validation set: the run says the report will not use them.
    assert "6 of 50,000 validation images" in capsys.readouterr().err
    # Everything else of the record is untouched.
    assert record.accuracy.published == _record().accuracy.published
    assert record.model == _record().model
    # A second run skips the model; --force redoes it.
    before = _digest(setup["record"])
    assert _cli(setup) == 0
    assert "skipped" in capsys.readouterr().err
    assert _digest(setup["record"]) == before
    assert _cli(setup, "--force") == 0
    assert load_record(setup["record"]).accuracy.measured.date >= measured.date


def test_default_selection_finds_models_by_weights_file(setup: dict[str, Path]) -> None:
    assert _cli(setup, models=()) == 0
    assert load_record(setup["record"]).accuracy.measured is not None


def test_mismatched_weights_file_is_refused_and_nothing_written(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from torchvision.models import squeezenet1_0

    torch.save(squeezenet1_0(weights=None).state_dict(), setup["weights"] / WEIGHTS_FILE)
    before = _digest(setup["record"])
    assert _cli(setup) == 2
    err = capsys.readouterr().err
    assert WEIGHTS_FILE in err and "does not match the architecture of squeezenet1_1" in err
    assert "Traceback" not in err
    assert _digest(setup["record"]) == before


def test_garbage_weights_file_is_refused(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    (setup["weights"] / WEIGHTS_FILE).write_bytes(b"not a checkpoint")
    assert _cli(setup) == 2
    assert "cannot be read as a weights file" in capsys.readouterr().err


def test_model_without_record_says_measure_it_first(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    setup["record"].unlink()
    assert _cli(setup) == 2
    err = capsys.readouterr().err
    assert "measure it first" in err and MODEL in err
    assert not any(setup["measurements"].rglob("*.json"))


def test_named_model_without_weights_file_is_an_error(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(setup, models=("bn_nin",)) == 2
    err = capsys.readouterr().err
    assert "bn_nin: no weights file" in err and "bn_nin.pth" in err


def test_missing_folder_is_named(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    setup["val"] = setup["val"].parent / "nowhere"
    before = _digest(setup["record"])
    assert _cli(setup) == 2
    assert "nowhere: no such folder (--imagenet-val)" in capsys.readouterr().err
    assert _digest(setup["record"]) == before


def test_wrong_number_of_classes_exits_2(setup: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "three"
    for label in range(3):
        _grey(folder / f"n{label:08d}" / "x.png", 1)
    setup["val"] = folder
    assert _cli(setup) == 2
    assert "3 class folders, expected 1000" in capsys.readouterr().err


def test_undecodable_image_is_named(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    (setup["val"] / "img3.png").write_bytes(b"not an image")
    before = _digest(setup["record"])
    assert _cli(setup) == 2
    err = capsys.readouterr().err
    assert "img3.png: cannot be decoded" in err and "Traceback" not in err
    assert _digest(setup["record"]) == before


def test_weights_names_cover_torchvision_timm_and_ours() -> None:
    from generator import paper_models

    bn_nin = next(spec for spec in paper_models.specs() if spec.name == "bn_nin")
    assert evaluate.weights_file_names(bn_nin) == ["bn_nin.pth", "bn_nin.safetensors"]
    pytest.importorskip("timm")
    from generator import timm_source

    names = evaluate.weights_file_names(timm_source.timm_spec("inception_v4"))
    assert names[0] == "inception_v4.tf_in1k.pth" and "timm-inception_v4.pth" in names


def test_timm_model_end_to_end_from_safetensors(setup: dict[str, Path]) -> None:
    """A tiny timm model, its weights as <tag>.safetensors, timm's own preprocessing (160 px)."""
    pytest.importorskip("timm")
    from safetensors.torch import save_file

    from generator import timm_source

    spec = timm_source.timm_spec("test_vit")
    save_file(spec.build().state_dict(), str(setup["weights"] / f"{spec.weights}.safetensors"))
    record = _record(spec.name)
    record = record.model_copy(update={"model": record.model.model_copy(update={"source": "timm", "weights": spec.weights})})
    path = setup["measurements"] / "test-cpu" / "fp32" / "timm-test_vit.json"
    path.write_text(record_to_json(record))
    assert _cli(setup, models=(spec.name,)) == 0
    measured = load_record(path).accuracy.measured
    assert measured is not None and measured.images == 6
    assert measured.weights_file == "test_vit.r160_in1k.safetensors"


def test_preset_leaves_out_members_without_weights(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # 'squeezenet' is a family: bn_nin named alone would be an error, members without weights are not.
    assert _cli(setup, models=("squeezenet",)) == 0
    assert load_record(setup["record"]).accuracy.measured is not None
    assert _cli(setup, models=("quick",), ) == 0  # squeezenet1_1 skipped (done), the others lack weights
    assert "skipped" in capsys.readouterr().err


def test_complete_imagefolder_wins_over_a_stray_val_txt(grey_folder: Path) -> None:
    (grey_folder / "val.txt").write_text("not/there.png 1\n")
    samples = evaluate.find_samples(grey_folder, num_classes=LEVELS)
    assert len(samples) == LEVELS + 2


def test_torchvision_file_with_aux_classifiers_loads_into_eval_build(tmp_path: Path) -> None:
    """torchvision's googlenet file keeps aux1/aux2, which the registry's eval build sets to None."""
    registry = pytest.importorskip("generator.registry")
    from torchvision.models import googlenet

    spec = registry.resolve(["googlenet"])[0]
    path = tmp_path / evaluate.weights_file_names(spec)[0]
    torch.save(googlenet(weights=None, aux_logits=True, init_weights=False).state_dict(), path)
    evaluate.load_weights(spec.build(), spec, path)
    # A key the model has no place for at all is still refused.
    state = torch.load(path, weights_only=True)
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(evaluate.CliError, match="does not match the architecture of googlenet"):
        evaluate.load_weights(spec.build(), spec, path)
