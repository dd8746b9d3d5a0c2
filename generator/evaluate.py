"""Measured accuracy: top-1 and top-5 on a local ImageNet validation set.

``python -m generator evaluate --imagenet-val DIR --weights-dir DIR [--models ...]``

Validation folder, one of two layouts (class index = position of the WordNet ID
in sorted order, the index torchvision, timm and Caffe use):

- ImageFolder: exactly 1000 sub-folders named by WordNet ID (``n01440764/``...),
  images inside (what the usual ``valprep.sh`` script produces);
- flat: the 50,000 images in one folder beside ``val.txt``, one line per image,
  ``<file name> <class index 0-999>`` (Caffe's ``ilsvrc12`` auxiliary data ships
  this file: ``ILSVRC2012_val_00000001.JPEG 65``). With a ``val.txt`` the folder is
  read as flat unless it also holds exactly 1000 class folders.

Weights are read from local files only, the first that exists of:
``<weights-dir>/<file name torchvision downloads>`` (the basename of
``weights.url``, e.g. ``resnet50-11ad3fa6.pth``), for timm models
``<weights-dir>/<pretrained tag>.pth|.safetensors`` (``inception_v4.tf_in1k.pth``),
and for any model ``<weights-dir>/<record file stem>.pth|.safetensors``
(``bn_alexnet.pth``, ``timm-inception_v4.pth``). A file must hold a state dict
(optionally under 'state_dict' or 'model') that loads strictly.

Each model is evaluated with its own weights' preprocessing: torchvision
``weights.transforms()``, timm ``resolve_data_config`` + ``create_transform``,
the study networks written here the standard ImageNet one (resize 256, centre
crop 224, ImageNet mean and standard deviation).

The result goes into ``accuracy.measured`` of every record of the model under
``--measurements`` (each rewritten atomically). Everything that can be checked
before evaluating is checked first, so bad input writes nothing: a model with no
record yet is an error ("measure it first"), as are a missing weights file for a
named model, a weights file that does not fit, or a wrong validation folder.
A model named on its own needs a weights file; members of a preset or family
(``--models paper``) that have none are left out.
A model whose records all hold a measured accuracy from the same weights file on
the same number of images is skipped unless ``--force``: an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import CliError
from generator.model_spec import ModelSpec
from generator.schema import IMAGENET_VAL_IMAGES, MeasuredAccuracy, Record, model_file_stem
from generator.store import ResultsStore

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.data import DataLoader

NUM_CLASSES = 1000
FLAT_LABELS_FILE = "val.txt"
IMAGE_EXTENSIONS = frozenset({".jpeg", ".jpg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff"})
WEIGHTS_SUFFIXES = (".pth", ".safetensors")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


# --------------------------------------------------------------------------- the validation set


def _flat_samples(root: Path, labels_file: Path, num_classes: int) -> list[Sample]:
    samples: list[Sample] = []
    try:
        lines = labels_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{labels_file}: cannot be read: {error}") from None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.rsplit(maxsplit=1)
        where = f"{labels_file}: line {number}"
        if len(parts) != 2:
            raise CliError(f"{where}: expected '<image file> <class index>', got {text!r}")
        name, label_text = parts
        try:
            label = int(label_text)
        except ValueError:
            raise CliError(f"{where}: class index {label_text!r} is not an integer") from None
        if not 0 <= label < num_classes:
            raise CliError(f"{where}: class index {label} outside 0-{num_classes - 1}")
        path = root / name
        if not path.is_file():
            raise CliError(f"{where}: image {path} does not exist")
        samples.append(Sample(path, label))
    if not samples:
        raise CliError(f"{labels_file}: lists no images")
    return samples


def _image_files(folder: Path) -> list[Path]:
    found = [
        Path(directory) / name
        for directory, _dirs, names in os.walk(folder, followlinks=True)
        for name in names
        if Path(name).suffix.lower() in IMAGE_EXTENSIONS
    ]
    return sorted(found)


def find_samples(root: Path, num_classes: int = NUM_CLASSES) -> list[Sample]:
    """Every (image, class index) of the validation folder, in a stable order; CliError if unusable."""
    if not root.is_dir():
        raise CliError(f"{root}: no such folder (--imagenet-val)")
    labels_file = root / FLAT_LABELS_FILE
    class_dirs = sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith("."))
    # A complete ImageFolder wins over a stray val.txt beside it; otherwise val.txt means flat.
    if labels_file.is_file() and len(class_dirs) != num_classes:
        return _flat_samples(root, labels_file, num_classes)
    if not class_dirs:
        raise CliError(
            f"{root}: neither an ImageFolder (one sub-folder per class) nor a flat folder with {FLAT_LABELS_FILE} "
            "('<image file> <class index>' per line)"
        )
    if len(class_dirs) != num_classes:
        raise CliError(
            f"{root}: {len(class_dirs)} class folders, expected {num_classes} (one per ImageNet class, "
            "named by WordNet ID, e.g. n01440764)"
        )
    samples = [Sample(path, label) for label, folder in enumerate(class_dirs) for path in _image_files(folder)]
    if not samples:
        raise CliError(f"{root}: the class folders hold no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return samples


def spread(samples: Sequence[Sample], limit: int | None) -> list[Sample]:
    """``limit`` samples spread evenly over the set (deterministic), so a quick run sees every class
    of a class-sorted folder rather than the first few."""
    if limit is None or limit >= len(samples):
        return list(samples)
    return [samples[index * len(samples) // limit] for index in range(limit)]


class BadImage(ValueError):
    """An image file that cannot be decoded; the message starts with its path."""


def _dataset(samples: Sequence[Sample], transform: Callable[[Any], torch.Tensor]) -> Any:
    from PIL import Image
    from torch.utils.data import Dataset

    class _Images(Dataset):
        def __len__(self) -> int:
            return len(samples)

        def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
            sample = samples[index]
            try:
                with Image.open(sample.path) as image:
                    rgb = image.convert("RGB")
            except (OSError, ValueError) as error:
                raise BadImage(f"{sample.path}: cannot be decoded as an image ({error})") from None
            return transform(rgb), sample.label

    return _Images()


def image_loader(
    samples: Sequence[Sample], transform: Callable[[Any], torch.Tensor], batch_size: int, workers: int
) -> DataLoader[Any]:
    from torch.utils.data import DataLoader

    return DataLoader(
        _dataset(samples, transform), batch_size=batch_size, shuffle=False, num_workers=workers, pin_memory=False
    )


# --------------------------------------------------------------------------- the core


def evaluate_model(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: str = "cpu",
    progress: Callable[[int], object] | None = None,
) -> tuple[float, float, int]:
    """Top-1 and top-5 accuracy in percent and the number of images, over every batch of ``loader``.

    With fewer than five classes, top-5 counts every class (it is then 100%).
    """
    import torch

    model.eval()
    correct1 = correct5 = count = 0
    with torch.inference_mode():
        for images, labels in loader:
            logits = model(images.to(device))
            if isinstance(logits, tuple | list):  # auxiliary outputs: the first is the classifier's
                logits = logits[0]
            k = min(5, logits.shape[1])
            top = logits.topk(k, dim=1).indices.cpu()
            hits = top == labels.view(-1, 1)
            correct1 += int(hits[:, 0].sum())
            correct5 += int(hits.any(dim=1).sum())
            count += len(labels)
            if progress is not None:
                progress(len(labels))
    if count == 0:
        raise ValueError("the loader yielded no images")
    return 100.0 * correct1 / count, 100.0 * correct5 / count, count


# --------------------------------------------------------------------------- weights


def weights_file_names(spec: ModelSpec) -> list[str]:
    """File names looked for in --weights-dir, in order of preference."""
    names: list[str] = []
    if spec.source == "torchvision" and spec.weights:
        from torchvision.models import get_weight

        names.append(get_weight(spec.weights).url.rsplit("/", 1)[-1])
    if spec.source == "timm" and spec.weights:
        names += [f"{spec.weights}{suffix}" for suffix in WEIGHTS_SUFFIXES]
    names += [f"{model_file_stem(spec.name)}{suffix}" for suffix in WEIGHTS_SUFFIXES]
    return list(dict.fromkeys(names))


def find_weights(spec: ModelSpec, weights_dir: Path) -> Path | None:
    for name in weights_file_names(spec):
        path = weights_dir / name
        if path.is_file():
            return path
    return None


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .pth or .safetensors file; CliError naming the file if it is not one."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            loaded: Any = load_file(str(path))
        else:
            # weights_only: a weights file must never run code when read.
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any failure to read is the same user error
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CliError(f"{path}: cannot be read as a weights file ({first[:200]})") from None
    for key in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise CliError(f"{path}: does not hold a state dict of tensors")
    state = dict(loaded)
    if state and all(key.startswith("module.") for key in state):  # saved from DataParallel
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return state


def load_weights(model: nn.Module, spec: ModelSpec, path: Path) -> None:
    """Load ``path`` strictly into ``model``; CliError naming the file if it does not fit."""
    state = read_state_dict(path)
    # torchvision's files keep auxiliary classifiers that an eval-only build leaves out
    # (googlenet.aux1 is None): drop what belongs to a sub-module the model set to None.
    heads = {key.split(".", 1)[0] for key in state} - {key.split(".", 1)[0] for key in model.state_dict()}
    dropped = {head for head in heads if getattr(model, head, False) is None}
    state = {key: value for key, value in state.items() if key.split(".", 1)[0] not in dropped}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = " ".join(lines[1:3])[:400] if len(lines) > 1 else lines[0][:400] if lines else ""
        raise CliError(f"{path}: does not match the architecture of {spec.name}: {detail}") from None


# --------------------------------------------------------------------------- preprocessing


def preprocessing(spec: ModelSpec, model: nn.Module) -> Callable[[Any], torch.Tensor]:
    """The evaluation transform that belongs to the model's weights."""
    if spec.source == "torchvision" and spec.weights:
        from torchvision.models import get_weight

        return get_weight(spec.weights).transforms()
    if spec.source == "timm":
        from timm.data import create_transform, resolve_data_config

        config = resolve_data_config({}, model=model)
        return create_transform(**config)
    from torchvision import transforms

    # Standard ImageNet evaluation: short side to size/0.875 (256 for 224), centre crop.
    return transforms.Compose(
        [
            transforms.Resize(round(spec.input_size_px / 0.875)),
            transforms.CenterCrop(spec.input_size_px),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


# --------------------------------------------------------------------------- records


def find_records(measurements_dir: Path, name: str) -> list[tuple[Path, Record]]:
    """Every record of model ``name`` under ``--measurements`` (every machine, configuration and software)."""
    return ResultsStore(measurements_dir).find(name, strict=True)


def with_measured(record: Record, measured: MeasuredAccuracy) -> Record:
    """The record with ``accuracy.measured`` set, validated (the store checks it again as it writes)."""
    accuracy = record.accuracy.model_dump()
    accuracy["measured"] = measured.model_dump()
    return Record.model_validate({**record.model_dump(), "accuracy": accuracy})


_GROUP_SELECTORS = frozenset({"paper", "all", "quick", "timm"})


@dataclass
class _Job:
    spec: ModelSpec
    weights: Path
    records: list[tuple[Path, Record]]


def _already_done(job: _Job, images: int) -> bool:
    measured = [record.accuracy.measured for _, record in job.records]
    return all(m is not None and m.weights_file == job.weights.name and m.images == images for m in measured)


def _resolve(selectors: Sequence[str]) -> list[tuple[ModelSpec, bool]]:
    """Registry entries with whether each must have a weights file: a model named on its own
    must; members of a preset or family ('paper', 'resnet') without one are left out."""
    from generator import registry

    chosen: dict[str, tuple[ModelSpec, bool]] = {}
    for selector in selectors or ["all"]:
        specs = registry.resolve([selector])
        text = selector.strip()
        named = len(specs) == 1 and text not in _GROUP_SELECTORS and specs[0].family != text
        for spec in specs:
            required = named or chosen.get(spec.name, (spec, False))[1]
            chosen[spec.name] = (spec, required)
    return list(chosen.values())


def _plan(entries: Sequence[tuple[ModelSpec, bool]], weights_dir: Path, measurements_dir: Path) -> list[_Job]:
    jobs: list[_Job] = []
    problems: list[str] = []
    for spec, required in entries:
        weights = find_weights(spec, weights_dir)
        if weights is None:
            if required:
                expected = " or ".join(weights_file_names(spec))
                problems.append(f"{spec.name}: no weights file in {weights_dir} (expected {expected})")
            continue
        records = find_records(measurements_dir, spec.name)
        if not records:
            problems.append(
                f"{spec.name}: no record under {measurements_dir}; measure it first "
                f"(python -m generator measure --models {spec.name})"
            )
            continue
        jobs.append(_Job(spec, weights, records))
    if problems:
        raise CliError("nothing evaluated:\n  " + "\n  ".join(problems))
    if not jobs:
        raise CliError(
            f"{weights_dir}: holds a weights file for none of the selected models (see --help for the names)"
        )
    return jobs


def _progress_bar(name: str, total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=name, unit="img", dynamic_ncols=True, file=sys.stderr)


def evaluate(
    imagenet_val: Path,
    weights_dir: Path,
    selectors: Sequence[str],
    measurements_dir: Path,
    batch_size: int = 64,
    workers: int = 2,
    limit: int | None = None,
    force: bool = False,
    show_progress: bool = True,
) -> int:
    """Evaluate each selected model with a weights file and record its accuracy; the exit code."""
    if batch_size <= 0:
        raise CliError(f"--batch-size must be positive, got {batch_size}")
    if workers < 0:
        raise CliError(f"--workers must be 0 or more, got {workers}")
    if limit is not None and limit <= 0:
        raise CliError(f"--limit must be positive, got {limit}")
    for option, folder in (("--weights-dir", weights_dir), ("--measurements", measurements_dir)):
        if not folder.is_dir():
            raise CliError(f"{folder}: no such folder ({option})")
    samples = spread(find_samples(imagenet_val), limit)
    jobs = _plan(_resolve(selectors), weights_dir, measurements_dir)

    todo: list[_Job] = []
    for job in jobs:
        if not force and _already_done(job, len(samples)):
            print(
                f"{job.spec.name}: already evaluated with {job.weights.name} on {len(samples)} images; "
                "skipped (--force to redo)",
                file=sys.stderr,
            )
        else:
            todo.append(job)

    # Every weights file must fit before any model is evaluated: bad input writes nothing.
    for job in todo:
        load_weights(job.spec.build(), job.spec, job.weights)

    from generator import backends

    device = backends.resolve("auto").name  # the first device available, as 'measure --device auto' picks
    for job in todo:
        model = job.spec.build()
        load_weights(model, job.spec, job.weights)
        model.to(device).eval()
        loader = image_loader(samples, preprocessing(job.spec, model), batch_size, workers)
        bar = _progress_bar(job.spec.name, len(samples), show_progress)
        try:
            top1, top5, count = evaluate_model(model, loader, device, bar.update if bar is not None else None)
        except BadImage as error:
            raise CliError(_last_line(error)) from None
        except Exception as error:
            # DataLoader workers re-raise a worker's exception with its traceback as text.
            if "BadImage" in str(error):
                raise CliError(_last_line(error)) from None
            raise
        finally:
            if bar is not None:
                bar.close()
        measured = MeasuredAccuracy(
            top1_percent=round(top1, 4),
            top5_percent=round(top5, 4),
            images=count,
            weights_file=job.weights.name,
            dataset_dir=str(imagenet_val),
            date=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        # Read each record again: a 'measure' run may have rewritten it during a long evaluation.
        store = ResultsStore(measurements_dir)
        updated = [(path, with_measured(store.read(path), measured)) for path, _ in job.records]
        for path, record in updated:
            store.write(record, path)
        print(
            f"{job.spec.name}: top-1 {top1:.2f}%, top-5 {top5:.2f}% on {count} images "
            f"({job.weights.name}); {len(updated)} record(s) updated"
        )
        if count < IMAGENET_VAL_IMAGES:
            # The site shows a partial evaluation as limited and uses it in no figure or verdict.
            print(
                f"note: {job.spec.name}: {count} of {IMAGENET_VAL_IMAGES:,} validation images: the report shows "
                "this as a limited evaluation and uses it in no figure or verdict",
                file=sys.stderr,
            )
        del model
    return 0


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = lines[-1] if lines else str(error)
    return last.split("BadImage: ", 1)[-1]
