"""render_site, build_site, serve_site: the render stage's entry points.

Rendering is a pure function of the records and the templates: every output
file is produced in memory first (so a bad record or a template error leaves
the existing site untouched), then written into a fresh folder that is swapped
in with one rename: a failure at any point leaves the old site byte for byte.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import hashlib
import html
import json
import logging
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import altair as alt
import jinja2

from generator.errors import CliError
from generator.files import write_if_changed
from generator.host_load import usable_cpus
from generator.render import charts, export, pages, svg
from generator.render.background import Background
from generator.render.comparison import BaselineError, run_refs
from generator.render.data import Run, group_runs
from generator.render.escape import code, finalize, front_matter_title, href, markdown_table
from generator.render.findings import Finding, run_findings
from generator.render.load import LoadedRecord, load_records
from generator.safe_read import read_regular_file
from generator.schema import RecordError
from generator.store import collector_paused

# A file the render writes into its output folder, and requires there before it
# deletes anything: a mistyped --out must never wipe an unrelated folder.
MARKER = ".rendered-by-canziani-report"
MARKER_TEXT = "This folder is written by 'python -m generator render'; edits here are overwritten.\n"
VEGA_BUNDLE = "assets/vega/vega-bundle.js"
_UMASK = os.umask(0)
os.umask(_UMASK)
# Every page in MkDocs' navigation format, read by build_site (a dot file: MkDocs does not publish it).
NAV_FILE = ".nav.json"
NavItem = dict[str, "str | list[NavItem | str]"]
# Beyond this many models the sidebar lists no model page: MkDocs (Material) writes the whole
# open section into every page, so N listed models cost N² (a thousand models: 80 s of a 36 s
# build). The models index, a leaderboard with a name filter, links every model page instead,
# and is what the search finds: model pages then stay out of the search index, whose parse of
# every page was a quarter of a zoo's build.
NAV_MODELS_LIMIT = 150
FORK_MODEL_PAGES_FROM = 100  # models: below, a second process costs more than it saves


def navigation(site: pages.SiteModel) -> list[NavItem]:
    """The sidebar: Home, then Figures, Models and Hardware as sections whose index is the section page.

    Every page the render writes is listed, so the sidebar shows where a reader is
    and MkDocs offers previous / next links through each section; model pages only
    up to ``NAV_MODELS_LIMIT`` of them.
    """
    by_path = {page.path: page for page in site.pages}

    def title(path: str) -> str:
        # MkDocs puts navigation titles into the HTML as they are: a model named in markup stays text.
        model = by_path[path].model
        return html.escape(str(getattr(model, "short_title", None) or model.title))

    def section(name: str, index: str, children: list[NavItem | str]) -> NavItem:
        return {name: [index, *children]}

    # The study's networks first, as on the figures index.
    figure_pages = sorted(
        (p for p in by_path if p.startswith("figures/") and p != "figures/index.md"),
        key=lambda p: (p.rsplit("/", 1)[0], not p.endswith("/study.md")),
    )
    grouped: dict[str, list[NavItem | str]] = {}
    for path in figure_pages:
        figures = by_path[path].model
        scope = "The study's networks" if path.endswith("/study.md") else "All models"
        grouped.setdefault(html.escape(str(figures.run_label)), []).append({scope: path})
    models = sorted(
        (p for p in by_path if p.startswith("models/") and p != "models/index.md"), key=lambda p: title(p).lower()
    )
    hardware = sorted(p for p in by_path if p.startswith("hardware/") and p != "hardware/index.md")
    return [
        {"Home": "index.md"},
        section("Figures", "figures/index.md", [{run: entries} for run, entries in grouped.items()]),
        section(
            "Models", "models/index.md", [{title(p): p} for p in models] if len(models) <= NAV_MODELS_LIMIT else []
        ),
        section("Hardware", "hardware/index.md", [{title(p): p} for p in hardware]),
        {"Methodology": "methodology.md"},
        {"Data": "data.md"},
    ]


def _vl_convert_version() -> str:
    import vl_convert

    return str(vl_convert.__version__)  # type: ignore[attr-defined]  # the type stub leaves it out


def _vegalite_version() -> str:
    """The Vega-Lite version Altair writes specs for, as vl-convert names it ('6.4')."""
    import vl_convert

    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    available = vl_convert.get_vegalite_versions()
    if major_minor not in available:
        raise CliError(
            f"vl-convert {_vl_convert_version()} lacks Vega-Lite {major_minor} (has {available}); "
            "install matching altair and vl-convert-python versions"
        )
    return major_minor


def vega_versions() -> str:
    import vl_convert

    return (
        f"Vega {vl_convert.get_vega_version()}, Vega-Lite {_vegalite_version()}, "
        f"vega-embed {vl_convert.get_vega_embed_version()} (bundled by vl-convert {_vl_convert_version()})"
    )


def _environment(templates_dir: Path) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,  # plus ``finalize``: every value is HTML- and Markdown-escaped
        finalize=finalize,
        undefined=jinja2.StrictUndefined,  # a misspelt field is an error, not an empty cell
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["href"] = href
    environment.filters["code"] = code
    environment.filters["table"] = markdown_table
    return environment


def _previous_svg(previous_dir: Path | None, svg_path: str, spec_json: str, version: str) -> bytes | None:
    """The previous render's SVG of a chart when it carries the same stamp (same spec, same vl-convert):
    drawing it again would give the same bytes, at a fifth of a second or more per chart."""
    if previous_dir is None:
        return None
    try:
        # The old site is untrusted (it may hold links or FIFOs): regular files only.
        previous = read_regular_file(previous_dir / svg_path, max_bytes=64 * 1024 * 1024)
    except (OSError, RecordError):
        return None
    return previous if svg.reusable(previous, spec_json, version) else None


SHARED_DATA_FROM = 10  # rows: below this a layer's data stays in its spec (one request fewer)


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _share_data(
    spec: dict[str, Any], shared: tuple[str, str], files: dict[str, bytes], names: dict[int, tuple[object, str]]
) -> dict[str, Any]:
    """``spec`` with each top-level layer's large inline data replaced by a URL of a file named by its
    content: a figure drawn on every model page carries every model's points once, not once per page.

    ``names`` remembers the file of each data list already written (by identity: the model pages'
    copies of a figure share one list), so a thousand pages serialise those points once.
    """
    folder, url_prefix = shared
    layers = []
    for layer in spec.get("layer", []):
        values = layer.get("data", {}).get("values") if isinstance(layer, dict) else None
        if isinstance(values, list | tuple) and len(values) >= SHARED_DATA_FROM:
            known = names.get(id(values))
            if known is None:
                text = _dumps(values) + "\n"
                name = f"{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}.json"
                files[f"{folder}/{name}"] = text.encode("utf-8")
                known = names[id(values)] = (values, name)  # the list is kept, so its id stays its own
            layer = {**layer, "data": {"url": f"{url_prefix}/{known[1]}"}}
        layers.append(layer)
    return {**spec, "layer": layers} if "layer" in spec else spec


def _write_spec(
    job: pages.ChartJob, files: dict[str, bytes], shared_names: dict[int, tuple[object, str]]
) -> str | None:
    """Puts the chart's spec file (and any data file it shares) into ``files``. Returns, for a chart with
    an SVG, the spec with its data inline, which the SVG is drawn from (and stamped with): same image,
    no file access."""
    # Schema validation costs ~50 ms a chart; the tests validate every chart
    # function (to_dict()), so the render itself skips it.
    with alt.utils.schemapi.debug_mode(False):
        spec = job.chart.to_dict(validate=False)
    shared = spec if job.shared_data is None else _share_data(spec, job.shared_data, files, shared_names)
    published = _dumps(shared)
    files[job.spec_path] = (published + "\n").encode("utf-8")
    if job.svg_path is None:
        return None
    return published if shared is spec else _dumps(spec)


class _ChartWriter:
    """Each chart's spec file, and its SVG drawn (or reused), while the rest of the site is built."""

    def __init__(self, previous_dir: Path | None) -> None:
        self.previous_dir = previous_dir
        self.version = _vegalite_version()
        self.files: dict[str, bytes] = {}
        self.shared_names: dict[int, tuple[object, str]] = {}
        self.drawing: list[str] = []  # SVG paths, in the order handed to the drawer
        self.drawer = svg.Drawer(self.version)

    def add(self, jobs: Sequence[pages.ChartJob]) -> None:
        wanted: list[str] = []
        for job in jobs:
            text = _write_spec(job, self.files, self.shared_names)
            if job.svg_path is not None and text is not None:
                reused = _previous_svg(self.previous_dir, job.svg_path, text, self.version)
                if reused is not None:
                    self.files[job.svg_path] = reused
                else:
                    self.drawing.append(job.svg_path)
                    wanted.append(text)
        self.drawer.submit(wanted)

    def result(self) -> dict[str, bytes]:
        self.files.update(zip(self.drawing, self.drawer.results(), strict=True))
        return self.files

    def close(self) -> None:
        self.drawer.close()


