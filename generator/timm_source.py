"""timm as an optional model source: 'timm:<name>' selectors and the 'timm' family.

- ``timm:<architecture>`` (``timm:inception_v4``) or ``timm:<architecture>.<tag>``
  (``timm:vit_base_patch16_224.augreg_in1k``) builds that timm model with random
  weights (``pretrained=False``: nothing is downloaded) at the resolution of its
  pretrained configuration (``pretrained_cfg.input_size``). Without a tag, timm's
  default pretrained tag applies; naming the default tag gives the same entry.
- ``timm`` (the family selector) expands to every architecture that has a row in
  the shipped copy of timm's ImageNet results (``generator/data/``) and exists in
  the installed timm, each once, with its default tag: about 900 models, all with
  a published accuracy to compare with. Measuring all of them takes many hours:
  it is meant for ``models timm`` and for deliberate long runs.
- Published accuracy comes from that CSV, matched on the pretrained tag
  (``inception_v4.tf_in1k``) and the resolution; no match gives ``None``.

timm is an optional extra (``pip install .[timm]``): without it this module still
imports, and asking for a timm model raises CliError (exit 2) with the hint.
"""

from __future__ import annotations

import csv
import difflib
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from generator.errors import CliError
from generator.model_spec import ModelSpec
from generator.schema import PublishedAccuracy

if TYPE_CHECKING:
    from torch import nn

RESULTS_CSV = Path(__file__).resolve().parent / "data" / "timm-results-imagenet.csv"
RESULTS_SOURCE = "timm results/results-imagenet.csv (huggingface/pytorch-image-models at aa4b5850)"
INSTALL_HINT = "pip install .[timm]"
# timm architectures that are one of the study's 14 networks, with the study's name.
STUDY_NAMES: dict[str, str] = {"inception_v4": "Inception-v4"}
# The original training recipe's pretrained tag of the study's timm networks
# (Inception-v4: Google's TF-Slim release, ported by timm as 'tf_in1k').
ORIGINAL_TAGS: dict[str, str] = {"inception_v4": "tf_in1k"}
# Architecture sources timm's configs do not carry (paper_ids is empty for most).
_PAPERS: dict[str, str] = {
    "inception_v4": "Szegedy, Ioffe, Vanhoucke, Alemi, 'Inception-v4, Inception-ResNet and the Impact of "
    "Residual Connections on Learning', arXiv 1602.07261",
}
# Prefixes that name where weights came from, not the architecture family.
_FAMILY_PREFIXES = ("tf_", "gluon_", "legacy_", "ens_adv_", "adv_", "dm_")
_FAMILY = re.compile(r"[a-z]+?(?=v?\d|_|$)")


@dataclass(frozen=True)
class ResultRow:
    """One row of timm's results CSV."""

    model: str  # '<architecture>.<tag>'
    img_size: int
    top1_percent: float
    top5_percent: float
    param_count_millions: float | None
    crop_pct: float | None
    interpolation: str


def parse_number(text: str) -> float:
    """'1,014.45' -> 1014.45: the CSV quotes large values with a thousands separator."""
    return float(text.replace(",", "").strip())


