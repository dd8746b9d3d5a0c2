"""Building blocks of the page model: links, tables, chart references, site paths."""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass, field
from typing import Any

import altair as alt

from generator.render import names
from generator.render.charts import VegaLite
from generator.render.data import Run
from generator.render.load import model_stem, site_stem
from generator.schema import Record


@dataclass(frozen=True)
class Link:
    text: str
    href: str  # relative to the page that shows it


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str | Link]]


@dataclass(frozen=True)
class ChartRef:
    id: str
    title: str
    caption: str
    spec_href: str | None  # None: nothing to draw, see ``missing``
    svg_href: str | None
    exclusions: list[str] = field(default_factory=list)
    missing: str | None = None
    narrow_spec_href: str | None = None  # the same chart laid out for a narrow column (a phone)


# A figure of more models than this gets no static image. Drawn as one, a zoo's figure is unreadable
# (929 bars in 600 px), weighs megabytes in the repository that publishes it (5 MB for Fig. 3 of
# a thousand models, 7 MB for a comparison's scatter, redrawn on every render), and took vl-convert
# a second or more each: two thirds of a 1000 x 3 render's CPU. The interactive figure and the
# tables still show it.
STATIC_IMAGE_MAX_MODELS = 150


@dataclass(frozen=True)
class ChartJob:
    """A chart to serialise: spec always, SVG when the page shows a static image."""

    spec_path: str
    svg_path: str | None
    chart: alt.TopLevelMixin | VegaLite
    # (site folder, the same folder as the embedding page's links reach it): a layer's data of
    # SHARED_DATA_FROM rows or more is written there once and the spec refers to it, instead
    # of every copy of a figure carrying every model's points (small figures on each model page).
    shared_data: tuple[str, str] | None = None


@dataclass(frozen=True)
class Page:
    path: str  # relative to the site root, e.g. 'models/resnet50.md'
    template: str
    model: Any  # the page's model; ``Titles`` only, once ``text`` is rendered
    # The page's Markdown when it is rendered already: a zoo's model pages are rendered in the
    # process that builds them, and only their text comes back.
    text: bytes | None = None


@dataclass(frozen=True)
class Titles:
    """All that is kept of a rendered page's model: what the navigation reads."""

    title: str


@dataclass
class SiteModel:
    pages: list[Page] = field(default_factory=list)
    charts: list[ChartJob] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # data downloads and drawn images: path -> content


def rel(page: str, target: str) -> str:
    """Link from one site path to another, relative, as MkDocs and GitHub both resolve it."""
    return _relative(target, posixpath.dirname(page) or ".")


# A zoo's pages make tens of thousands of links, most of them the same few thousand from one folder to
# another; relpath asks the operating system for the working folder each time.
_relative = functools.lru_cache(maxsize=1 << 16)(posixpath.relpath)


label = names.label  # one rule for a model's name on the site


def model_path(record: Record) -> str:
    return f"models/{model_stem(record.model.name)}.md"


def figures_path(run: Run, scope: str) -> str:
    return f"figures/{run.hardware_slug}/{run.config_slug}/{scope}.md"


def hardware_path(slug: str) -> str:
    return f"hardware/{site_stem(slug)}.md"


def scopes(run: Run) -> list[str]:
    """'study' when any of the study's networks were measured; 'all' when more models were."""
    study = run.study_records()
    found = ["study"] if study else []
    if len(run.records) > len(study):
        found.append("all")
    return found


def scope_records(run: Run, scope: str) -> list[Record]:
    return run.study_records() if scope == "study" else run.records


@dataclass(frozen=True)
class IndexPage:
    title: str
    intro: str
    table: Table | None
    links: list[Link] = field(default_factory=list)
