"""A Python-Markdown extension that spares plain text the inline patterns: the same HTML, sooner.

Python-Markdown tries every inline pattern (links, emphasis, escapes, ...) on
every text node, one regular expression at a time. A zoo's model pages are
mostly tables of numbers, so a strict build spent half its time failing to find
a link in "6.890 (6.791–6.989)". Each default pattern needs one of a few
characters to match; text without any of them is marked ``AtomicString``
(Python-Markdown's own "leave this text alone") before the inline patterns run.
Table cells that hold only escapes of Markdown's characters (a model name with
underscores) or one plain link to a page are built here as the escape and link
patterns would build them, and skip the patterns too.

When an extension has registered an inline pattern this module does not know,
it cannot tell which characters that pattern needs, so it marks nothing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

from markdown import Extension, Markdown
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

from generator.render.escape import SAFE_HREF_CHARACTERS

# What each of Python-Markdown's default inline patterns cannot match without
# (its regular expression in markdown/inlinepatterns.py); '!' of an image needs a
# '[' too. Emphasis ('em_strong') uses its delimiters' own characters, read at run time.
_NEEDS: dict[str, str] = {
    "backtick": "`",
    "escape": "\\",
    "reference": "[",
    "link": "[",
    "image_link": "[",
    "image_reference": "[",
    "short_reference": "[",
    "short_image_ref": "[",
    "autolink": "<",
    "automail": "<",
    "html": "<",
    "entity": "&",
    "linebreak": "",  # two spaces before a newline: matched separately below
    # Python-Markdown before 3.11 had one processor per emphasis character.
    "em_strong2": "_",
    "not_strong": "*_",
}
_LINE_BREAK = "  \n"
_ORDER = 21  # just before the inline patterns ('inline', 20)


def _needed_characters(md: Markdown) -> str | None:
    """Every character some registered inline pattern needs; None when a pattern is not known here."""
    needed: set[str] = set()
    for name in md.inlinePatterns._data:
        if name == "em_strong":
            delimiters = md.delimiters
            # 3.11+: one processor for all delimiters ('*', '_', and any an extension added); before: '*'.
            needed.update(delimiters.tokens if delimiters is not None else "*")
        elif name in _NEEDS:
            needed.update(_NEEDS[name])
        else:
            return None
    return "".join(sorted(needed))


# A table cell that is one link: [label](href), the href a plain relative path or anchor, as
# escape.href writes them (no title, no angle brackets, no spaces).
_LINK_CELL = re.compile(r"\[((?:[^\\\[\]]|\\.)*)\]\(([" + SAFE_HREF_CHARACTERS + r"]+)\)")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


class _MarkPlainText(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        characters = _needed_characters(self.md)
        if characters is None:
            return
        alternatives = [re.escape(_LINE_BREAK)] + ([f"[{re.escape(characters)}]"] if characters else [])
        may_match = re.compile("|".join(alternatives)).search
        escapable = frozenset(self.md.ESCAPED_CHARS)

        def unescaped(text: str) -> str | None:
            """``text`` as the escape pattern leaves it, when escapes of Markdown's own characters are all
            it has (a model name with underscores, a gain of "\\+ 1.6"); else None."""
            pieces = _ESCAPE.split(text)  # plain, escaped character, plain, ...
            if any(may_match(plain) for plain in pieces[::2]) or not escapable.issuperset(pieces[1::2]):
                return None
            return "".join(pieces)

        for element in root.iter():
            # Exactly str: an AtomicString (or other subclass) is already someone's decision.
            text = element.text
            if text and type(text) is str:
                if may_match(text) is None:
                    element.text = AtomicString(text)
                elif element.tag in ("td", "th") and len(element) == 0:
                    # A zoo's tables are mostly these two kinds of cell: built here as the escape and link
                    # patterns would build them, they skip the inline patterns too.
                    link = _LINK_CELL.fullmatch(text)
                    label = unescaped(link.group(1) if link else text)
                    if label is not None and link is not None:
                        anchor = etree.SubElement(element, "a", {"href": link.group(2)})
                        anchor.text = AtomicString(label)
                        element.text = None
                    elif label is not None:
                        element.text = AtomicString(label)
            tail = element.tail
            if tail and type(tail) is str and may_match(tail) is None:
                element.tail = AtomicString(tail)


class PlainTextExtension(Extension):
    """Add to a Markdown instance's extensions (``mkdocs build`` gets it from ``build_site``)."""

    def extendMarkdown(self, md: Markdown) -> None:
        md.treeprocessors.register(_MarkPlainText(md), "plain_text", _ORDER)
