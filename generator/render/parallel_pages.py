"""MkDocs converts every page's Markdown in turn, on one core; a zoo's thousand model pages are most of its build.

``ParallelPages`` is a MkDocs plugin that ``build_site`` adds. Once the pages are
known (``on_nav``) it forks a child, which converts pages from the last one down
exactly as MkDocs would (read the source, ``on_page_markdown``, render) and sends
each page's HTML, table of contents, anchors and log records back as it finishes
it. MkDocs in the parent converts from the first page up and, for a page the child
has done, takes the child's result instead of converting it again (``on_pre_page``).
The two meet in the middle, wherever that is: a shared counter says how far the
parent has come, and the child stops there.

The child runs ``on_page_markdown`` on its own copy of the plugins: the same Markdown
as long as a plugin's hook depends on the page alone (this site's plugin, Material's
search, has no such hook). Whatever goes wrong in the child (an exception, a kill, a result that cannot be
pickled), the parent converts the pages it lacks itself. The HTML, and the warnings
that ``--strict`` counts, are the same either way: the child's log records are
replayed in the parent, page by page, in MkDocs' own order.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import TableOfContents

from generator.host_load import usable_cpus

PARALLEL_FROM = 100  # pages: below, a second process costs more than it saves


@dataclass(frozen=True)
class Converted:
    """What ``Page.render`` leaves on a page (MkDocs 1.6), and the log records it emitted on the way."""

    content: str
    toc: TableOfContents
    title_from_render: str | None
    present_anchor_ids: set[str] | None
    links_to_anchors: dict[str, dict[str, str]] | None  # by the linked file's src_uri
    records: list[logging.LogRecord]


def _portable(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message formatted and its traceback as text: its arguments may not pickle."""
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    record.msg, record.args, record.exc_info = record.getMessage(), None, None
    return record


@contextlib.contextmanager
def capturing_logs() -> Iterator[list[logging.LogRecord]]:
    """Every log record this process would handle, kept instead (made portable): for the caller to hand on."""
    captured: list[logging.LogRecord] = []

    def keep(logger: logging.Logger, record: logging.LogRecord) -> None:
        if not logger.disabled and logger.filter(record):
            captured.append(_portable(record))

    original = logging.Logger.handle
    logging.Logger.handle = keep  # type: ignore[assignment,method-assign]
    try:
        yield captured
    finally:
        logging.Logger.handle = original  # type: ignore[method-assign]


def _convert_from_the_end(
    pages: list[File], config: MkDocsConfig, files: Files, sender: Connection, parent_at: Any, child_at: Any
) -> None:
    """The child: pages from the last down, until the parent has reached the next one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # Every record this process would have handled goes to the parent, which handles it (prints it,
    # counts it for --strict) when it takes the page: nothing is printed here, nothing twice.
    with capturing_logs() as captured:
        try:
            for index in reversed(range(len(pages))):
                if index <= parent_at.value:
                    break
                child_at.value = index
                file = pages[index]
                # MkDocs makes the page of a file outside the navigation in its reading loop; so does this copy.
                page = file.page if file.page is not None else Page(None, file, config)
                captured.clear()
                config._current_page = page
                page.read_source(config)
                assert page.markdown is not None
                page.markdown = config.plugins.on_page_markdown(page.markdown, page=page, config=config, files=files)
                page.render(config, files)
                assert page.content is not None and page.toc is not None
                links = page.links_to_anchors
                sender.send(
                    (
                        index,
                        Converted(
                            page.content,
                            page.toc,
                            page._title_from_render,
                            page.present_anchor_ids,
                            None if links is None else {linked.src_uri: anchors for linked, anchors in links.items()},
                            list(captured),
                        ),
                    )
                )
        except Exception:  # the parent converts what it lacks, and raises the error itself
            pass
        finally:
            sender.close()


def _install(page: Page, converted: Converted, config: MkDocsConfig, files: Files) -> None:
    """Stands in for ``page.render(config, files)``: the child's result, and its log records handled here."""
    page.content = converted.content
    page.toc = converted.toc
    page._title_from_render = converted.title_from_render
    page.present_anchor_ids = converted.present_anchor_ids
    if converted.links_to_anchors is not None:
        linked = {files.get_file_from_path(uri): anchors for uri, anchors in converted.links_to_anchors.items()}
        page.links_to_anchors = {file: anchors for file, anchors in linked.items() if file is not None}
    for record in converted.records:
        logging.getLogger(record.name).handle(record)


