"""Render stage, end to end: the command line, determinism, bad input, escaping, MkDocs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.factory import CPU, GPU, STUDY_MODELS, FixtureHardware, FixtureModel, make_record, write_bad_fixtures, \
    write_records
from generator.cli import main
from generator.errors import CliError
from generator.render.site import MARKER, STAMP, build_site, render_site, sync_tree

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "measurements"
TEMPLATES = REPO / "templates"
CDN = re.compile(rb"cdn\.jsdelivr|unpkg\.com|cdnjs|fonts\.googleapis")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render") / "site"
    assert main(["render", "--measurements", str(FIXTURES), "--out", str(out)]) == 0
    return out


def test_render_writes_every_page(rendered: Path) -> None:
    for page in ("index.md", "figures/index.md", "models/index.md", "hardware/index.md", "hardware/compare.md",
                 "methodology.md", "data.md", "data/records.csv", "data/records.json",
                 "figures/fixture-gpu/fp32/study.md", "figures/fixture-gpu/fp32/all.md",
                 "figures/fixture-gpu/fp32/charts/study-fig3.svg", "models/resnet50.md", "models/timm-inception_v4.md",
                 "hardware/fixture-gpu.md", "data/records/fixture-gpu/fp32/resnet50.json",
                 "assets/vega/vega-bundle.js", "assets/charts.js"):
        assert (rendered / page).is_file(), page


def test_home_states_findings_with_numbers(rendered: Path) -> None:
    home = (rendered / "index.md").read_text()
    assert "29 records: 15 models measured on 2 machines in 2 hardware × configuration runs." in home
    assert "0\\.0400" not in home and "0.0400 ms per GFLOP × GFLOPs + 0.500 ms, R² = 1.000 over 10 models" in home
    assert "Cannot be tested on this run: power not measurable (no RAPL energy counter readable on this CPU)." in home
    # Claims rest on the fixture runs' 10 study networks: the GPU's power spread, 10 % (9.8-11 %), straddles
    # the 10 % threshold.
    assert "Power vs batch size and architecture: inconclusive" in home
    assert "Spread (standard deviation / mean): 10 % (95 % interval 9.8 %–11 %, n = 10 models)." in home
    assert "Pareto front" in home
    assert "broken\\_net" in home  # the model that failed is listed, escaped
    # Each testable finding shows its figure, linked to the interactive one; none for untestable ones.
    assert "[![Fig. 7](figures/fixture-gpu/fp32/charts/study-fig7.svg)](figures/fixture-gpu/fp32/study.md#fig7)" in home
    assert "fixture-cpu-2t/fp32/charts/study-fig4.svg" not in home


def test_figures_page_marks_exclusions_and_missing_power(rendered: Path) -> None:
    gpu = (rendered / "figures/fixture-gpu/fp32/study.md").read_text()
    assert "VGG-19 at batch 64: oom (CUDA out of memory (synthetic))" in gpu
    assert "Best top-1 at ≥ 30 images/s at batch 1" in gpu
    cpu = (rendered / "figures/fixture-cpu-2t/fp32/study.md").read_text()
    assert "Power not measurable on this hardware: no RAPL energy counter readable on this CPU." in cpu
    assert "charts/study-fig4" not in cpu  # no empty power chart drawn as zeros


def test_model_page_shows_measured_accuracy_beside_published(rendered: Path) -> None:
    page = (rendered / "models/resnet50.md").read_text()
    assert "| published | 76.10 % | 92.90 % |" in page
    assert "| measured | 75.90 % | 90.00 % |" in page
    assert "top-1 − 0.200 points vs published" in page


def test_hardware_pages(rendered: Path) -> None:
    page = (rendered / "hardware/fixture-gpu.md").read_text()
    assert "| GPU | Fixture GPU |" in page and "| power limit | 700 W |" in page
    compare = (rendered / "hardware/compare.md").read_text()
    assert "Baseline: **Fixture CPU, 2 threads (synthetic data), fp32**" in compare
    # The GPU's synthetic times are about 100 times shorter: every common model faster, beyond its interval.
    assert "## Fixture GPU (synthetic data), fp32 against Fixture CPU" in compare
    assert "faster / slower / indistinguishable / no interval" in compare and "| 14 / 0 / 0 / 0 |" in compare
    assert "broken\\_net: measured only on Fixture CPU" in compare  # Markdown-escaped underscore


def test_render_is_deterministic_and_incremental(rendered: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    render_site(FIXTURES, TEMPLATES, again, quiet=True)
    assert _tree(again) == _tree(rendered)
    stale = again / "models" / "gone.md"
    stale.write_text("left by an older render\n")
    before = {p: p.stat().st_mtime_ns for p in again.rglob("*") if p.is_file() and p != stale}
    report = render_site(FIXTURES, TEMPLATES, again, quiet=True)
    assert report.written == 0 and report.removed == 1
    assert not stale.exists()
    assert {p: p.stat().st_mtime_ns for p in again.rglob("*") if p.is_file()} == before


def test_the_vega_bundle_is_built_once_then_reused_from_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vl_convert

    from generator.render import svg

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    measurements = tmp_path / "measurements"
    write_records([make_record(model, CPU) for model in STUDY_MODELS[:2]], measurements)
    render_site(measurements, TEMPLATES, tmp_path / "first", quiet=True)
    built = (tmp_path / "first/assets/vega/vega-bundle.js").read_text(encoding="utf-8")
    header, _, script = built.partition("\n")
    assert header.startswith("// Vega ") and script == vl_convert.javascript_bundle(vl_version=svg_version())
    assert [p.read_text(encoding="utf-8") for p in (tmp_path / "cache").rglob("vega-bundle-*.js")] == [built]

    def no_build(*args: object) -> object:
        raise AssertionError("the bundle was built again")

    monkeypatch.setattr(svg, "BundleBuilder", no_build)
    render_site(measurements, TEMPLATES, tmp_path / "second", quiet=True)
    assert (tmp_path / "second/assets/vega/vega-bundle.js").read_text(encoding="utf-8") == built


def test_when_the_bundling_process_fails_the_bundle_is_built_in_the_render_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vl_convert

    from generator.render import svg

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(svg, "_BUNDLE_SCRIPT", "import sys; sys.stdout.write('half a bundle'); sys.exit(3)")
    measurements = tmp_path / "measurements"
    write_records([make_record(STUDY_MODELS[0], CPU)], measurements)
    render_site(measurements, TEMPLATES, tmp_path / "site", quiet=True)
    script = (tmp_path / "site/assets/vega/vega-bundle.js").read_text(encoding="utf-8").partition("\n")[2]
    assert script == vl_convert.javascript_bundle(vl_version=svg_version())


def svg_version() -> str:
    from generator.render.site import _vegalite_version

    return _vegalite_version()


def test_warm_render_after_a_change_equals_a_cold_render(tmp_path: Path) -> None:
    """What a re-render reuses (SVGs, the Vega bundle) may only skip work whose output is the same bytes:
    over a site of fewer models, the new set's render must equal a render into an empty folder."""
    before, after = tmp_path / "before", tmp_path / "after"
    write_records([make_record(model, CPU) for model in STUDY_MODELS[:3]], before)
    # One more model moves every small figure's axes and points, and adds pages and rows everywhere.
    changed = [make_record(model, CPU) for model in STUDY_MODELS[:4]]
    write_records(changed, after)
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    render_site(before, TEMPLATES, warm, quiet=True)
    report = render_site(after, TEMPLATES, warm, quiet=True)
    assert report.written > 0 and report.unchanged > 0
    render_site(after, TEMPLATES, cold, quiet=True)
    assert _tree(warm) == _tree(cold)
    again = render_site(after, TEMPLATES, warm, quiet=True)  # same inputs: nothing to write
    assert again.written == 0 and _tree(warm) == _tree(cold)


