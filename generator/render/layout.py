"""Where chart text goes, decided in Python: text widths, label placement, and the check.

Vega draws labels where it is told and does not move them apart, so every data
label's position is computed here, in the chart's pixels, before the spec is
written: from the point's pixel position (explicit scale domains make that
exact), an estimate of the label's box from the font's own advance widths, and
a greedy search over positions around the point, farther out with a leader line
when the near ones are taken. A label that fits nowhere is left off and the
point stays named by its tooltip and the legend. ``text_problems`` checks a
finished SVG the same way a person would: text boxes that overlap, text outside
the picture, and text cut short with an ellipsis.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

# Liberation Sans has Arial's (and Helvetica's) advance widths, so a browser that
# falls back to either draws the same widths; Debian ships it, vl-convert finds it.
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
# Advance widths in 1/1000 em of ASCII 32..126 (read once from LiberationSans-Regular/-Bold.ttf).
# fmt: off
_REGULAR = (
     278,  278,  355,  556,  556,  889,  667,  191,  333,  333,  389,  584,  278,  333,  278,  278,  # ' ' to '/'
     556,  556,  556,  556,  556,  556,  556,  556,  556,  556,  278,  278,  584,  584,  584,  556,  # '0' to '?'
    1015,  667,  667,  722,  722,  667,  611,  778,  722,  278,  500,  667,  556,  833,  722,  778,  # '@' to 'O'
     667,  778,  722,  667,  611,  722,  667,  944,  667,  667,  611,  278,  278,  278,  469,  556,  # 'P' to '_'
     333,  556,  556,  500,  556,  556,  278,  556,  556,  222,  222,  500,  222,  833,  556,  556,  # '`' to 'o'
     556,  556,  333,  500,  278,  556,  500,  722,  500,  500,  500,  334,  260,  334,  584,        # 'p' to '~'
)
_BOLD = (
     278,  333,  474,  556,  556,  889,  722,  238,  333,  333,  389,  584,  278,  333,  278,  278,  # ' ' to '/'
     556,  556,  556,  556,  556,  556,  556,  556,  556,  556,  333,  333,  584,  584,  584,  611,  # '0' to '?'
     975,  722,  722,  722,  722,  667,  611,  778,  722,  278,  556,  722,  611,  833,  722,  778,  # '@' to 'O'
     667,  778,  722,  667,  611,  722,  667,  944,  667,  667,  611,  333,  278,  333,  584,  556,  # 'P' to '_'
     333,  556,  611,  556,  611,  556,  333,  611,  611,  278,  278,  556,  278,  889,  611,  611,  # '`' to 'o'
     611,  611,  389,  556,  333,  611,  556,  778,  556,  556,  500,  389,  280,  389,  584,        # 'p' to '~'
)
# fmt: on
_OTHER = {
    "×": 584,
    "−": 584,
    "–": 556,
    "—": 1000,
    "²": 333,
    "µ": 576,
    "≈": 549,
    "∝": 365,
    "≥": 549,
    "≤": 549,
    "·": 278,
    "’": 222,
    "é": 556,
    "…": 1000,
}
# The font's ascent and descent (hhea): the box a browser reports for a line of text.
ASCENT, DESCENT = 0.905, 0.212
GAP = 1.0  # px kept between two text boxes


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Advance width in px; unknown characters count as a capital M (an overestimate, never an underestimate)."""
    table = _BOLD if bold else _REGULAR
    units = 0
    for char in text:
        code = ord(char)
        units += table[code - 32] if 32 <= code < 127 else _OTHER.get(char, 833 if code < 0x2E80 else 1000)
    return units * size / 1000


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    def overlaps(self, other: Box, gap: float = 0.0) -> bool:
        return (
            self.left < other.right + gap
            and other.left < self.right + gap
            and self.top < other.bottom + gap
            and other.top < self.bottom + gap
        )

    def inside(self, left: float, top: float, right: float, bottom: float, tolerance: float = 0.0) -> bool:
        return (
            self.left >= left - tolerance
            and self.top >= top - tolerance
            and self.right <= right + tolerance
            and self.bottom <= bottom + tolerance
        )

    def nearest(self, x: float, y: float) -> tuple[float, float]:
        """The point of the box nearest to (x, y): where a leader line ends."""
        return min(max(x, self.left), self.right), min(max(y, self.top), self.bottom)

    def crosses(self, x1: float, y1: float, x2: float, y2: float) -> bool:
        """Whether the segment (x1, y1)-(x2, y2) passes through the box (Liang-Barsky clipping)."""
        start, end = 0.0, 1.0
        dx, dy = x2 - x1, y2 - y1
        for p, q in ((-dx, x1 - self.left), (dx, self.right - x1), (-dy, y1 - self.top), (dy, self.bottom - y1)):
            if p == 0:
                if q < 0:
                    return False
                continue
            t = q / p
            if p < 0:
                start = max(start, t)
            else:
                end = min(end, t)
            if start > end:
                return False
        return True

    def hits_circle(self, x: float, y: float, radius: float) -> bool:
        nx, ny = self.nearest(x, y)
        return (nx - x) ** 2 + (ny - y) ** 2 < radius**2


