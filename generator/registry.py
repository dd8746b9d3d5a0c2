"""The model registry: every torchvision classifier, the study's extra networks and timm.

One entry per torchvision builder, named after it, with its DEFAULT weights'
metadata ('resnet50'); with ``all_weights`` (or by explicit name) one more entry
per other weights entry, named 'builder.WEIGHTS_NAME' ('resnet50.IMAGENET1K_V1').
Models are always built with random weights (``weights=None``) at the
resolution the weights were evaluated at: nothing is ever downloaded.
"""

from __future__ import annotations

import difflib
import functools
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from generator.errors import CliError
from generator.model_spec import ModelSpec
from generator.schema import PublishedAccuracy

# The study's networks that torchvision ships, with the study's own names.
STUDY_NAMES: dict[str, str] = {
    "alexnet": "AlexNet",
    "googlenet": "GoogLeNet",
    "resnet18": "ResNet-18",
    "resnet34": "ResNet-34",
    "resnet50": "ResNet-50",
    "resnet101": "ResNet-101",
    "resnet152": "ResNet-152",
    "vgg16": "VGG-16",
    "vgg19": "VGG-19",
    "inception_v3": "Inception-v3",
}
PAPER_TIMM = "inception_v4"
# Three small models: fast enough for tests and smoke runs.
QUICK: tuple[str, ...] = ("mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5")
PRESETS: tuple[str, ...] = ("paper", "all", "quick")

# torchvision module -> family, where the module name is not already the family.
_MODULE_FAMILY: dict[str, str] = {
    "mobilenetv2": "mobilenet",
    "mobilenetv3": "mobilenet",
    "shufflenetv2": "shufflenet",
    "swin_transformer": "swin",
    "vision_transformer": "vit",
}

# Builder keyword arguments that torchvision sets itself when it loads weights;
# with weights=None we must set them, or the architecture differs from the one
# the metadata describes.
_BUILD_KWARGS: dict[str, dict[str, Any]] = {
    # Loaded weights keep the aux classifier's parameters in meta['num_params'];
    # eval-mode forward does not run it. init_weights=False skips a slow scipy init.
    "inception_v3": {"aux_logits": True, "init_weights": False, "transform_input": True},
    "googlenet": {"aux_logits": False, "init_weights": False, "transform_input": True},
}


def _architecture_source(module: str) -> str:
    """The builder's source file at the installed torchvision release, e.g. .../v0.29.1/torchvision/models/resnet.py."""
    import torchvision

    version = torchvision.__version__.split("+", 1)[0]
    return f"https://github.com/pytorch/vision/blob/v{version}/{module.replace('.', '/')}.py"


def _family(name: str, module: str) -> str:
    short = module.rsplit(".", 1)[-1]
    if short == "resnet":
        if name.startswith("resnext"):
            return "resnext"
        if name.startswith("wide_resnet"):
            return "wide_resnet"
    return _MODULE_FAMILY.get(short, short)


def _build_torchvision(name: str, kwargs: dict[str, Any]) -> Any:
    from torchvision.models import get_model_builder

    return get_model_builder(name)(weights=None, **kwargs)


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


ORIGINAL_RECIPE_WEIGHTS = "IMAGENET1K_V1"  # torchvision's first weights of a builder: its original recipe


def _published_accuracy(weights: Any) -> PublishedAccuracy | None:
    """ImageNet-1K top-1/top-5 of a torchvision weights entry, from its own metadata (never typed in)."""
    meta = weights.meta
    metrics = meta.get("_metrics", {}).get("ImageNet-1K")
    if not metrics:
        return None
    top1 = _finite_or_none(metrics.get("acc@1"))
    top5 = _finite_or_none(metrics.get("acc@5"))
    if top1 is None and top5 is None:
        return None
    weights_name = f"{type(weights).__name__}.{weights.name}"
    return PublishedAccuracy(
        top1_percent=top1,
        top5_percent=top5,
        source=f"torchvision {weights_name}, recipe {meta.get('recipe', 'unknown')}",
        weights=weights_name,
    )


