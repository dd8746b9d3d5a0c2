"""MkDocs writes every page's HTML, and copies every static file, one after another on one core.

Once the pages are converted (``ParallelPages`` does that on two cores), a zoo's
strict build still spent a third of its time in MkDocs' last phase: each page
through the theme's template, and ten thousand static files (every chart's spec,
every record's download) copied, while the second core sat idle.

``ParallelOutput`` is a MkDocs plugin that ``build_site`` adds. When every page
is read (``on_env``, just before MkDocs copies), it forks a child that writes the
later half of the pages through MkDocs' own page builder and copies the static
files. In the parent those pages get an empty template instead of the theme's,
so that MkDocs still runs its plugins' page events (the search index is built
from them) but writes nothing there, and the files' own copies become no-ops.
Those events then run in both processes: the plugin stands aside when a plugin
it does not know is configured (its side effects, a warning say, would come
twice; a thread it keeps would not be in the child).
Before the build ends (``on_post_build``) the parent waits for the child and
handles its log records, so that ``--strict`` counts them; if the child failed in
any way, the parent writes those pages and copies those files itself, and an
error raises where MkDocs would have raised it.

Files another part of the build writes later (a theme template's output, a page)
stay MkDocs' to copy, in its order. Only a clean build may use this (a dirty one
writes only what changed): ``build_site``'s, never ``mkdocs serve``'s.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from mkdocs.commands.build import _build_page
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page

from generator.host_load import usable_cpus
from generator.render.background import Background
from generator.render.parallel_pages import capturing_logs

PARALLEL_FROM = 100  # pages: below, a forked process costs more than it saves
# The parent's share of the pages: it also writes the theme's own templates, checks every page's anchors
# and writes the search index, while the child copies the static files.
PARENT_SHARE = 0.5
_TEMPLATE = "template"  # the page's meta key MkDocs picks its template by


@dataclass(frozen=True)
class _Work:
    """What the child does: the same as the parent does instead, when the child fails."""

    pages: list[Page]
    templates: list[tuple[bool, Any]]  # each page's own template setting: (had one, its value)
    static: list[File]
    config: MkDocsConfig
    doc_files: Sequence[File]
    nav: Navigation
    env: jinja2.Environment


def _write(work: _Work) -> list[logging.LogRecord]:
    """Writes the pages and copies the files; returns the log records that came of it, not handled."""
    for page, (had, template) in zip(work.pages, work.templates, strict=True):
        if had:
            page.meta[_TEMPLATE] = template
        else:
            page.meta.pop(_TEMPLATE, None)
    with capturing_logs() as records:
        for page in work.pages:
            excluded = page.file.inclusion.is_excluded()
            _build_page(page, work.config, work.doc_files, work.nav, work.env, excluded=excluded)
        for file in work.static:
            File.copy_file(file)
    return records


# The page events of these run in both processes: the search index is the parent's (the child's copy is
# dropped), and the content they change is the same in both. Neither starts a thread (a fork would copy it
# without the thread), nor does ParallelPages once its on_env has run.
_KNOWN_PLUGINS = frozenset(
    {
        "material.plugins.search.plugin.SearchPlugin",
        "mkdocs.contrib.search.SearchPlugin",
        "generator.render.parallel_pages.ParallelPages",
        "generator.render.parallel_output.ParallelOutput",
    }
)


def _unknown_plugin(config: MkDocsConfig) -> bool:
    """Whether a plugin (or hook file) not known here is configured: its page events would run twice (once
    per process), and their side effects (a warning, a count), or a thread it keeps, are not known."""
    return any(
        f"{type(plugin).__module__}.{type(plugin).__qualname__}" not in _KNOWN_PLUGINS
        for plugin in config.plugins.values()
    )


def _copied(dirty: bool = False) -> None:
    """Stands in for ``File.copy_file`` of a file the child copies."""


class ParallelOutput(BasePlugin):
    def __init__(self) -> None:
        super().__init__()
        self.nav: Navigation | None = None
        self.writing: Background[list[logging.LogRecord]] | None = None

    def on_nav(self, nav: Navigation, /, *, config: MkDocsConfig, files: Files) -> Navigation:
        self.nav = nav  # the navigation MkDocs builds the pages with: this plugin's hook comes last
        return nav

    def on_env(self, env: jinja2.Environment, /, *, config: MkDocsConfig, files: Files) -> jinja2.Environment:
        doc_files = files.documentation_pages(inclusion=InclusionLevel.is_included)
        if len(doc_files) < PARALLEL_FROM or usable_cpus() < 2 or self.nav is None or _unknown_plugin(config):
            return env
        pages = [file.page for file in doc_files[int(len(doc_files) * PARENT_SHARE) :] if file.page is not None]
        # MkDocs writes the theme's own templates and the pages after the static files, over any of the
        # same name: those are left to it. The rest is what ``Files.copy_static_files`` copies.
        later = {*config.theme.static_templates, *config.extra_templates, *(f.dest_uri for f in doc_files)}
        static = [
            file
            for file in files
            if not file.is_documentation_page() and file.inclusion.is_included() and file.dest_uri not in later
        ]
        templates = [(_TEMPLATE in page.meta, page.meta.get(_TEMPLATE)) for page in pages]
        work = _Work(pages, templates, static, config, doc_files, self.nav, env)
        # Forked now, with every page read: no thread runs (ParallelPages stopped its own in its on_env).
        self.writing = Background(functools.partial(_write, work), fork=True)
        if self.writing.process is None:  # no fork on this platform: MkDocs does it all, as ever
            self.writing = None
            return env
        # Here, MkDocs still runs each of those pages' events, but its template is empty: nothing is written.
        nothing = env.from_string("")
        for page in pages:
            page.meta[_TEMPLATE] = nothing
        for file in static:
            file.copy_file = _copied  # type: ignore[method-assign]
        return env

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        if self.writing is not None:
            writing, self.writing = self.writing, None
            # The child's records, or (when it failed) those of the parent doing the same work.
            for record in writing.result():
                logging.getLogger(record.name).handle(record)

    def on_build_error(self, *, error: Exception) -> None:
        if self.writing is not None:
            self.writing.close()
            self.writing = None
