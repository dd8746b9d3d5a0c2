"""Escaping of record-supplied text for Markdown pages that MkDocs turns into HTML.

A record may hold any string (a model called ``<script>`` or ``**bold**``): it
must show as typed and run nothing, both in MkDocs and on GitHub.
"""

from __future__ import annotations

import functools
import html
import json
import re
from typing import Any

from markupsafe import Markup

# Characters Python-Markdown (with tables) and CommonMark treat as syntax anywhere
# in a line. '(' and '!' need no escape once '[' and ']' are escaped (no link or
# image can form); '<' and '&' become entities below.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#{}])")
# Syntax only at the start of a line (a value may start a list item or a line).
_LEADING_MARKER = re.compile(r"^([+\-])")
# What a link target written into a page may consist of: relative paths and anchors (plain_text reads it too).
SAFE_HREF_CHARACTERS = "A-Za-z0-9._/#-"
_SAFE_HREF = re.compile(f"^[{SAFE_HREF_CHARACTERS}]+$")


def markdown_text(value: Any) -> Markup:
    """Text for a Markdown page: HTML-escaped, Markdown specials backslashed, on one line."""
    return _markdown_text(str(value))


@functools.lru_cache(maxsize=1 << 16)
def _markdown_text(value: str) -> Markup:
    # Cached: a zoo's pages repeat the same few thousand cell texts hundreds of thousands of times.
    text = " ".join(value.split())  # a newline would end a table row or paragraph
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = _LEADING_MARKER.sub(r"\\\1", text)
    # Entities last, so the escaping above never splits one ('&#39;' must stay whole):
    # raw HTML never reaches the page.
    return Markup(html.escape(text, quote=False))


def finalize(value: Any) -> Any:
    """Jinja ``finalize``: every ``{{ }}`` goes through ``markdown_text`` unless already trusted."""
    if isinstance(value, Markup):
        return value
    if value is None:
        # A template printing None is a page-model bug; say so on the page rather than print 'None'.
        raise ValueError("template printed None: the page model must say 'not measured' explicitly")
    return markdown_text(value)


def href(value: Any) -> Markup:
    """A link target built by the page model from sanitised slugs; anything else is a bug."""
    text = str(value)
    if not _SAFE_HREF.match(text) or ".." in text.replace("../", ""):
        raise ValueError(f"unsafe link target {text!r}")
    return Markup(text)


_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.\-]+$")


def code(value: Any) -> Markup:
    """An identifier (a CSV column name) as a code span.

    Inside backticks Markdown shows backslashes literally, so the usual escaping
    would print ``hardware\\_slug``; an identifier needs none, and anything else is a bug.
    """
    text = str(value)
    if not _IDENTIFIER.match(text):
        raise ValueError(f"not an identifier for a code span: {text!r}")
    return Markup(f"`{text}`")


_TITLE_UNSAFE = re.compile(r"[<>&\"'`\\]")


def front_matter_title(title: str) -> Markup:
    """A page title for MkDocs' front matter, as a quoted YAML (JSON) string.

    MkDocs themes print the title into <title> and the navigation through
    ``striptags``, which turns entities back into characters: an escaped
    ``&lt;script&gt;`` would come out as a live tag. So the title drops the
    characters HTML could act on altogether; the page's heading shows the name exactly.
    """
    # The typographic apostrophe keeps "the study's networks" readable and cannot end an attribute.
    plain = _TITLE_UNSAFE.sub(" ", " ".join(title.replace("'", "\u2019").split()))
    return Markup(json.dumps(" ".join(plain.split()), ensure_ascii=False))


def markdown_table(table: Any) -> Markup:
    """A page model's ``Table`` (headers, rows of text or links) as a Markdown table, every cell escaped.

    Written here rather than as a template loop: a zoo's model pages hold hundreds of
    thousands of cells, and a Jinja macro call per cell was a large share of the render.
    """

    def cell(value: Any) -> str:
        if hasattr(value, "href"):
            return f"[{finalize(value.text)}]({href(value.href)})"
        return str(finalize(value))

    lines = ["|" + "".join(f" {finalize(h)} |" for h in table.headers), "|" + " --- |" * len(table.headers)]
    lines.extend("|" + "".join(f" {cell(value)} |" for value in row) for row in table.rows)
    return Markup("\n".join(lines))