def _torchvision_spec(name: str, weights: Any, default: bool) -> ModelSpec:
    from torchvision.models import get_model_builder

    builder = get_model_builder(name)
    meta = weights.meta
    # The weights' own transforms carry the evaluation resolution (224, 299, 384, 518, ...).
    size = int(weights.transforms().crop_size[0])
    kwargs: dict[str, Any] = dict(_BUILD_KWARGS.get(name, {}))
    if meta.get("categories") is not None:
        kwargs["num_classes"] = len(meta["categories"])
    min_size = meta.get("min_size")
    module = builder.__module__
    # ViT and MaxViT fix their input size at construction; torchvision sets it from the weights.
    if module.endswith("vision_transformer") and min_size:
        kwargs["image_size"] = int(min_size[0])
    if module.endswith("maxvit") and min_size:
        kwargs["input_size"] = tuple(int(v) for v in min_size)
    weights_name = f"{type(weights).__name__}.{weights.name}"
    accuracy = _published_accuracy(weights)
    # The study compared networks trained with their original recipes; torchvision's
    # first weights (IMAGENET1K_V1) are those. A later default (IMAGENET1K_V2's 2021
    # recipe) keeps the original's figures beside it, read from the same metadata.
    original = type(weights).__members__.get(ORIGINAL_RECIPE_WEIGHTS)
    original_accuracy = _published_accuracy(original) if original is not None and original is not weights else None
    file_size_mb = meta.get("_file_size")
    return ModelSpec(
        name=name if default else f"{name}.{weights.name}",
        family=_family(name, module),
        source="torchvision",
        builder=f"torchvision.models.{name}",
        build=functools.partial(_build_torchvision, name, kwargs),
        input_size_px=size,
        weights=weights_name,
        architecture_source=_architecture_source(module),
        study_name=STUDY_NAMES.get(name),
        published_accuracy=accuracy,
        original_recipe_accuracy=original_accuracy,
        published_num_params=meta.get("num_params"),
        published_gmacs=_finite_or_none(meta.get("_ops")),
        # '_file_size' is in MiB, rounded to 0.01: alexnet-owt-7be5be79.pth has
        # 244,408,911 bytes and _file_size 233.087 (= bytes / 2**20).
        checkpoint_bytes=round(file_size_mb * 2**20) if file_size_mb is not None else None,
        is_default_weights=default,
    )


@functools.cache
def torchvision_specs() -> tuple[ModelSpec, ...]:
    """Every torchvision classifier: default entries first (80), then other weights entries (35)."""
    import torchvision
    from torchvision.models import get_model_weights, list_models

    defaults: list[ModelSpec] = []
    others: list[ModelSpec] = []
    for name in list_models(module=torchvision.models):
        enum = get_model_weights(name)
        default = enum.DEFAULT
        defaults.append(_torchvision_spec(name, default, True))
        for weights in enum:
            if weights is not default:
                others.append(_torchvision_spec(name, weights, False))
    return tuple(defaults + others)


def _paper_model_specs() -> list[ModelSpec]:
    from generator import paper_models

    return list(paper_models.specs())


def _timm_paper_spec() -> list[ModelSpec]:
    """Inception-v4 from timm, or nothing with a one-line warning when timm cannot provide it."""
    try:
        from generator import timm_source

        spec = timm_source.timm_spec(PAPER_TIMM)
    except (CliError, ImportError) as error:
        print(f"warning: the paper preset leaves out Inception-v4 (timm:{PAPER_TIMM}): {error}", file=sys.stderr)
        return []
    if spec.study_name is None:
        spec = _with(spec, study_name="Inception-v4")
    return [spec]


def _with(spec: ModelSpec, **changes: Any) -> ModelSpec:
    from dataclasses import replace

    return replace(spec, **changes)


def _preset(name: str) -> list[ModelSpec]:
    tv = {spec.name: spec for spec in torchvision_specs()}
    if name == "paper":
        return [tv[n] for n in STUDY_NAMES] + _paper_model_specs() + _timm_paper_spec()
    if name == "all":
        return [spec for spec in torchvision_specs() if spec.is_default_weights] + _paper_model_specs()
    if name == "quick":
        return [tv[n] for n in QUICK]
    raise AssertionError(name)


def _expand_weights(specs: Iterable[ModelSpec]) -> list[ModelSpec]:
    """Add every other weights entry of each torchvision builder in ``specs``."""
    extra: dict[str, list[ModelSpec]] = {}
    for spec in torchvision_specs():
        if not spec.is_default_weights:
            extra.setdefault(spec.name.split(".", 1)[0], []).append(spec)
    out: list[ModelSpec] = []
    for spec in specs:
        out.append(spec)
        if spec.source == "torchvision" and spec.is_default_weights:
            out.extend(extra.get(spec.name, []))
    return out