def test_a_render_of_unchanged_inputs_writes_nothing_and_any_change_renders_again(tmp_path: Path) -> None:
    measurements = tmp_path / "measurements"
    write_records([make_record(model, CPU) for model in STUDY_MODELS[:4]], measurements)
    site = tmp_path / "site"
    first = render_site(measurements, TEMPLATES, site, quiet=True)
    before = _tree(site)
    again = render_site(measurements, TEMPLATES, site, quiet=True)
    assert (again.written, again.removed, again.unchanged) == (0, 0, first.written)
    assert _tree(site) == before
    # A hand edit of the output is repaired.
    page = site / "models/alexnet.md"
    page.write_text("edited")
    repaired = render_site(measurements, TEMPLATES, site, quiet=True)
    assert repaired.written == 1 and _tree(site) == before
    # A changed record is rendered.
    record = next(measurements.rglob("alexnet.json"))
    record.write_text(record.read_text().replace('"AlexNet"', '"AlexNet (edited)"'))
    changed = render_site(measurements, TEMPLATES, site, quiet=True)
    assert changed.written > 0 and "AlexNet (edited)" in (site / "models/alexnet.md").read_text()
    # So is a changed template.
    templates = tmp_path / "templates"
    import shutil

    shutil.copytree(TEMPLATES, templates)
    (templates / "data.md.j2").write_text((templates / "data.md.j2").read_text() + "\nA new line.\n")
    assert render_site(measurements, templates, site, quiet=True).written > 0
    assert "A new line." in (site / "data.md").read_text()