class VegaBundle:
    """Vega, Vega-Lite and vega-embed in one file served by the site itself (no CDN, works offline).

    A previous render's copy, or the user cache's, when it has this version's header
    (building it again would give the same bytes); else built from the moment this
    object exists (``svg.BundleBuilder``), and kept in the user cache for the next
    render. ``close`` it.
    """

    def __init__(self, previous_dir: Path | None) -> None:
        self.bundle = _reused_vega_bundle(None if previous_dir is None else previous_dir / VEGA_BUNDLE)
        self.builder = None if self.bundle is not None else svg.BundleBuilder(_vegalite_version())

    def result(self) -> bytes:
        if self.bundle is None:
            assert self.builder is not None
            self.bundle = _bundle_header() + self.builder.result().encode("utf-8")
            try:
                write_if_changed(_bundle_cache_file(), self.bundle)
            except OSError:
                pass  # a read-only home only costs the 2 s next time
        return self.bundle

    def close(self) -> None:
        if self.builder is not None:
            self.builder.close()


def build_site_model(
    items: list[LoadedRecord],
    baseline: str | None = None,
    charts_so_far: Callable[[list[pages.ChartJob]], None] | None = None,
    page_text: Callable[[pages.Page], bytes] | None = None,
) -> pages.SiteModel:
    """Every page's model, every chart and every data download, from the records.

    ``baseline``: the run the comparison page sets the others against
    ('<hardware>/<configuration>'); None: the first run. ``charts_so_far``: given
    each figures page's charts as soon as they exist (then not kept in ``site.charts``),
    so their drawing overlaps the building of the other pages. ``page_text``: renders
    a page's Markdown; given, model pages come with their text (``Page.text``).
    """
    site = pages.SiteModel()
    records = [item.record for item in items]
    runs = group_runs(items)
    palette = charts.Palette.for_records(records)
    by_model: dict[str, list[tuple[Run, LoadedRecord]]] = {}
    for run in runs:
        for item in run.items:
            by_model.setdefault(item.record.model.name, []).append((run, item))
    listed = len(by_model) <= NAV_MODELS_LIMIT
    # Built once, before the fork, for every model page of both children.
    highlights = pages.ModelHighlights.build(runs, palette)  # shared by every model page's small figures
    pools = pages.RankPools.build(records, runs)  # what every model page ranks against

    def rendered(page: pages.Page) -> pages.Page:
        """``page`` with its text, when ``page_text`` is given: in a child, the text is all that goes back."""
        if page_text is None:
            return page
        return pages.Page(page.path, page.template, pages.Titles(page.model.title), page_text(page))

    def build_model_pages(models: Sequence[str]) -> tuple[list[pages.Page], dict[str, bytes]]:
        """The pages of ``models`` (registry names), and their files: chart specs serialised, data files shared,
        batch images drawn."""
        part = pages.SiteModel()
        for name in models:
            model_page = replace(pages.model_page(by_model[name], records, part, highlights, pools), listed=listed)
            part.pages.append(
                rendered(pages.Page(pages.model_path(by_model[name][0][1].record), "model.md.j2", model_page))
            )
        shared_names: dict[int, tuple[object, str]] = {}
        for job in part.charts:
            if job.svg_path is not None:  # its image would need the drawer, which lives in the parent
                raise ValueError(f"model page chart {job.spec_path} wants an SVG drawn by vl-convert")
            _write_spec(job, part.files, shared_names)
        return part.pages, part.files

    def build_comparison_and_downloads() -> tuple[list[pages.Page], list[pages.ChartJob], dict[str, bytes]]:
        """The comparison page (when there are runs to compare), its charts, the record downloads and the
        CSVs: a zoo's comparison is seconds of bootstrap, and the downloads seconds of serialising."""
        part = pages.SiteModel()
        if len(run_refs(runs)) > 1:
            model = pages.comparison_page(runs, part, baseline)
            part.pages.append(rendered(pages.Page("hardware/compare.md", "compare.md.j2", model)))
        # Plain data: it pickles back from the child, and the parent's writer serialises it as it is.
        jobs = [replace(job, chart=charts.VegaLite(job.chart.to_dict(validate=False))) for job in part.charts]
        files = export.record_downloads(items)
        files["data/records.csv"] = export.records_csv(items).encode("utf-8")
        for slug in sorted({run.hardware_slug for run in runs}):
            files[pages.leaderboard_csv_path(slug)] = export.leaderboard_csv(
                [run for run in runs if run.hardware_slug == slug]
            ).encode("utf-8")
        return part.pages, jobs, files

    # A zoo's model pages, and its comparison and downloads, are built in two other processes while this
    # one builds the rest. They fork here, before the drawer of the figures' images starts its processes
    # and their thread.
    fork = len(by_model) >= FORK_MODEL_PAGES_FROM and usable_cpus() >= 2
    # The model pages are most of the work: two children (the data files they share have the same name
    # and bytes in both).
    names = sorted(by_model)
    halves = (names[: len(names) // 2], names[len(names) // 2 :]) if fork else (names,)
    with (
        contextlib.ExitStack() as stack,
        Background(build_comparison_and_downloads, fork) as comparison_and_downloads,
    ):
        model_parts = [
            stack.enter_context(Background(functools.partial(build_model_pages, half), fork)) for half in halves
        ]
        site.pages.append(pages.Page("figures/index.md", "index.md.j2", pages.figures_index(runs)))
        for run in runs:
            for scope in pages.scopes(run):
                site.pages.append(
                    pages.Page(
                        pages.figures_path(run, scope), "figures.md.j2", pages.figures_page(run, scope, palette, site)
                    )
                )
                if charts_so_far is not None:
                    # Page by page: the drawing starts while the later figures pages are still being built.
                    charts_so_far(site.charts)
                    site.charts = []
        found_by_run: dict[tuple[object, ...], list[Finding]] = {}

        def findings_of(run: Run) -> list[Finding]:
            # The home page's claims table and its comparison lines need the same runs' verdicts. A run is
            # keyed by its records, which live as long as this render (so their ids stay theirs).
            key = (run.hardware_slug, run.config_slug, *(id(item) for item in run.items))
            if key not in found_by_run:
                found_by_run[key] = run_findings(run)
            return found_by_run[key]

        try:
            home_comparison = pages.home_lines(runs, baseline, findings_of)
        except BaselineError as error:
            raise CliError(str(error)) from None
        home = replace(pages.home_page(items, runs, findings_of), comparison=home_comparison)
        site.pages.append(pages.Page("index.md", "home.md.j2", home))
        site.pages.append(pages.Page("models/index.md", "leaderboard.md.j2", pages.leaderboard_page(runs)))
        site.pages.append(pages.Page("hardware/index.md", "index.md.j2", pages.hardware_index(runs)))
        for slug in sorted({run.hardware_slug for run in runs}):
            site.pages.append(
                pages.Page(
                    pages.hardware_path(slug),
                    "hardware.md.j2",
                    pages.hardware_page(slug, [r for r in runs if r.hardware_slug == slug]),
                )
            )
        site.pages.append(
            pages.Page("methodology.md", "methodology.md.j2", pages.methodology_page(records, vega_versions()))
        )
        site.pages.append(pages.Page("data.md", "data.md.j2", pages.data_page(runs, export.COLUMNS)))
        comparison_pages, comparison_charts, downloads = comparison_and_downloads.result()
        site.pages.extend(comparison_pages)
        site.charts.extend(comparison_charts)
        site.files.update(downloads)
        for part in model_parts:  # as late as can be: the children are still at work
            model_pages, model_files = part.result()
            site.pages.extend(model_pages)
            site.files.update(model_files)
    site.files[NAV_FILE] = (json.dumps(navigation(site), indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    return site


def render_files(
    items: list[LoadedRecord],
    templates_dir: Path,
    previous_dir: Path | None = None,
    baseline: str | None = None,
    bundle: VegaBundle | None = None,
) -> dict[str, bytes]:
    """The whole site as {relative path: bytes}; raises before anything is written.

    ``previous_dir`` (the folder being re-rendered) only lets identical SVGs and
    Vega bundle be reused instead of drawn and built again; it never changes the
    output. ``bundle``: the caller's, already started (else one of ``previous_dir``).
    """
    if not templates_dir.is_dir():
        raise CliError(f"templates folder {templates_dir} not found")
    environment = _environment(templates_dir)
    own_bundle = bundle is None
    vega = VegaBundle(previous_dir) if bundle is None else bundle
    writer = _ChartWriter(previous_dir)
    try:
        # Altair validates every object as it is built (its debug mode): half the
        # render time for big sets. The tests validate every chart function instead.
        with alt.utils.schemapi.debug_mode(False):
            site = build_site_model(
                items, baseline, charts_so_far=writer.add, page_text=functools.partial(_page_text, environment)
            )
        writer.add(site.charts)
        files = _page_files(site, environment)
        bundle_bytes = vega.result()
        files.update(writer.result())
    finally:
        writer.close()
        if own_bundle:
            vega.close()
    files.update(site.files)
    assets = templates_dir / "assets"
    if assets.is_dir():
        for path in sorted(assets.rglob("*")):
            if path.is_file():
                files[f"assets/{path.relative_to(assets).as_posix()}"] = path.read_bytes()
    files[VEGA_BUNDLE] = bundle_bytes
    return files


def _page_files(site: pages.SiteModel, environment: jinja2.Environment) -> dict[str, bytes]:
    files: dict[str, bytes] = {MARKER: MARKER_TEXT.encode("utf-8")}
    for page in site.pages:
        files[page.path] = page.text if page.text is not None else _page_text(environment, page)
    return files


def _page_text(environment: jinja2.Environment, page: pages.Page) -> bytes:
    text = environment.get_template(page.template).render(
        page=page.model,
        path=page.path,
        front_title=front_matter_title(getattr(page.model, "short_title", page.model.title)),
    )
    return text.encode("utf-8")


def _reused_vega_bundle(previous: Path | None) -> bytes | None:
    """Vega, Vega-Lite and vega-embed in one file served by the site itself (no CDN, works offline),
    when a previous render's copy, or the user cache's, has this version header: building it again
    would give the same bytes."""
    header = _bundle_header()
    for candidate in (previous, _bundle_cache_file()):
        if candidate is None:
            continue
        try:
            # The old site is untrusted (it may hold links or FIFOs): regular files only.
            existing = read_regular_file(candidate, max_bytes=64 * 1024 * 1024)
        except (OSError, RecordError):
            continue
        if existing.startswith(header):
            return existing
    return None


def _bundle_header() -> bytes:
    return f"// {vega_versions()}\n".encode()


def _bundle_cache_file() -> Path:
    return _cache_dir() / f"vega-bundle-{_vl_convert_version()}-{_vegalite_version()}.js"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "canziani-report"


@dataclass(frozen=True)
class SyncReport:
    written: int
    removed: int
    unchanged: int


def _check_site_names(files: Mapping[str, bytes]) -> None:
    for name in files:
        pure = PurePosixPath(name)
        if (
            pure.is_absolute()
            or not pure.parts
            or any(part in ("", ".", "..") for part in pure.parts)
            or "\\" in name
            or "\x00" in name
        ):
            raise ValueError(f"refusing to write outside the site: {name!r}")
    # A file whose path is also a folder of another file cannot exist: say which
    # (the record-supplied names are chosen so this cannot happen; a bug would).
    folders = {str(parent) for name in files for parent in PurePosixPath(name).parents}
    clash = sorted(folders & set(files))
    if clash:
        raise ValueError(f"site path {clash[0]!r} would be both a file and a folder")


def _regular_files(root: Path) -> dict[str, Path]:
    """Regular files under ``root`` by relative POSIX path; links are neither followed nor listed."""
    found: dict[str, Path] = {}
    if not root.is_dir() or root.is_symlink():
        return found
    for folder, _subfolders, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(folder) / name
            try:
                if stat.S_ISREG(path.lstat().st_mode):
                    found[path.relative_to(root).as_posix()] = path
            except OSError:
                continue
    return found


def _holds(path: Path, data: bytes) -> bool:
    """Whether the regular file ``path`` (never a link, FIFO or device) holds exactly ``data``."""
    try:
        if path.lstat().st_size != len(data):
            return False
        return read_regular_file(path, max_bytes=len(data)) == data
    except (OSError, RecordError):
        return False


_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where the system lacks it."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), _RENAME_EXCHANGE)
    return bool(result == 0)


def _swap_in(staging: Path, out_dir: Path) -> Path | None:
    """Put ``staging`` where ``out_dir`` is; returns where the old folder went (to be removed)."""
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return None
    if _exchange(staging, out_dir):
        return staging  # now holds the old site
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    os.rename(out_dir, old)
    try:
        os.rename(staging, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    return old


def _remove_leftovers(out_dir: Path) -> None:
    """Folders a killed render left beside ``out_dir`` (recognised by the marker inside)."""
    for pattern in (f".{out_dir.name}.render-*", f".{out_dir.name}.old-*"):
        for path in out_dir.parent.glob(pattern):
            if path.is_dir() and not path.is_symlink() and (path / MARKER).is_file():
                shutil.rmtree(path, ignore_errors=True)


def sync_tree(files: Mapping[str, bytes], out_dir: Path) -> SyncReport:
    """Make ``out_dir`` hold exactly ``files``, all at once or not at all.

    The new site is written into a fresh folder beside ``out_dir`` and swapped
    in with one rename, so a failure at any point (a full disk, a kill) leaves
    ``out_dir`` exactly as it was, and nothing is ever written through a link
    left in the old folder. Files whose bytes did not change are hard links to
    the old ones, so they keep their modification time (MkDocs and git see no
    change).
    """
    if out_dir.is_symlink():
        raise CliError(f"{out_dir} is a symbolic link; give the folder it points to")
    if out_dir.exists() and not out_dir.is_dir():
        raise CliError(f"{out_dir} is not a folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise CliError(
            f"{out_dir} holds files the render did not write (no {MARKER}); "
            "choose an empty or previously rendered folder"
        )
    _check_site_names(files)
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out_dir)
    previous = _regular_files(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.render-", dir=out_dir.parent))
    old: Path | None = None
    try:
        written = unchanged = 0
        # The marker goes first so that a leftover staging folder is recognised as ours.
        for name in sorted(files, key=lambda n: (n != MARKER, n)):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = previous.get(name)
            if source is not None and _holds(source, files[name]):
                try:
                    os.link(source, target, follow_symlinks=False)
                    unchanged += 1
                    continue
                except OSError:
                    pass  # a file system without hard links: write a copy
            target.write_bytes(files[name])
            written += 1
        os.chmod(staging, 0o777 & ~_UMASK)  # mkdtemp's folder is private; a site is not
        removed = len(set(previous) - set(files))
        old = _swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return SyncReport(written, removed, unchanged)


def render_site(
    measurements_dir: Path,
    templates_dir: Path,
    out_dir: Path,
    quiet: bool = False,
    allow_empty: bool = False,
    baseline: str | None = None,
) -> SyncReport:
    """Read and validate every record, render the site in memory, then swap it into ``out_dir``.

    Zero records over a site that has pages is refused unless ``allow_empty``:
    a mistyped ``--measurements`` must not wipe the published site.
    """
    started = time.perf_counter()
    stamp = _inputs_stamp(measurements_dir, templates_dir, baseline)
    unchanged = _unchanged_since_last_render(out_dir, stamp)
    if unchanged is not None:
        if not quiet:
            print(
                f"{out_dir} is up to date: the records, templates and generator are those of its last render "
                f"({unchanged} files, {time.perf_counter() - started:.1f} s)"
            )
        return SyncReport(0, 0, unchanged)
    previous_dir = out_dir if (out_dir / MARKER).is_file() else None
    # Built (when it is) while this process reads the records: on the other core.
    with contextlib.closing(VegaBundle(previous_dir)) as bundle:
        with collector_paused():
            items = load_records(measurements_dir)
            # A zoo's records are millions of objects that live as long as the render, read with the cyclic
            # collector paused: its first collections after the read would walk all of them, then every full
            # one again (1.7 s of a 1000 x 3 render). They hold no cycles; reference counting still frees them.
            gc.freeze()
        try:
            if not items and not allow_empty:
                existing = [name for name in _regular_files(out_dir) if name != MARKER]
                if existing:
                    raise CliError(
                        f"no records found under {measurements_dir}; refusing to replace the {len(existing)} "
                        f"files of {out_dir} with an empty site (check --measurements, or pass --allow-empty)"
                    )
            files = render_files(items, templates_dir, previous_dir=previous_dir, baseline=baseline, bundle=bundle)
            files[STAMP] = _stamp_text(stamp, files)
            report = sync_tree(files, out_dir)
        finally:
            gc.unfreeze()
    if not quiet:
        print(
            f"rendered {len(items)} records into {out_dir}: {report.written} files written, "
            f"{report.unchanged} unchanged, {report.removed} removed ({time.perf_counter() - started:.1f} s)"
        )
    return report


# What the site was rendered from, and a digest of what the render wrote (a dot file: MkDocs does not publish it).
STAMP = ".render-stamp.json"


def _digest_files(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def _digest_tree(root: Path, skip: frozenset[str] = frozenset()) -> str:
    """``_digest_files`` of every file under ``root`` (but ``skip``).

    Anything but a regular file or a folder (a link, a FIFO) makes the digest unique, so it never
    matches a stamp: such a tree always gets a real render, which refuses or replaces it.
    """
    if root.is_symlink() or not root.is_dir():
        return f"not a folder {os.urandom(8).hex()}"
    files: dict[str, bytes] = {}
    for folder, subfolders, names in os.walk(root, followlinks=False):
        for name in [*names, *subfolders]:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode) or relative in skip:
                continue
            if not stat.S_ISREG(mode):
                return f"not a regular file: {relative} {os.urandom(8).hex()}"
            files[relative] = path.read_bytes()
    return _digest_files(files)


def _inputs_stamp(measurements_dir: Path, templates_dir: Path, baseline: str | None) -> dict[str, str]:
    """Everything the site is a function of: the records (as bytes), the templates, the generator's own code
    and the versions of the packages that write pages and charts."""
    from importlib import metadata

    package = Path(__file__).resolve().parent.parent
    versions = []
    for name in ("altair", "vl-convert-python", "jinja2", "markupsafe", "pydantic"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    return {
        "measurements": _digest_tree(measurements_dir),
        "templates": _digest_tree(templates_dir),
        "generator": _digest_tree(package, frozenset(n for n in _regular_files(package) if not n.endswith(".py"))),
        "packages": ", ".join(versions),
        "baseline": baseline or "",
    }


def _stamp_text(stamp: dict[str, str], files: Mapping[str, bytes]) -> bytes:
    return (json.dumps({**stamp, "site": _digest_files(files)}, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _unchanged_since_last_render(out_dir: Path, stamp: dict[str, str]) -> int | None:
    """The number of files of ``out_dir`` when it is exactly what rendering ``stamp``'s inputs wrote
    (so rendering again would write the same bytes); None when anything differs or cannot be read."""
    try:
        if out_dir.is_symlink() or not (out_dir / MARKER).is_file():
            return None
        previous = json.loads(read_regular_file(out_dir / STAMP, max_bytes=64 * 1024))
        if not isinstance(previous, dict) or {k: previous.get(k) for k in stamp} != stamp:
            return None
        # Every file still as written: a hand edit, a deleted file or a planted link gets a real render.
        if previous.get("site") != _digest_tree(out_dir, frozenset([STAMP])):
            return None
        return len(_regular_files(out_dir))
    except (OSError, ValueError, RecordError):
        return None


def _load_config(config_file: Path, strict: bool, docs_dir: Path | None, site_dir: Path | None):  # type: ignore[no-untyped-def]
    from mkdocs.config import load_config

    if not config_file.is_file():
        raise CliError(f"MkDocs configuration {config_file} not found")
    overrides: dict[str, Any] = {"strict": strict}
    if docs_dir is not None:
        overrides["docs_dir"] = str(docs_dir)

    if site_dir is not None:
        overrides["site_dir"] = str(site_dir)
    return load_config(config_file=str(config_file), **overrides)


def build_site(
    config_file: Path, strict: bool = True, docs_dir: Path | None = None, site_dir: Path | None = None
) -> int:
    """``mkdocs build`` (strict by default: a broken link or missing page fails); returns an exit code."""
    from mkdocs.commands.build import build
    from mkdocs.exceptions import Abort, ConfigurationError

    from generator.render.parallel_output import ParallelOutput
    from generator.render.parallel_pages import ParallelPages
    from generator.render.plain_text import PlainTextExtension

    # MkDocs reports each broken link or missing page as a log warning; without a
    # handler only "Aborted with N warnings" would reach the user.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    logger = logging.getLogger("mkdocs")
    logger.addHandler(handler)
    try:
        config = _load_config(config_file, strict, docs_dir, site_dir)
        if not Path(config.docs_dir).is_dir():
            raise CliError(f"rendered site {config.docs_dir} not found: run 'python -m generator render' first")
        # Same HTML, about a quarter less build time for a zoo (its pages are mostly tables of numbers).
        config["markdown_extensions"].append(PlainTextExtension())
        # A zoo's pages converted on two cores: same HTML, same warnings.
        config.plugins["canziani-report/parallel-pages"] = ParallelPages()
        # Then half the pages' HTML written, and the static files copied, on the other core (after it: its
        # on_env stops its thread before this one forks).
        config.plugins["canziani-report/parallel-output"] = ParallelOutput()
        nav_file = Path(config.docs_dir) / NAV_FILE
        if nav_file.is_file():
            # The render's navigation lists every page; mkdocs.yml's own is the short fallback.
            config["nav"] = json.loads(nav_file.read_text(encoding="utf-8"))
        build(config)
    except (Abort, ConfigurationError) as error:
        print(f"error: mkdocs build failed: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        logger.removeHandler(handler)
    print(f"built {config.site_dir}")
    return 0


def serve_site(config_file: Path, address: str = "127.0.0.1:8000", docs_dir: Path | None = None) -> int:
    """``mkdocs serve`` for local preview; blocks until interrupted."""
    from mkdocs.commands.serve import serve

    if not config_file.is_file():
        raise CliError(f"MkDocs configuration {config_file} not found")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if docs_dir is None:
        serve(config_file=str(config_file), dev_addr=address)
    else:
        serve(config_file=str(config_file), dev_addr=address, docs_dir=str(docs_dir))
    return 0
