"""MkDocs' pages converted partly in a forked child: the same HTML and the same strict warnings as without it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from generator.host_load import usable_cpus
from generator.render import parallel_pages
from generator.render.site import build_site

pytestmark = pytest.mark.skipif(usable_cpus() < 2, reason="the child is only forked with two CPUs or more")

PAGES = 12


def _docs(root: Path, extra_on_last: str = "") -> tuple[Path, Path]:
    """A small site whose pages link to each other, by page and by anchor, with a table each (so that
    a page takes the converter a moment); the last page, which the child converts first, gets ``extra_on_last``."""
    docs = root / "docs"
    docs.mkdir()
    names = [f"page{index:02d}.md" for index in range(PAGES)]
    for index, name in enumerate(names):
        other = names[(index + 1) % PAGES]
        rows = "\n".join(f"| {index}-{row} | [next]({other}#part-two) | `{row}` |" for row in range(300))
        text = (
            f"# Page {index}\n\nSee [the next page]({other}) and [its second part]({other}#part-two).\n\n"
            f"## Part one\n\n| a | b | c |\n| --- | --- | --- |\n{rows}\n\n## Part two\n\nText *here*.\n"
        )
        if index == PAGES - 1:
            text += extra_on_last
        (docs / name).write_text(text, encoding="utf-8")
    config = root / "mkdocs.yml"
    config.write_text(
        "site_name: test\ntheme: mkdocs\nuse_directory_urls: false\nmarkdown_extensions:\n  - tables\n  - toc:\n"
        "      permalink: true\nvalidation:\n  links:\n    not_found: warn\n    anchors: warn\n",
        encoding="utf-8",
    )
    return config, docs


def _html(site: Path) -> dict[str, bytes]:
    return {path.relative_to(site).as_posix(): path.read_bytes() for path in sorted(site.rglob("*.html"))}


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The pages MkDocs took from the child. The parent waits for the child's first page before it starts,
    so that the child's part is never empty, however the two processes are scheduled."""
    installed: list[str] = []
    original_install = parallel_pages._install
    original_pre_page = parallel_pages.ParallelPages.on_pre_page

    def install(page: parallel_pages.Page, *args: object) -> None:
        installed.append(page.file.src_uri)
        original_install(page, *args)  # type: ignore[arg-type]

    def pre_page(self: parallel_pages.ParallelPages, page: parallel_pages.Page, **kwargs: object) -> object:
        deadline = time.monotonic() + 60
        while not self.done and not self.finished and time.monotonic() < deadline:
            time.sleep(0.01)
        return original_pre_page(self, page, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel_pages, "_install", install)
    monkeypatch.setattr(parallel_pages.ParallelPages, "on_pre_page", pre_page)
    return installed


def _build(config: Path, docs: Path, site: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool) -> int:
    monkeypatch.setattr(parallel_pages, "PARALLEL_FROM", 1 if parallel else 10**9)
    return build_site(config, strict=True, docs_dir=docs, site_dir=site)


def test_pages_converted_by_the_child_give_the_same_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[str]
) -> None:
    config, docs = _docs(tmp_path)
    assert _build(config, docs, tmp_path / "serial", monkeypatch, parallel=False) == 0
    assert taken == []
    assert _build(config, docs, tmp_path / "parallel", monkeypatch, parallel=True) == 0
    assert f"page{PAGES - 1:02d}.md" in taken  # the child's first page
    assert len(taken) < PAGES  # the parent converted its own part
    assert _html(tmp_path / "parallel") == _html(tmp_path / "serial")


def test_warnings_of_a_page_the_child_converted_fail_the_strict_build_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, docs = _docs(tmp_path, "\n[gone](no-such-page.md) and [no anchor](page00.md#no-such-part)\n")
    assert _build(config, docs, tmp_path / "site", monkeypatch, parallel=True) == 1
    assert f"page{PAGES - 1:02d}.md" in taken
    err = capsys.readouterr().err
    assert err.count("'no-such-page.md'") == 1, err
    assert err.count("does not contain an anchor '#no-such-part'") == 1, err
    assert "Aborted with 2 warnings in strict mode" in err


@pytest.mark.parametrize("how", ["dies", "raises"])
def test_when_the_child_fails_mkdocs_converts_its_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[str], how: str
) -> None:
    config, docs = _docs(tmp_path)
    assert _build(config, docs, tmp_path / "serial", monkeypatch, parallel=False) == 0
    original = parallel_pages._convert_from_the_end

    class FailsBeforeLast(list):  # type: ignore[type-arg]
        def __getitem__(self, index: int) -> object:  # type: ignore[override]
            if index == len(self) - 2:
                raise RuntimeError("a bug in the child")
            return super().__getitem__(index)

    def failing(pages: list[object], *args: object) -> None:
        if how == "dies":
            os._exit(3)
        original(FailsBeforeLast(pages), *args)  # type: ignore[arg-type]  # converts the last page, then fails

    monkeypatch.setattr(parallel_pages, "_convert_from_the_end", failing)
    assert _build(config, docs, tmp_path / "parallel", monkeypatch, parallel=True) == 0
    assert taken == ([] if how == "dies" else [f"page{PAGES - 1:02d}.md"])
    assert _html(tmp_path / "parallel") == _html(tmp_path / "serial")