def test_sample_lists_are_in_the_site_once(rendered: Path) -> None:
    """records.json lists every record without its samples; each record's own file keeps them."""
    import json

    listed = json.loads((rendered / "data/records.json").read_text())
    assert listed and b"samples_ms_per_batch" not in (rendered / "data/records.json").read_bytes()
    copies = sorted((rendered / "data/records").rglob("*.json"))
    assert len(copies) == len(listed)
    assert all(b"samples_ms_per_batch" in copy.read_bytes() for copy in copies if b'"latency": {' in copy.read_bytes())
    assert any(b"samples_ms_per_batch" in copy.read_bytes() for copy in copies)


@pytest.mark.parametrize("kind", ["missing_field", "unknown_version", "wrong_type", "not_json"])
def test_bad_record_fails_and_leaves_site_untouched(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    records = tmp_path / "measurements"
    write_records([make_record(STUDY_MODELS[0], CPU)], records)
    site = tmp_path / "site"
    render_site(records, TEMPLATES, site, quiet=True)
    before = _tree(site)
    bad = write_bad_fixtures(tmp_path / "bad")[kind]
    (records / bad.name).write_bytes(bad.read_bytes())
    assert main(["render", "--measurements", str(records), "--out", str(site)]) == 1
    message = capsys.readouterr().err
    assert bad.name in message and message.startswith("error: ")
    assert _tree(site) == before


def test_a_render_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    """The render hides the records from the collector while it works (gc.freeze): a long-lived process (a
    server, these tests) must get every object back in the collector's sight, after a failure too."""
    import gc

    records = tmp_path / "measurements"
    write_records([make_record(model, CPU) for model in STUDY_MODELS[:2]], records)
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    render_site(records, TEMPLATES, tmp_path / "site", quiet=True)
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    with pytest.raises(CliError):  # the records are read, then the render stops
        render_site(records, tmp_path / "no-templates", tmp_path / "site2", quiet=True)
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_render_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(CliError, match="did not write"):
        sync_tree({MARKER: b"x", "index.md": b"# x\n"}, foreign)
    assert (foreign / "precious.txt").read_text() == "keep me"


def test_hostile_names_are_shown_as_text(tmp_path: Path) -> None:
    evil = FixtureModel("<script>alert(1)</script>", "<b>fam</b>", "**Bold** [x](javascript:alert(1))",
                        5.0, 1.0, 70.0, 90.0)
    hardware = FixtureHardware("../../evil<slug>", "<img src=x onerror=alert(1)> | pipe", "cuda", 0.1, None)
    records = [make_record(evil, hardware)] + [make_record(m, hardware) for m in STUDY_MODELS[:3]]
    write_records(records, tmp_path / "m")
    site, html = tmp_path / "site", tmp_path / "html"
    render_site(tmp_path / "m", TEMPLATES, site, quiet=True)
    for path in site.rglob("*"):
        assert ".." not in path.relative_to(site).parts
        assert re.fullmatch(r"[A-Za-z0-9._/-]+", path.relative_to(site).as_posix()), path
    markdown = "".join(p.read_text() for p in site.rglob("*.md"))
    assert "<script>" not in markdown and "<img src=x" not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert build_site(REPO / "mkdocs.yml", strict=True, docs_dir=site, site_dir=html) == 0
    built = "".join(p.read_text() for p in html.rglob("*.html"))
    assert "<script>alert(1)</script>" not in built
    assert "<img src=x onerror" not in built
    assert 'href="javascript:' not in built
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in built


def test_mkdocs_strict_build_of_the_fixtures(rendered: Path, tmp_path: Path) -> None:
    html = tmp_path / "html"
    assert build_site(REPO / "mkdocs.yml", strict=True, docs_dir=rendered, site_dir=html) == 0
    for page in ("index.html", "figures/fixture-gpu/fp32/study.html", "models/resnet50.html",
                 "assets/vega/vega-bundle.js"):
        assert (html / page).is_file(), page
    index = (html / "index.html").read_text()
    assert "fonts.googleapis" not in index and "fonts.gstatic" not in index


def test_sidebar_lists_model_pages_up_to_a_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listed, every model page costs time on every other page (the sidebar is in each); a zoo's pages are
    reached through the models index instead, and the strict build still passes."""
    import json

    from generator.render import site as site_module

    def models_section(site: Path) -> list[object]:
        nav = json.loads((site / ".nav.json").read_text())
        return next(item["Models"] for item in nav if "Models" in item)

    listed = tmp_path / "listed"
    render_site(FIXTURES, TEMPLATES, listed, quiet=True)
    section = models_section(listed)
    assert section[0] == "models/index.md" and {"ResNet-50 (resnet50)": "models/resnet50.md"} in section
    monkeypatch.setattr(site_module, "NAV_MODELS_LIMIT", 3)
    unlisted = tmp_path / "unlisted"
    render_site(FIXTURES, TEMPLATES, unlisted, quiet=True)
    assert models_section(unlisted) == ["models/index.md"]
    assert "search:\n  exclude: true\n" in (unlisted / "models/resnet50.md").read_text()
    assert "search:" not in (listed / "models/resnet50.md").read_text()
    html = tmp_path / "html"
    assert build_site(REPO / "mkdocs.yml", strict=True, docs_dir=unlisted, site_dir=html) == 0
    assert (html / "models/resnet50.html").is_file()
    assert 'href="resnet50.html"' in (html / "models/index.html").read_text()
    index = json.loads((html / "search/search_index.json").read_text())
    found = {entry["location"].split("#")[0] for entry in index["docs"]}
    assert "models/index.html" in found and "models/resnet50.html" not in found


def test_figures_of_more_models_than_an_image_can_show_are_interactive_only(
    rendered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from generator.render.pages import compare as compare_module
    from generator.render.pages import figures as figures_module

    page = next((rendered / "figures").rglob("all.md"))
    models = len(list((rendered / "models").glob("*.md"))) - 1  # less the index
    assert "](charts/all-fig2.svg)" in page.read_text() and (page.parent / "charts/all-fig2.svg").is_file()
    compare = rendered / "hardware/compare.md"
    assert "](charts/compare-1.svg)" in compare.read_text()
    monkeypatch.setattr(figures_module, "STATIC_IMAGE_MAX_MODELS", models - 1)
    monkeypatch.setattr(compare_module, "STATIC_IMAGE_MAX_MODELS", 1)  # the scatter: models on both runs
    out = tmp_path / "site"
    render_site(FIXTURES, TEMPLATES, out, quiet=True)
    zoo = out / page.relative_to(rendered)
    text = zoo.read_text()
    assert ".svg)" not in text and not list(zoo.parent.glob("charts/all-*.svg"))
    assert f"Interactive only: a static image of {models} models would be unreadable" in text
    assert 'data-spec="charts/all-fig2.vl.json"' in text  # the figure itself is still there
    assert "The static image shows when JavaScript is off." not in text  # there is none
    study = zoo.with_name("study.md")
    assert "](charts/study-fig2.svg)" in study.read_text()  # fewer models: still an image
    assert "The static image shows when JavaScript is off." in study.read_text()
    compared = (out / "hardware/compare.md").read_text()
    assert ".svg)" not in compared and not list((out / "hardware/charts").glob("*.svg"))
    assert "Interactive only: a static image of " in compared
    assert 'data-spec="charts/compare-1.vl.json"' in compared


def test_strict_build_fails_on_a_broken_link(rendered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "src"
    render_site(FIXTURES, TEMPLATES, broken, quiet=True)
    (broken / "methodology.md").write_text("# x\n\n[gone](nowhere.md)\n")
    assert build_site(REPO / "mkdocs.yml", strict=True, docs_dir=broken, site_dir=tmp_path / "html") == 1
    said = capsys.readouterr().err
    assert "nowhere.md" in said and "mkdocs build failed" in said  # the user learns which link


def test_render_runs_without_torch(tmp_path: Path) -> None:
    records = tmp_path / "m"
    write_records([make_record(m, GPU) for m in STUDY_MODELS[:4]], records)
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # sitecustomize runs before the command: any 'import torch' then raises ImportError.
    (blocker / "sitecustomize.py").write_text(
        "import sys\nfor name in ('torch', 'torchvision', 'timm', 'fvcore'):\n    sys.modules[name] = None\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO)])}
    script = (
        "import sys\nfrom generator.cli import main\n"
        f"code = main(['render', '--measurements', {str(records)!r}, '--out', {str(tmp_path / 'site')!r}])\n"
        "assert sys.modules.get('torch') is None, 'torch was imported'\nsys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "models" / "resnet18.md").is_file()
    blocked = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, timeout=60)
    assert blocked.returncode != 0  # the blocker works, so the render above really ran without torch


def test_committed_site_is_up_to_date(tmp_path: Path) -> None:
    """site/ must be exactly what rendering measurements/ with templates/ gives: re-render and commit."""
    fresh = tmp_path / "site"
    render_site(REPO / "measurements", TEMPLATES, fresh, quiet=True)
    committed, expected = _tree(REPO / "site"), _tree(fresh)
    for tree in (committed, expected):
        tree.pop(STAMP, None)  # not committed (.gitignore): it names the generator's code, which changes more often
    assert sorted(committed) == sorted(expected), "run 'python -m generator render' and commit site/"
    stale = [name for name in expected if committed[name] != expected[name]]
    assert not stale, f"site/ out of date in {stale[:10]}: run 'python -m generator render' and commit site/"


def test_nothing_from_a_cdn() -> None:
    found = []
    for folder in ("site", "templates", "generator"):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and CDN.search(path.read_bytes()):
                found.append(str(path))
    if CDN.search((REPO / "mkdocs.yml").read_bytes()):
        found.append("mkdocs.yml")
    assert not found


def test_render_is_identical_in_another_process(rendered: Path, tmp_path: Path) -> None:
    # A different hash seed changes set and dict-of-set order: output must not depend on it.
    out = tmp_path / "site"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "generator", "render", "--measurements", str(FIXTURES), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert _tree(out) == _tree(rendered)


def _svg_problems(root: Path) -> dict[str, list[str]]:
    from generator.render.layout import text_problems

    found = {}
    for path in sorted(root.rglob("*.svg")):
        problems = text_problems(path.read_text(encoding="utf-8"))
        if problems:
            found[path.relative_to(root).as_posix()] = problems
    return found


def test_no_static_chart_has_overlapping_cut_or_outside_text(rendered: Path) -> None:
    # Every SVG the render writes: data labels, tick labels, legends, titles.
    assert list(rendered.rglob("*.svg")), "no SVG rendered"
    assert _svg_problems(rendered) == {}


def test_no_committed_chart_has_overlapping_cut_or_outside_text() -> None:
    # What GitHub shows: the committed site/ (re-rendered from measurements/ by 'python -m generator render').
    site = REPO / "site"
    if not any(site.rglob("*.svg")):
        pytest.skip("no committed charts")
    assert _svg_problems(site) == {}