class ParallelPages(BasePlugin):
    """The plugin: forks the child in ``on_nav``, hands its pages to MkDocs in ``on_pre_page``."""

    def __init__(self) -> None:
        super().__init__()
        self.order: dict[str, int] = {}
        self.done: dict[int, Converted] = {}
        self.arrived = threading.Condition()
        self.finished = True  # no child is sending
        self.process: multiprocessing.process.BaseProcess | None = None
        self.receiver: Connection | None = None
        self.reader: threading.Thread | None = None
        self.child_at: Any = None
        self.parent_at: Any = None

    def on_nav(self, nav: Navigation, /, *, config: MkDocsConfig, files: Files) -> Navigation:
        self._stop()
        # The pages MkDocs' build reads, in its order.
        pages = list(files.documentation_pages(inclusion=InclusionLevel.is_included))
        if len(pages) < PARALLEL_FROM or usable_cpus() < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return nav
        context = multiprocessing.get_context("fork")
        self.order = {file.src_uri: index for index, file in enumerate(pages)}
        self.parent_at = context.RawValue("q", -1)  # the page the parent has reached
        self.child_at = context.RawValue("q", len(pages))  # the page the child is converting, or did last
        self.receiver, sender = context.Pipe(duplex=False)
        # Forked before this process starts its reading thread: a child inherits no lock a thread holds.
        self.process = context.Process(
            target=_convert_from_the_end,
            args=(pages, config, files, sender, self.parent_at, self.child_at),
            daemon=True,
        )
        self.process.start()
        sender.close()  # the child's end: the parent's copy must go, or recv() never sees the child's EOF
        self.finished = False
        # A pipe holds a page or two: read as the child sends, or it would wait for the parent's pace.
        self.reader = threading.Thread(target=self._read, args=(self.receiver,), daemon=True)
        self.reader.start()
        return nav

    def _read(self, receiver: Connection) -> None:
        try:
            while True:
                index, converted = receiver.recv()
                with self.arrived:
                    self.done[index] = converted
                    self.arrived.notify_all()
        except (EOFError, OSError):  # the child finished, stopped, or died
            pass
        finally:
            with self.arrived:
                self.finished = True
                self.arrived.notify_all()

    def on_pre_page(self, page: Page, /, *, config: MkDocsConfig, files: Files) -> Page:
        index = self.order.get(page.file.src_uri)
        if index is None:
            return page
        self.parent_at.value = index
        converted = self._take(index)
        if converted is not None:
            page.render = functools.partial(_install, page, converted)  # type: ignore[method-assign]
        return page

    def _take(self, index: int) -> Converted | None:
        """The child's result for page ``index``; None when this process is to convert it."""
        with self.arrived:
            while index not in self.done:
                # Not started by the child when the parent got here: the parent's page. (When both
                # started it at once, both convert it, and the child's copy is not used.)
                if self.finished or self.child_at.value > index:
                    return None
                self.arrived.wait()
            return self.done.pop(index)

    def _stop(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                self.process.terminate()
            self.process.join()
            self.process = None
        if self.reader is not None:
            self.reader.join()  # sees the end of the pipe: no process holds its other end any more
            self.reader = None
        if self.receiver is not None:
            self.receiver.close()
            self.receiver = None
        self.order, self.done, self.finished = {}, {}, True

    def on_env(self, env: Any, /, *, config: MkDocsConfig, files: Files) -> Any:
        self._stop()  # every page is read by now
        return env

    def on_build_error(self, *, error: Exception) -> None:
        self._stop()
