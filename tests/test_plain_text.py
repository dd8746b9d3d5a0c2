"""The plain-text fast path changes no HTML, and steps aside for inline patterns it does not know."""

from __future__ import annotations

import xml.etree.ElementTree as etree
from pathlib import Path

import markdown
import pytest
from markdown.inlinepatterns import SimpleTagInlineProcessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

from generator.render.plain_text import PlainTextExtension

SITE_EXTENSIONS = ["tables", "md_in_html", "toc"]

# Every inline construct Python-Markdown has, in text, in table cells, in headings and in raw-HTML blocks.
SAMPLE = r"""
# A title with `code` and *emphasis*

Plain words. A [link](other.md "title") and ![an image](a.png), <https://example.org>,
<someone@example.org>, <span>inline html</span>, an &amp; entity and &copy;; a line break<BR>
after two spaces; __strong__, _em_, **strong**, ***both***, snake\_case, \*not em\*, 2 * 3 * 4.

| model | ms | note |
| --- | --- | --- |
| [resnet\_18](resnet18.md) | 6.890 (6.791–6.989) | \+ 22.8 |
| plain | 1,243 | *em* and `code` |
| [ref][r] | 3 < 4 & 5 > 4 | a_b_c |
| &copy; 2017 | <b>tag</b> only | __strong__ only |
| [a\_b](x.md#part) | a\\b and \q | [t](x.md "title") |
| [x\](y.md) | [x](y.md)z | \_\*\#\{\}\|\(\)\>\.\!\-\` |
| [](empty.md) | [<b>](x.md) | [a &amp; b](x.md) |

[r]: https://example.org/ref

<figure class="chart" markdown="1">

Caption with a [link](x.md) and plain text.

</figure>

A line break alone<BR>
in a paragraph.

An escape alone: 1\. is no list item.

- a list item, plain
- one with **strong**
""".replace("<BR>", "  ")  # two spaces before a newline: a line break (kept out of the source's line ends)


def _html(text: str, fast: bool, extensions: list[object] | None = None) -> str:
    chosen: list[object] = [*SITE_EXTENSIONS, *(extensions or [])]
    if fast:
        chosen.append(PlainTextExtension())
    return markdown.Markdown(extensions=chosen).convert(text)


def test_same_html_as_without_it_for_every_inline_construct() -> None:
    slow = _html(SAMPLE, fast=False)
    assert '<a href="other.md"' in slow and "<strong>strong</strong>" in slow and "<br />" in slow
    assert _html(SAMPLE, fast=True) == slow


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "site").rglob("*.md")), ids=str)
def test_same_html_for_the_committed_site_pages(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _html(text, fast=True) == _html(text, fast=False)


def test_plain_table_cells_skip_the_inline_patterns() -> None:
    """What it is for: cells of numbers, of escaped names and of one link reach the inline patterns with
    nothing left for them to do; a cell with emphasis still goes to them."""
    md = markdown.Markdown(extensions=[*SITE_EXTENSIONS, PlainTextExtension()])
    seen: list[tuple[str, object, bool]] = []

    class Look(Treeprocessor):
        def run(self, root: etree.Element) -> None:
            for cell in root.iter("td"):
                inner = cell[0] if len(cell) else cell
                seen.append((inner.tag, inner.text, isinstance(inner.text, AtomicString)))

    md.treeprocessors.register(Look(md), "look", 20.5)  # after plain_text (21), before the inline patterns (20)
    md.convert("| a | b | c | d |\n| --- | --- | --- | --- |\n| 6.890 (6.791–6.989) | [x\\_y](y.md) | \\+ 1.6 | *z* |\n")
    assert seen == [("td", "6.890 (6.791–6.989)", True), ("a", "x_y", True), ("td", "+ 1.6", True), ("td", "*z*", False)]


class _Strike(markdown.Extension):
    """An extension's own inline pattern: '~~text~~' to <del>."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.inlinePatterns.register(SimpleTagInlineProcessor(r"()~~(.+?)~~", "del"), "strike", 65)


def test_an_unknown_inline_pattern_turns_it_off() -> None:
    """It cannot know which characters '~~' needs, so text without any of its own still gets every pattern."""
    text = "| a |\n| --- |\n| ~~gone~~ |\n\nplain ~~gone~~ too\n"
    html = _html(text, fast=True, extensions=[_Strike()])
    assert html.count("<del>gone</del>") == 2
    assert html == _html(text, fast=False, extensions=[_Strike()])