def _resolve_one(selector: str) -> list[ModelSpec]:
    by_name = {spec.name: spec for spec in torchvision_specs()}
    if selector in PRESETS:
        return _preset(selector)
    if selector in by_name:
        return [by_name[selector]]
    if selector.startswith("timm:"):
        from generator import timm_source

        return [timm_source.timm_spec(selector.removeprefix("timm:"))]
    if selector == "timm":
        from generator import timm_source

        return list(timm_source.family_specs())
    # 'resnet50.IMAGENET1K_V2' names the default entry itself: resolve to it.
    builder, _, weights_name = selector.partition(".")
    if builder in by_name and weights_name:
        default = by_name[builder]
        if default.weights is not None and default.weights.endswith(f".{weights_name}"):
            return [default]
    paper = {spec.name: spec for spec in _paper_model_specs()}
    if selector in paper:
        return [paper[selector]]
    family = [spec for spec in torchvision_specs() if spec.family == selector and spec.is_default_weights]
    family += [spec for spec in paper.values() if spec.family == selector]
    if family:
        return family
    known = sorted(set(by_name) | set(paper) | {s.family for s in torchvision_specs()} | set(PRESETS) | {"timm"})
    close = difflib.get_close_matches(selector, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise CliError(
        f"unknown model selector {selector!r}{hint} (see 'python -m generator models'; "
        "selectors are names, families, presets paper/all/quick, or timm:<name>)"
    )


def resolve(selectors: Sequence[str], all_weights: bool = False) -> list[ModelSpec]:
    """Turn names, families, presets and 'timm:<name>' into registry entries, in order, without duplicates.

    Raises CliError (exit code 2) for an unknown selector, with close matches.
    """
    specs: list[ModelSpec] = []
    seen: set[str] = set()
    for selector in selectors:
        found = _resolve_one(selector.strip())
        if all_weights:
            found = _expand_weights(found)
        for spec in found:
            if spec.name not in seen:
                seen.add(spec.name)
                specs.append(spec)
    return specs


def spec_by_name(name: str) -> ModelSpec:
    """The one registry entry called ``name`` (what a measuring worker re-resolves)."""
    import torchvision
    from torchvision.models import get_model_weights, list_models

    # A worker needs one entry: build just that one instead of all 115 (start-up time counts per model).
    builder, _, weights_name = name.partition(".")
    if builder in list_models(module=torchvision.models):
        enum = get_model_weights(builder)
        weights = enum[weights_name] if weights_name in enum.__members__ else enum.DEFAULT if not weights_name else None
        if weights is not None:
            default = weights is enum.DEFAULT
            if default == (not weights_name):
                return _torchvision_spec(builder, weights, default)
    found = resolve([name])
    exact = [spec for spec in found if spec.name == name]
    if exact:
        return exact[0]
    if len(found) == 1:
        return found[0]
    raise CliError(f"{name!r} does not name a single model")


def _row(spec: ModelSpec) -> dict[str, Any]:
    accuracy = spec.published_accuracy
    return {
        "name": spec.name,
        "family": spec.family,
        "source": spec.source,
        "weights": spec.weights,
        "input_size_px": spec.input_size_px,
        "params_millions": spec.published_num_params / 1e6 if spec.published_num_params is not None else None,
        "gmacs": spec.published_gmacs,
        "top1_percent": accuracy.top1_percent if accuracy else None,
        "study_name": spec.study_name,
        "counted": False,
    }


def model_rows(
    specs: Sequence[ModelSpec], count: bool = False, progress: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """One table row per entry; with ``count`` the model is built and counted (metadata is not quoted)."""
    rows = []
    for spec in specs:
        row = _row(spec)
        # Entries with nothing published to quote (the hand-written study networks)
        # are counted even without --count: a blank would read as "unknown size".
        if count or row["params_millions"] is None or row["gmacs"] is None:
            from generator.counting import count_spec

            if progress is not None:
                progress(spec.name)
            row["params_millions"] = row["gmacs"] = None  # counted, never quoted, from here on
            row["counted"] = True
            try:
                counted = count_spec(spec)
            except Exception as error:  # one model that cannot be built must not hide the others' counts
                row["count_error"] = f"{type(error).__name__}: {error}"
                print(f"warning: {spec.name}: counting failed: {row['count_error']}", file=sys.stderr)
            else:
                row["params_millions"] = counted.parameters / 1e6
                row["gmacs"] = counted.gmacs_conv_linear_matmul
                row["counter"] = counted.counter
        rows.append(row)
    return rows


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table: name, family, source, weights, input size, params, GMACs, top-1."""
    headers = ["name", "family", "source", "weights", "input px", "params (M)", "GMACs", "top-1 %"]
    keys = ["name", "family", "source", "weights", "input_size_px", "params_millions", "gmacs", "top1_percent"]
    digits = {"params_millions": 2, "gmacs": 3, "top1_percent": 2}
    counted_mark = {"params_millions", "gmacs"}
    body = [
        [
            _fmt(row.get(key), digits.get(key, 0)) + ("*" if row.get("counted") and key in counted_mark else "")
            for key in keys
        ]
        for row in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    numeric = {4, 5, 6, 7}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in body]
    counters = sorted({str(row["counter"]) for row in rows if row.get("counter")})
    note = "GMACs: conv/linear/matmul per image at batch 1, from the weights metadata (meta['_ops'])"
    if all(row.get("counted") for row in rows):
        note = f"GMACs: conv/linear/matmul per image at batch 1, counted with {', '.join(counters)} (*)"
    elif counters:
        note += f"; * counted with {', '.join(counters)} where nothing is published"
    out.append(f"{len(rows)} models. {note}.")
    return "\n".join(line_.rstrip() for line_ in out)
