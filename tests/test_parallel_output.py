"""Half of a strict build's pages written, and its static files copied, by a forked child: the same site and
the same strict warnings as without it, whether the child does its part or dies."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from generator.host_load import usable_cpus
from generator.render import parallel_output
from generator.render.site import build_site

pytestmark = pytest.mark.skipif(usable_cpus() < 2, reason="the child is only forked with two CPUs or more")

PAGES = 8
STATIC_FILES = 20


def _docs(root: Path, hooks: str | None = None) -> tuple[Path, Path]:
    """Pages linking to each other and to many small data files in nested folders, and a file a theme
    template writes over (sitemap.xml): MkDocs' output must win, as without the plugin."""
    docs = root / "docs"
    (docs / "data" / "deep").mkdir(parents=True)
    data = []
    for index in range(STATIC_FILES):
        name = f"data/{'deep/' if index % 2 else ''}file{index:03d}.json"
        (docs / name).write_text(f'{{"index": {index}}}\n', encoding="utf-8")
        data.append(name)
    for index in range(PAGES):
        links = "\n".join(f"- [file]({name})" for name in data[index::PAGES])
        text = f"# Page {index}\n\nNext: [page](page{(index + 1) % PAGES}.md#part-two).\n\n{links}\n\n## Part two\n"
        (docs / f"page{index}.md").write_text(text, encoding="utf-8")
    (docs / "sitemap.xml").write_text("<not-the-theme's/>\n", encoding="utf-8")
    config = root / "mkdocs.yml"
    settings = "site_name: test\ntheme: mkdocs\nuse_directory_urls: false\n"
    if hooks is not None:
        (root / "hooks.py").write_text(hooks, encoding="utf-8")
        settings += "hooks:\n  - hooks.py\n"
    config.write_text(settings, encoding="utf-8")
    return config, docs


def _tree(site: Path) -> dict[str, bytes]:
    return {path.relative_to(site).as_posix(): path.read_bytes() for path in sorted(site.rglob("*")) if path.is_file()}


def _build(
    root: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool, hooks: str | None = None
) -> tuple[int, dict[str, bytes], list[tuple[int, str]]]:
    """The exit code, the built site, and (process, page) of each page the plugin's work wrote."""
    config, docs = _docs(root, hooks)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # the theme stamps each page with the build's date
    monkeypatch.setattr(parallel_output, "PARALLEL_FROM", 1 if parallel else 10**9)
    log = root / "written.txt"
    log.touch()
    original = parallel_output._build_page

    def build_page(page: Any, *args: Any, **kwargs: Any) -> None:
        with log.open("a", encoding="utf-8") as out:  # seen from the child too
            out.write(f"{os.getpid()} {page.file.src_uri}\n")
        original(page, *args, **kwargs)

    monkeypatch.setattr(parallel_output, "_build_page", build_page)
    code = build_site(config, strict=True, docs_dir=docs, site_dir=root / "site")
    written = [(int(pid), page) for pid, page in (line.split() for line in log.read_text().splitlines())]
    return code, _tree(root / "site"), written


LATER_HALF = [f"page{index}.md" for index in range(PAGES // 2, PAGES)]


def test_the_child_writes_the_later_pages_and_the_site_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, expected, written_alone = _build(tmp_path / "alone", monkeypatch, parallel=False)
    assert code == 0 and written_alone == []
    code, site, written = _build(tmp_path / "child", monkeypatch, parallel=True)
    assert code == 0
    assert site == expected
    assert [page for _, page in written] == LATER_HALF
    assert {pid for pid, _ in written} != {os.getpid()}
    assert site["data/deep/file019.json"] == b'{"index": 19}\n'
    assert b"not-the-theme" not in site["sitemap.xml"]  # the theme's sitemap is written after, and stays


def test_when_the_child_dies_the_parent_writes_its_pages_and_copies_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, expected, _ = _build(tmp_path / "alone", monkeypatch, parallel=False)
    parent = os.getpid()
    original = parallel_output._write

    def write(work: Any) -> Any:
        if os.getpid() != parent:
            os._exit(1)  # killed before it wrote anything
        return original(work)

    monkeypatch.setattr(parallel_output, "_write", write)
    code, site, written = _build(tmp_path / "child", monkeypatch, parallel=True)
    assert code == 0
    assert site == expected
    assert written == [(parent, page) for page in LATER_HALF]


def test_a_warning_while_the_child_writes_a_page_fails_a_strict_build_and_is_printed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    original = parallel_output._build_page

    def build_page(page: Any, *args: Any, **kwargs: Any) -> None:
        if page.file.src_uri == "page7.md":
            logging.getLogger("mkdocs.test").warning("a warning while page7.md is written")
        original(page, *args, **kwargs)

    monkeypatch.setattr(parallel_output, "_build_page", build_page)
    code, _, written = _build(tmp_path, monkeypatch, parallel=True)
    assert "page7.md" in [page for pid, page in written if pid != os.getpid()]
    assert code == 1
    assert capsys.readouterr().err.count("a warning while page7.md is written") == 1


WARN_ON_LAST_PAGE = """
import logging

def on_page_context(context, page, config, nav):
    if page.file.src_uri == "page7.md":
        logging.getLogger("mkdocs.hooks").warning("a warning while page7.md is written")
    return context
"""


def test_a_plugin_it_does_not_know_keeps_the_whole_build_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, written = _build(tmp_path, monkeypatch, parallel=True, hooks=WARN_ON_LAST_PAGE)
    assert written == [] and code == 1
    assert capsys.readouterr().err.count("a warning while page7.md is written") == 1
