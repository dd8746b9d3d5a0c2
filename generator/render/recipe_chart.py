"""The recipe gain as a figure of its own: the same network, original vs later training recipe.

Figures 1 and 2 use each architecture's original training recipe, as the study
did; this chart sets the later recipe beside it (a hollow marker joined to the
original's filled one), so the gain from training alone is visible and never
mistaken for a better architecture. Rows come from ``data.recipe_gain_points``.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt

from generator.render import data
from generator.schema import Record

WIDTH = 500


def recipe_gain_rows(records: Sequence[Record]) -> list[dict[str, object]]:
    """One row per network and recipe (long form), so one point layer draws both markers."""
    long: list[dict[str, object]] = []
    for row in data.recipe_gain_points(records):
        for recipe, top1, weights in (
            ("original recipe", row["top1"], row["original_weights"]),
            ("later recipe", row["later_top1"], row["later_weights"]),
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


def recipe_gain(records: Sequence[Record]) -> alt.LayerChart:
    """Top-1 of each network under its original and its later training recipe, joined by the gain."""
    gains = data.recipe_gain_points(records)
    points = recipe_gain_rows(records)
    # Largest gain first.
    by_gain = sorted(gains, key=lambda r: (-float(r["gain_points"]), str(r["model"])))  # type: ignore[arg-type]
    order = [str(row["model"]) for row in by_gain]
    y = alt.Y("model:N", sort=order, title=None)
    x_scale = alt.Scale(zero=False, padding=12)
    rules = (
        alt.Chart(alt.Data(values=gains), width=WIDTH, height=alt.Step(22))
        .mark_rule(color="#888888")
        .encode(
            y=y,
            x=alt.X("top1:Q", scale=x_scale, title="Top-1 accuracy (%)"),
            x2="later_top1:Q",
        )
    )
    marks = (
        alt.Chart(alt.Data(values=points))
        .mark_point(size=90, filled=True)
        .encode(
            y=y,
            x=alt.X("top1:Q", scale=x_scale),
            shape=alt.Shape(
                "recipe:N",
                title="training recipe",
                scale=alt.Scale(domain=["original recipe", "later recipe"], range=["circle", "diamond"]),
                legend=alt.Legend(orient="bottom"),
            ),
            color=alt.Color(
                "recipe:N",
                scale=alt.Scale(domain=["original recipe", "later recipe"], range=["#1f77b4", "#ff7f0e"]),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("model:N", title="network"),
                alt.Tooltip("recipe:N", title="recipe"),
                alt.Tooltip("weights:N", title="weights"),
                alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f"),
                alt.Tooltip("gain_points:Q", title="gain (points)", format="+.2f"),
            ],
        )
    )
    labels = (
        alt.Chart(alt.Data(values=gains))
        .mark_text(align="left", dx=8, fontSize=10)
        .encode(
            y=y,
            x=alt.X("later_top1:Q", scale=x_scale),
            text=alt.Text("gain_points:Q", format="+.2f"),
        )
    )
    return alt.LayerChart(layer=[rules, marks, labels])