def _optional_number(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    return parse_number(text)


def read_results(path: Path = RESULTS_CSV) -> list[ResultRow]:
    """Parse timm's results CSV; raise CliError naming the file and line on a malformed row."""
    rows: list[ResultRow] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for line_number, row in enumerate(reader, start=2):
                try:
                    rows.append(
                        ResultRow(
                            model=row["model"].strip(),
                            img_size=int(row["img_size"]),
                            top1_percent=parse_number(row["top1"]),
                            top5_percent=parse_number(row["top5"]),
                            param_count_millions=_optional_number(row.get("param_count")),
                            crop_pct=_optional_number(row.get("crop_pct")),
                            interpolation=(row.get("interpolation") or "").strip(),
                        )
                    )
                except (KeyError, TypeError, ValueError) as error:
                    raise CliError(f"{path}: line {line_number}: malformed timm results row ({error})") from None
    except OSError as error:
        raise CliError(f"{path}: cannot read timm results: {error.strerror or error}") from None
    return rows


@functools.cache
def results_index() -> dict[tuple[str, int], ResultRow]:
    """Shipped results keyed by (pretrained tag, image size)."""
    return {(row.model, row.img_size): row for row in read_results()}


def published_accuracy(weights: str | None, size: int) -> PublishedAccuracy | None:
    """The CSV's figure for ``weights`` ('inception_v4.tf_in1k') evaluated at ``size`` px, if any."""
    if weights is None:
        return None
    row = results_index().get((weights, size))
    if row is None:
        return None
    return PublishedAccuracy(
        top1_percent=row.top1_percent,
        top5_percent=row.top5_percent,
        source=f"{RESULTS_SOURCE}: {row.model} at {row.img_size} px, crop_pct {row.crop_pct}, {row.interpolation}",
        weights=row.model,
    )


def original_recipe_accuracy(architecture: str, weights: str | None) -> PublishedAccuracy | None:
    """The CSV's figure for the architecture's original weights (ORIGINAL_TAGS), when ``weights`` are others.

    The study compared networks as their authors trained them; a later timm
    recipe of the same architecture is a different, usually better, network.
    """
    tag = ORIGINAL_TAGS.get(architecture)
    if tag is None or weights == f"{architecture}.{tag}":
        return None
    original = f"{architecture}.{tag}"
    rows = [row for (name, _), row in results_index().items() if name == original]
    if not rows:
        return None
    row = min(rows, key=lambda r: r.img_size)  # the resolution the original was released at
    return published_accuracy(original, row.img_size)


def family_of(architecture: str) -> str:
    """A simple family from the architecture name: 'inception_v4' -> 'inception', 'resnet50d' -> 'resnet'."""
    name = architecture.lower()
    for prefix in _FAMILY_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    match = _FAMILY.match(name)
    return match.group(0) if match and len(match.group(0)) >= 2 else name.split("_", 1)[0]


def import_timm(what: str = "timm models") -> ModuleType:
    """timm, or CliError (exit 2) saying how to install it."""
    try:
        import timm
    except ImportError:
        raise CliError(f"{what}: needs the optional timm package, which is not installed: {INSTALL_HINT}") from None
    return timm


def _build(create_name: str) -> nn.Module:
    import timm

    # pretrained=False: random weights; the tag still selects its configuration
    # (number of classes, input size), so the architecture matches the metadata.
    return timm.create_model(create_name, pretrained=False)


def timm_spec(name: str) -> ModelSpec:
    """Registry entry for timm model ``name`` (without the 'timm:' prefix), random weights."""
    timm = import_timm(f"timm:{name}")
    from timm.models import get_arch_pretrained_cfgs, get_pretrained_cfg, model_entrypoint

    name = name.strip()
    if not name:
        raise CliError("timm: needs a model name after the colon, e.g. timm:inception_v4")
    architecture, _, tag = name.partition(".")
    if not architecture or not timm.is_model(architecture):
        close = difflib.get_close_matches(architecture, timm.list_models(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(f'timm:{c}' for c in close)}?" if close else ""
        raise CliError(f"timm:{name}: no such architecture in timm {timm.__version__}{hint}")
    try:
        cfg: Any = get_pretrained_cfg(name)
    except RuntimeError:  # timm's answer to an unknown tag
        cfg = None
    if tag and (cfg is None or cfg.tag != tag):
        tags = sorted(key.partition(".")[2] for key in get_arch_pretrained_cfgs(architecture))
        raise CliError(
            f"timm:{name}: {architecture!r} has no pretrained tag {tag!r}; tags: {', '.join(tags) or 'none'}"
        )
    default_cfg: Any = get_pretrained_cfg(architecture)
    # The default tag names the same model as the bare architecture: one registry name for both.
    is_default = cfg is None or default_cfg is None or cfg.tag == default_cfg.tag
    registry_name = f"timm:{architecture}" if is_default else f"timm:{architecture}.{tag}"
    weights = f"{architecture}.{cfg.tag}" if cfg is not None and cfg.tag else None
    # input_size is (channels, height, width); timm's classifiers are square but for a
    # handful, for which the width is the larger side and what timm's CSV reports.
    size = int(cfg.input_size[-1]) if cfg is not None else 224
    row = results_index().get((weights, size)) if weights else None
    module = model_entrypoint(architecture).__module__
    paper = _PAPERS.get(architecture)
    if paper is None and cfg is not None and cfg.paper_ids:
        paper = cfg.paper_ids if isinstance(cfg.paper_ids, str) else ", ".join(cfg.paper_ids)
    source = f"timm {timm.__version__} {module}.{architecture}" + (f"; {paper}" if paper else "")
    create_name = weights or architecture
    return ModelSpec(
        name=registry_name,
        family=family_of(architecture),
        source="timm",
        builder=f"{module}.{architecture}",
        build=functools.partial(_build, create_name),
        input_size_px=size,
        weights=weights,
        architecture_source=source,
        study_name=STUDY_NAMES.get(architecture) if is_default else None,
        published_accuracy=published_accuracy(weights, size),
        original_recipe_accuracy=original_recipe_accuracy(architecture, weights),
        # The CSV gives millions to two decimals: good to about 5,000 parameters.
        published_num_params=round(row.param_count_millions * 1_000_000)
        if row is not None and row.param_count_millions is not None
        else None,
        published_gmacs=None,
        checkpoint_bytes=None,
        is_default_weights=is_default,
    )


def family_specs() -> list[ModelSpec]:
    """What the 'timm' family selector expands to: each architecture of the shipped results
    CSV that the installed timm has, once, with its default pretrained tag (sorted by name)."""
    timm = import_timm("the 'timm' selector")
    architectures = sorted({row.model.partition(".")[0] for row in read_results()})
    return [timm_spec(architecture) for architecture in architectures if timm.is_model(architecture)]
