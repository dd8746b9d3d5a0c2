"""One colour per network, the same on every chart of the site.

The study's figure 1 gives each of its 14 networks a colour and keeps it in
every figure; so does this site, keyed by the study's network name. A family
shares a hue and its members differ in lightness (the five ResNets run from
light to dark green, in depth order), so both "which family" and "which
network" can be read off a point. Charts of the whole zoo (dozens of models)
colour by family instead, from a fixed family -> colour table, and name the
study's networks with labels.

Dark mode: ``dark_variant`` lightens the colours that would vanish on a dark
background; the browser swaps them in (see templates/assets/charts.js), the
static SVGs stay light.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable

# The study's networks in the order of its figure 1 legend (by family, then depth).
STUDY_NETWORK_COLOURS: dict[str, str] = {
    "AlexNet": "#1f77b4",
    "BN-AlexNet": "#7fb8e6",
    "BN-NIN": "#e377c2",
    "ENet": "#8c564b",
    "GoogLeNet": "#ff7f0e",
    "Inception-v3": "#b39ddb",
    "Inception-v4": "#6a3d9a",
    "ResNet-18": "#a6d96a",
    "ResNet-34": "#66bd63",
    "ResNet-50": "#2ca02c",
    "ResNet-101": "#1a7837",
    "ResNet-152": "#0b4d22",
    "VGG-16": "#f4736b",
    "VGG-19": "#b2182b",
}
# The same networks in the dark scheme: the dark greens and reds lightened, each
# family's order of lightness kept, so the ResNets stay apart from each other.
STUDY_NETWORK_DARK_COLOURS: dict[str, str] = {
    "ENet": "#c49c94",
    "Inception-v4": "#9b72cf",
    "ResNet-18": "#d9f0a3",
    "ResNet-34": "#a6d96a",
    "ResNet-50": "#66bd63",
    "ResNet-101": "#2ca02c",
    "ResNet-152": "#1f9e89",
    "VGG-16": "#fbb4ae",
    "VGG-19": "#f4536b",
}
# Whole-zoo charts: fixed colours for the families the registry knows, so that a
# family keeps its colour when other families come and go.
FAMILY_COLOURS: dict[str, str] = {
    "alexnet": "#1f77b4",
    "vgg": "#d62728",
    "resnet": "#2ca02c",
    "inception": "#9467bd",
    "googlenet": "#ff7f0e",
    "enet": "#8c564b",
    "nin": "#e377c2",
    "mobilenet": "#17becf",
    "efficientnet": "#bcbd22",
    "densenet": "#7f7f7f",
    "squeezenet": "#aec7e8",
    "shufflenet": "#ffbb78",
    "mnasnet": "#98df8a",
    "regnet": "#ff9896",
    "resnext": "#c5b0d5",
    "wide_resnet": "#c49c94",
    "convnext": "#f7b6d2",
    "vit": "#dbdb8d",
    "swin": "#9edae5",
    "maxvit": "#393b79",
}
SPARE_COLOURS: tuple[str, ...] = (
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#5254a3",
    "#8ca252",
    "#bd9e39",
    "#ad494a",
    "#a55194",
    "#6b6ecf",
    "#b5cf6b",
    "#e7ba52",
    "#d6616b",
    "#ce6dbd",
    "#9c9ede",
    "#cedb9c",
)
UNKNOWN_NETWORK = "#7f7f7f"  # a study name this table does not know (a newer registry's)


def network_colour(study_name: str) -> str:
    return STUDY_NETWORK_COLOURS.get(study_name, UNKNOWN_NETWORK)


def family_colours(families: Iterable[str]) -> dict[str, str]:
    """Family -> colour: the fixed table first, unknown families from the spare hues in sorted order."""
    ordered = sorted(set(families))
    spare = iter(SPARE_COLOURS * (1 + len(ordered) // len(SPARE_COLOURS)))
    return {family: FAMILY_COLOURS.get(family) or next(spare) for family in ordered}


def _luminance(colour: str) -> float:
    """WCAG relative luminance of '#rrggbb'."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


DARK_BACKGROUND = "#1e2129"  # Material's slate scheme
MIN_DARK_CONTRAST = 3.0  # WCAG's minimum for graphics against their background


def dark_variant(colour: str) -> str:
    """The colour, lightened (same hue) until it stands out against the dark scheme's background."""
    background = _luminance(DARK_BACKGROUND)
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, lightness, saturation = colorsys.rgb_to_hls(r, g, b)
    current = colour
    while (_luminance(current) + 0.05) / (background + 0.05) < MIN_DARK_CONTRAST and lightness < 0.95:
        lightness = min(0.95, lightness + 0.05)
        current = "#" + "".join(f"{round(v * 255):02x}" for v in colorsys.hls_to_rgb(hue, lightness, saturation))
    return current


def dark_variants(colours: Iterable[str]) -> dict[str, str]:
    """Light -> dark-scheme colour for the colours that need changing (the study's networks from their table)."""
    by_light = {STUDY_NETWORK_COLOURS[name]: dark for name, dark in STUDY_NETWORK_DARK_COLOURS.items()}
    found = {}
    for colour in sorted(set(colours)):
        dark = by_light.get(colour) or dark_variant(colour)
        if dark != colour:
            found[colour] = dark
    return found
