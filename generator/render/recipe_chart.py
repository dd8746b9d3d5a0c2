"""The recipe gain as a figure of its own: the same network, original vs later training recipe.

Figures 1 and 2 use each architecture's original training recipe, as the study
did; this chart sets the later recipe beside it (a hollow marker joined to the
original's filled one), so the gain from training alone is visible and never
mistaken for a better architecture. Rows come from ``data.recipe_gain_points``.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt

from generator.render import charts, data, layout
from generator.render.charts import number as num
from generator.schema import Record

RECIPES = ("original recipe", "later recipe")
RECIPE_COLOURS = ("#1f77b4", "#ff7f0e")
LABEL_GAP_PX = 8  # between the rightmost marker and its gain label


def gain_text(points: float) -> str:
    return f"{points:+.2f} points"


def recipe_gain_rows(records: Sequence[Record]) -> list[dict[str, object]]:
    """One row per network and recipe (long form), so one point layer draws both markers."""
    long: list[dict[str, object]] = []
    for row in data.recipe_gain_points(records):
        for recipe, top1, weights in (
            (RECIPES[0], row["top1"], row["original_weights"]),
            (RECIPES[1], row["later_top1"], row["later_weights"]),
        ):
            long.append(
                {
                    "model": row["model"],
                    "registry_name": row["registry_name"],
                    "recipe": recipe,
                    "top1": top1,
                    "weights": weights or "not named",
                    "gain_points": row["gain_points"],
                }
            )
    return long


def recipe_gain(
    records: Sequence[Record], pal: charts.Palette | None = None, lay: charts.Layout = charts.WIDE
) -> charts.VegaLite:
    """Top-1 of each network under its original and its later training recipe, joined by the gain.

    ``pal`` is unused (the colour tells the recipe, not the network); it keeps the
    figure registry's signature.
    """
    gains = data.recipe_gain_points(records)
    points = recipe_gain_rows(records)
    # Largest gain first.
    by_gain = sorted(gains, key=lambda r: (-num(r["gain_points"]), str(r["model"])))
    order = [str(row["model"]) for row in by_gain]
    size = lay.font_size
    # The x domain leaves room right of the rightmost marker for the widest gain label, so no label
    # leaves the picture (layout cannot move Vega's text once drawn).
    room = (
        max(
            (layout.text_width(gain_text(num(r["gain_points"])), size) for r in gains),
            default=0.0,
        )
        + LABEL_GAP_PX
        + 4
    )
    values = [num(r[f]) for r in gains for f in ("top1", "later_top1")]
    base = charts.fit_axis(values, lay.width - room, False, False, 8)
    per_px = (base.high - base.low) / (lay.width - room)
    x = charts.Axis(base.low, base.high + room * per_px, False, lay.width, False)
    labels = [
        {
            "model": r["model"],
            "x": max(num(r["top1"]), num(r["later_top1"])),
            "text": gain_text(num(r["gain_points"])),
        }
        for r in gains
    ]
    y = alt.Y("model:N", sort=order, title=None, axis=alt.Axis(labelLimit=400, labelFontSize=charts.AXIS_FONT))
    rules = (
        alt.Chart(charts._data(gains), width=lay.width, height=alt.Step(22))
        .mark_rule(style="leader", strokeWidth=1.2)
        .encode(y=y, x=x.encode("top1", "Top-1 accuracy (%)", "x"), x2=alt.X2("later_top1"))
    )
    marks = (
        alt.Chart(charts._data(points))
        .mark_point(size=90, filled=True)
        .encode(
            y=y,
            x=alt.X("top1:Q", scale=x.scale()),
            shape=alt.Shape(
                "recipe:N",
                title="training recipe",
                scale=alt.Scale(domain=list(RECIPES), range=["circle", "diamond"]),
                legend=alt.Legend(orient="bottom"),
            ),
            color=alt.Color("recipe:N", scale=alt.Scale(domain=list(RECIPES), range=list(RECIPE_COLOURS)), legend=None),
            tooltip=[
                alt.Tooltip("model:N", title="network"),
                alt.Tooltip("recipe:N", title="recipe"),
                alt.Tooltip("weights:N", title="weights"),
                alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f"),
                alt.Tooltip("gain_points:Q", title="gain (points)", format="+.2f"),
            ],
        )
    )
    text = (
        alt.Chart(charts._data(labels))
        .mark_text(style="data-label", align="left", dx=LABEL_GAP_PX, fontSize=size)
        .encode(y=y, x=alt.X("x:Q", scale=x.scale()), text=alt.Text("text:N"))
    )
    return charts._finish(alt.LayerChart(layer=[rules, marks, text]), RECIPE_COLOURS)