def text_box(x: float, baseline: float, text: str, size: float, align: str = "left", bold: bool = False) -> Box:
    width = text_width(text, size, bold)
    left = x - {"left": 0.0, "start": 0.0, "center": width / 2, "middle": width / 2}.get(align, width)
    return Box(left, baseline - ASCENT * size, left + width, baseline + DESCENT * size)


@dataclass(frozen=True)
class Point:
    """One labelled point in the plot's pixels (origin top left)."""

    key: str
    x: float
    y: float
    radius: float
    text: str


@dataclass(frozen=True)
class Label:
    key: str
    text: str
    x: float  # left end of the text, px
    baseline: float  # px
    box: Box
    leader: tuple[float, float, float, float] | None  # (x1, y1, x2, y2) px, from the point's edge to the box


def _directions(angles: Sequence[float]) -> tuple[tuple[float, float], ...]:
    return tuple((math.cos(math.radians(angle)), -math.sin(math.radians(angle))) for angle in angles)


# East first, then west, then the rest: labels read best to the right of their point.
_FIRST_RING = _directions((0, 180, 90, 270, 45, 315, 135, 225))
_OTHER_RINGS = _directions([step * 22.5 for step in range(16)])


def _candidates(point: Point, width: float, height: float, size: float) -> Iterator[tuple[float, Box]]:
    """Boxes around the point, nearest first: 8 positions on the first ring, 16 on each farther one.

    The costs rise strictly (a ring lies ``size * 0.9`` px farther out, more than the 0.15 its steps add
    for any legible font), so a caller may stop at the first one no better than its best so far; made
    one at a time, the farther rings' boxes are then never made.
    """
    for ring in range(7):
        distance = point.radius + 2 + ring * (size * 0.9)
        for step, (dx, dy) in enumerate(_FIRST_RING if ring == 0 else _OTHER_RINGS):
            # The box touches the circle of radius ``distance`` on the side facing the point.
            cx = point.x + dx * distance + (width / 2 if dx > 0.3 else -width / 2 if dx < -0.3 else 0)
            cy = point.y + dy * distance + (height / 2 if dy > 0.3 else -height / 2 if dy < -0.3 else 0)
            box = Box(cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
            yield distance - point.radius + step * 0.01, box


def place_labels(
    points: Sequence[Point],
    width: float,
    height: float,
    size: float,
    obstacles: Sequence[Point] | PointGrid = (),
    reserved: Sequence[Box] = (),
    ignored: frozenset[str] = frozenset(),
) -> dict[str, Label]:
    """Labels for as many points as fit, none overlapping another or leaving the plot.

    Crowded points choose first (they have the fewest free positions); a label
    avoids other points' circles where it can (it may cover a bubble's edge when
    nothing else is free, never another label). ``obstacles``: unlabelled points,
    avoided the same way (a ``PointGrid`` of them when many calls share them);
    ``ignored``: keys of obstacles not to avoid; ``reserved``: boxes no label may cover.
    """

    def crowding(point: Point) -> int:
        return sum(
            1 for other in points if other is not point and abs(other.x - point.x) < 60 and abs(other.y - point.y) < 30
        )

    order = sorted(points, key=lambda p: (-crowding(p), p.key))
    labelled = PointGrid(points)
    others = obstacles if isinstance(obstacles, PointGrid) else PointGrid(obstacles)
    taken: list[Box] = list(reserved)
    leaders: list[tuple[float, float, float, float]] = []
    placed: dict[str, Label] = {}
    for point in order:
        text_w = text_width(point.text, size)
        text_h = (ASCENT + DESCENT) * size
        best: tuple[float, Box, tuple[float, float, float, float] | None] | None = None
        for cost, box in _candidates(point, text_w, text_h, size):
            if best is not None and cost >= best[0]:
                break  # every later candidate costs more still
            if not box.inside(0, 0, width, height) or any(box.overlaps(other, GAP) for other in taken):
                continue
            leader = _leader(point, box, size)
            # A leader line must not run through another label, nor a label through another's leader.
            if leader is not None and any(other.crosses(*leader) for other in taken):
                continue
            if any(box.crosses(*other) for other in leaders):
                continue
            # Circles covered, counted only while the box could still beat the best one so far.
            budget = math.inf if best is None else (best[0] - cost) / 40
            covered = labelled.count_hits(box, budget, skip=point)
            if covered < budget:
                covered += others.count_hits(box, budget - covered, skip_keys=ignored)
            if covered >= budget:
                continue
            total = cost + covered * 40
            if best is None or total < best[0]:
                best = (total, box, leader)
        if best is None:
            continue
        _, box, leader = best
        taken.append(box)
        if leader is not None:
            leaders.append(leader)
        placed[point.key] = Label(point.key, point.text, box.left, box.bottom - DESCENT * size, box, leader)
    return placed


class PointGrid:
    """Points by horizontal band, each band sorted by x, so the circles that may touch a box are found
    without visiting every point: a chart of the whole zoo has a thousand, almost all far from any one
    label, and a box spans two or three bands."""

    CELL = 12.0  # px: the height of a band

    def __init__(self, points: Sequence[Point]) -> None:
        # Each point with the square of the radius that counts (at least 3 px): the innermost loop
        # of a zoo's render reads these thousands of times per label.
        bands: dict[int, list[tuple[float, float, float, Point]]] = {}
        for point in points:
            radius = max(point.radius, 3)
            bands.setdefault(self._band(point.y), []).append((point.x, point.y, radius * radius, point))
        self.bands: dict[int, tuple[list[float], list[tuple[float, float, float, Point]]]] = {}
        for band, entries in bands.items():
            entries.sort(key=lambda entry: entry[0])
            self.bands[band] = ([entry[0] for entry in entries], entries)
        self.reach = max((max(point.radius, 3) for point in points), default=0.0)

    def _band(self, y: float) -> int:
        return math.floor(y / self.CELL)

    def count_hits(
        self, box: Box, stop_at: float, skip: Point | None = None, skip_keys: frozenset[str] = frozenset()
    ) -> int:
        """How many circles (radius at least 3 px) ``box`` touches, counting no further than ``stop_at``;
        ``skip`` and points whose key is in ``skip_keys`` do not count."""
        box_left, box_top, box_right, box_bottom = box.left, box.top, box.right, box.bottom
        # A centre farther than ``reach`` left or right of the box cannot touch it.
        low, high = box_left - self.reach, box_right + self.reach
        bands = self.bands
        count = 0
        for band in range(self._band(box_top - self.reach), self._band(box_bottom + self.reach) + 1):
            found = bands.get(band)
            if found is None:
                continue
            xs, entries = found
            for x, y, radius2, other in entries[bisect.bisect_left(xs, low) : bisect.bisect_right(xs, high)]:
                # Box.hits_circle, inline and without min/max calls: the innermost loop of a zoo's render.
                dx = box_left - x if x < box_left else x - box_right if x > box_right else 0.0
                dy = box_top - y if y < box_top else y - box_bottom if y > box_bottom else 0.0
                if dx * dx + dy * dy < radius2 and other is not skip and other.key not in skip_keys:
                    count += 1
                    if count >= stop_at:
                        return count
        return count


def _leader(point: Point, box: Box, size: float) -> tuple[float, float, float, float] | None:
    """A line from the point's edge to the label, when the label sits too far away to read as the point's."""
    nx, ny = box.nearest(point.x, point.y)
    reach = math.hypot(nx - point.x, ny - point.y)
    if reach <= point.radius + size * 0.8:
        return None
    ux, uy = (nx - point.x) / reach, (ny - point.y) / reach
    return (point.x + ux * point.radius, point.y + uy * point.radius, nx, ny)


def stack_end_labels(ends: Sequence[tuple[str, float]], top: float, bottom: float, size: float) -> dict[str, float]:
    """Baselines for labels at the right end of lines: each as near its line's end as the others allow.

    ``ends`` are (key, y px of the line's end). Returns {} when they cannot all
    fit between ``top`` and ``bottom`` (then a legend has to name the lines).
    """
    step = (ASCENT + DESCENT) * size + GAP
    order = sorted(ends, key=lambda end: (end[1], end[0]))
    if len(order) * step > bottom - top:
        return {}
    half = step / 2
    centres = [min(max(y, top + half), bottom - half) for _, y in order]
    for i in range(1, len(centres)):
        centres[i] = max(centres[i], centres[i - 1] + step)
    if centres and centres[-1] > bottom - half:
        centres[-1] = bottom - half
        for i in range(len(centres) - 2, -1, -1):
            centres[i] = min(centres[i], centres[i + 1] - step)
    # Centre of the box -> baseline: the box spans ASCENT above and DESCENT below it.
    shift = (ASCENT - DESCENT) / 2 * size
    return {key: centre + shift for (key, _), centre in zip(order, centres, strict=True)}


# --- checking a drawn chart ---------------------------------------------------------------------------------------

_NUMBER = r"-?[\d.]+(?:e-?\d+)?"
_TRANSFORM = re.compile(rf"(translate|rotate)\(\s*({_NUMBER})(?:[ ,]+({_NUMBER}))?\s*\)")
Matrix = tuple[float, float, float, float, float, float]  # a, b, c, d, e, f as in SVG


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + c * b2,
        b * a2 + d * b2,
        a * c2 + c * d2,
        b * c2 + d * d2,
        a * e2 + c * f2 + e,
        b * e2 + d * f2 + f,
    )


def _parse_transform(text: str) -> Matrix:
    matrix: Matrix = (1, 0, 0, 1, 0, 0)
    for kind, first, second in _TRANSFORM.findall(text or ""):
        if kind == "translate":
            step: Matrix = (1, 0, 0, 1, float(first), float(second or 0))
        else:
            radians = math.radians(float(first))
            step = (math.cos(radians), math.sin(radians), -math.sin(radians), math.cos(radians), 0, 0)
        matrix = _multiply(matrix, step)
    return matrix


@dataclass(frozen=True)
class DrawnText:
    text: str
    box: Box
    role: str  # the class of the mark group it belongs to, e.g. 'mark-text role-axis-label'


def drawn_texts(svg: str) -> tuple[list[DrawnText], float, float]:
    """Every visible text of a Vega SVG with its box in picture pixels, and the picture's width and height."""
    root = ElementTree.fromstring(svg)
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    found: list[DrawnText] = []

    def walk(node: ElementTree.Element, matrix: Matrix, role: str) -> None:
        matrix = _multiply(matrix, _parse_transform(node.get("transform", "")))
        tag = node.tag.rsplit("}", 1)[-1]
        role = node.get("class", role) if tag == "g" and "mark-" in node.get("class", "") else role
        if tag == "text":
            text = "".join(node.itertext())
            if text.strip() and node.get("opacity") != "0" and node.get("fill-opacity") != "0":
                size = float(node.get("font-size", "11px").rstrip("px"))
                anchor = {"start": "left", "middle": "center", "end": "right"}[node.get("text-anchor", "start")]
                local = text_box(0, 0, text, size, anchor, bold=node.get("font-weight") == "bold")
                a, b, c, d, e, f = matrix
                corners = [
                    (a * x + c * y + e, b * x + d * y + f)
                    for x in (local.left, local.right)
                    for y in (local.top, local.bottom)
                ]
                xs, ys = [x for x, _ in corners], [y for _, y in corners]
                found.append(DrawnText(text, Box(min(xs), min(ys), max(xs), max(ys)), role))
            return
        for child in node:
            walk(child, matrix, role)

    walk(root, (1, 0, 0, 1, 0, 0), "")
    return found, width, height


def text_problems(svg: str) -> list[str]:
    """Overlapping text boxes, text outside the picture, text cut with an ellipsis: what a reader cannot read."""
    texts, width, height = drawn_texts(svg)
    problems = []
    for text in texts:
        if not text.box.inside(0, 0, width, height, tolerance=0.5):
            problems.append(f"outside the picture: {text.text!r} ({text.role})")
        if "…" in text.text:
            problems.append(f"cut short: {text.text!r} ({text.role})")
    for i, first in enumerate(texts):
        for second in texts[i + 1 :]:
            if first.box.overlaps(second.box, -0.5):
                problems.append(f"overlap: {first.text!r} ({first.role}) and {second.text!r} ({second.role})")
    return problems
