"""The figure registry: one typed definition per figure of the site.

The figures pages draw every figure here, the home page shows the ones its
findings name, and findings refer to them by ``id``; none of them needs another
page to have been built first, because where a figure's files go and whether
it can be drawn are both answered here from the records alone.

Each caption is computed from the records it describes: first what to look at
(the outlier, the fit, the spread, with its numbers), then the conventions.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generator.render import charts, data, fmt, recipe_chart, stats
from generator.render.charts import number as num
from generator.render.data import MB, STUDY_LARGE_BATCH
from generator.render.names import label
from generator.render.roofline_chart import roofline
from generator.schema import MachineCeilings, Record

ChartFunction = Callable[[Sequence[Record], charts.Palette, charts.Layout], charts.VegaLite]
# A chart of the records against the run's measured ceilings (None: not measured).
CeilingsChartFunction = Callable[
    [Sequence[Record], MachineCeilings | None, charts.Palette, charts.Layout], charts.VegaLite
]


class Batches(enum.Enum):
    """Which batch sizes a figure draws (for the note on what it leaves out)."""

    NONE = "no per-batch value"
    ALL = "every batch size"
    FIRST = "batch 1"
    STUDY_PAIR = f"batch 1 and the study's {STUDY_LARGE_BATCH} (or its stand-in)"


@dataclass(frozen=True)
class Figure:
    id: str  # anchor on the figures page and stem of its files
    name: str  # short name in links, e.g. 'Fig. 3'
    title: str
    chart: ChartFunction
    batches: Batches
    needs: Callable[[Record], bool]  # what a record must hold to appear in it
    summary: Callable[[Sequence[Record]], str]  # what to look at, computed from the drawable records
    conventions: str  # units and conventions, fixed text
    needs_power: bool = False
    # Figures drawn against the machine's ceilings (machine.json of the run): chart and caption take them.
    ceilings_chart: CeilingsChartFunction | None = None
    ceilings_summary: Callable[[Sequence[Record], MachineCeilings | None], str] | None = None

    def draw(
        self, records: Sequence[Record], ceilings: MachineCeilings | None, pal: charts.Palette, lay: charts.Layout
    ) -> charts.VegaLite:
        if self.ceilings_chart is not None:
            return self.ceilings_chart(records, ceilings, pal, lay)
        return self.chart(records, pal, lay)

    def drawable(self, records: Sequence[Record]) -> list[Record]:
        return [record for record in records if self.needs(record)]

    def batch_sizes(self, records: Sequence[Record]) -> tuple[int, ...] | None:
        """The batch sizes drawn (None: all of them)."""
        if self.batches is Batches.ALL:
            return None
        if self.batches is Batches.FIRST:
            return (1,)
        if self.batches is Batches.STUDY_PAIR:
            return charts.study_pair(records)
        return ()

    def caption(self, records: Sequence[Record], ceilings: MachineCeilings | None = None) -> str:
        drawn = self.drawable(records)
        summary = self.summary(drawn) if drawn else ""
        if self.ceilings_summary is not None:
            summary = self.ceilings_summary(drawn, ceilings)
        parts = [summary, self.conventions]
        if self.id in ACCURACY_FIGURES:
            # Never mix training recipes silently: name the points that are not the original recipe.
            parts.append(data.recipe_note(drawn) or "")
        if self.id in RECIPE_MARKER_FIGURES:
            gains = data.recipe_gain_points(drawn)
            if gains:
                parts.append(
                    f"Hollow circle joined by a thin line: the same network with a later training recipe "
                    f"({len(gains)} network{'s' if len(gains) != 1 else ''}), labelled with its gain in "
                    "top-1 points; the study's comparisons use the filled, original-recipe point."
                )
        if self.batches is Batches.STUDY_PAIR:
            large = data.large_batch(records)
            if large is not None and large != STUDY_LARGE_BATCH:
                parts.append(
                    f"The study's batch {STUDY_LARGE_BATCH} was not measured on this hardware: the second "
                    f"panel shows batch {large}, the largest measured below it."
                )
        return " ".join(part for part in parts if part)


# Figures that draw top-1: their captions name any point that is not the original training recipe.
ACCURACY_FIGURES = frozenset({"fig1", "fig1-top5", "fig2", "fig9", "fig10", "pareto", "energy"})
# Figures that draw the later recipe as a second marker of the same network.
RECIPE_MARKER_FIGURES = frozenset({"fig1", "fig2"})


def chart_stem(run: data.Run, scope: str, figure_id: str) -> str:
    """Where a figure's files go (without extension): '<stem>.vl.json', '<stem>.narrow.vl.json', '<stem>.svg'."""
    return f"figures/{run.hardware_slug}/{run.config_slug}/charts/{scope}-{figure_id}"


# --- captions -----------------------------------------------------------------------------------------------------


def _best(records: Sequence[Record], value: Callable[[Record], float | None], highest: bool = True) -> Record:
    found = [(v, r.model.name, r) for r in records if (v := value(r)) is not None]
    return (max(found) if highest else min(found))[2]


def _top1_summary(records: Sequence[Record]) -> str:
    best, worst = _best(records, data.top1), _best(records, data.top1, highest=False)
    return (
        f"{label(best)} is the most accurate ({fmt.percent(data.top1(best), 2)} top-1), "
        f"{label(worst)} the least ({fmt.percent(data.top1(worst), 2)})."
    )


def _top5_summary(records: Sequence[Record]) -> str:
    best = _best(records, data.top5)
    return f"{label(best)} is the most accurate ({fmt.percent(data.top5(best), 2)} top-5)."


def _operations_summary(records: Sequence[Record]) -> str:
    """The most expensive model against the most accurate one that costs less: the study's VGG outlier."""
    costly = _best(records, data.gflops)
    cheaper = [r for r in records if (data.gflops(r) or 0) < (data.gflops(costly) or 0)]
    if not cheaper:
        return f"{label(costly)} needs the most operations ({fmt.sig(data.gflops(costly))} GFLOPs)."
    rival = _best(cheaper, data.top1)
    ratio = (data.gflops(costly) or 0) / (data.gflops(rival) or 1)
    points = (data.top1(rival) or 0) - (data.top1(costly) or 0)
    if points > 0:
        return (
            f"{label(costly)} is the outlier: {fmt.sig(ratio)}× the operations of {label(rival)} for "
            f"{fmt.sig(points)} points less top-1."
        )
    return (
        f"{label(costly)} needs the most operations, {fmt.sig(ratio)}× those of {label(rival)}, for "
        f"{fmt.sig(-points)} points more top-1."
    )


def _time_summary(records: Sequence[Record]) -> str:
    speedups = []
    for record in records:
        ok = sorted((b.batch_size, t) for b in record.batches if (t := data.ms_per_image(b)) is not None)
        if len(ok) > 1 and ok[0][0] == 1:
            speedups.append((ok[0][1] / ok[-1][1], ok[-1][0], record))
    if not speedups:
        return ""
    median = stats.median([s for s, _, _ in speedups])
    slowest = _best(records, lambda r: data.ms_per_image(data.ok_batch(r, 1)))
    return (
        f"Time per image falls with batch size: the median model is {fmt.sig(median)}× faster per image at its "
        f"largest batch than at batch 1 ({fmt.plural(len(speedups), 'model')}). Slowest at batch 1: {label(slowest)}, "
        f"{fmt.sig(data.ms_per_image(data.ok_batch(slowest, 1)))} ms per image."
    )


def _power_summary(records: Sequence[Record]) -> str:
    watts = [w for r in records for b in r.batches if (w := data.net_power_w(b)) is not None]
    return (
        f"Net power spans {fmt.sig(min(watts))} to {fmt.sig(max(watts))} W over "
        f"{fmt.plural(len(watts), 'model × batch point')} "
        f"(mean {fmt.sig(stats.mean(watts))} W): the study found it flat at about 11.8 W on the TX1."
    )


def _memory_summary(records: Sequence[Record]) -> str:
    def peak(record: Record) -> float | None:
        return max((m for b in record.batches if (m := data.memory_bytes(b)) is not None), default=None)

    most = _best(records, peak)
    floor = min(m for r in records for b in r.batches if (m := data.memory_bytes(b)) is not None)
    return (
        f"The floor is {fmt.megabytes(floor)}; {label(most)} needs the most, {fmt.megabytes(peak(most))} at its "
        f"largest batch size."
    )


def _memory_parameters_summary(records: Sequence[Record]) -> str:
    pts = [
        (r.parameters.parameters_bytes / MB, m / MB)
        for r in records
        if r.parameters is not None and (m := data.memory_bytes(data.ok_batch(r, 1))) is not None
    ]
    fit = stats.linear_fit([x for x, _ in pts], [y for _, y in pts])
    if fit is None:
        return ""
    return (
        f"Memory ≈ {fmt.sig(fit.intercept)} MB + {fmt.sig(fit.slope)} × parameter MB (R² = {fit.r2:.3f}, "
        f"{fit.n} models); the study found a floor of about 200 MB and a slope of about 1.3."
    )


def _operations_time_summary(records: Sequence[Record]) -> str:
    sentences = []
    for size in charts.study_pair(records):
        pts = [
            (g, t)
            for r in records
            if (g := data.gflops(r)) is not None and (t := data.ms_per_image(data.ok_batch(r, size))) is not None
        ]
        fit = stats.linear_fit([x for x, _ in pts], [y for _, y in pts])
        if fit is not None:
            sentences.append(f"at batch {size}, time ≈ {fmt.sig(fit.slope)} ms per GFLOP, R² = {fit.r2:.3f}")
    return (
        "A straight line through the bubbles means operations predict time: " + "; ".join(sentences) + "."
        if sentences
        else ""
    )


def _operations_power_summary(records: Sequence[Record]) -> str:
    watts = [w for r in records if (w := data.net_power_w(data.ok_batch(r, 1))) is not None]
    if not watts:
        return ""
    return (
        f"At batch 1 net power spans {fmt.sig(min(watts))} to {fmt.sig(max(watts))} W across {len(watts)} "
        "models: a flat band means power does not depend on the architecture."
    )


def _throughput_summary(records: Sequence[Record]) -> str:
    fastest = _best(records, lambda r: data.images_per_s(data.ok_batch(r, 1)))
    best = _best(records, data.top1)
    ips_best = data.images_per_s(data.ok_batch(best, 1))
    ips_fastest = data.images_per_s(data.ok_batch(fastest, 1))
    if fastest is best or ips_best is None or ips_fastest is None:
        return f"{label(best)} is both the most accurate and the fastest at batch 1."
    return (
        f"At batch 1, {label(fastest)} is the fastest ({fmt.sig(ips_fastest)} images/s) and {label(best)} the "
        f"most accurate, at {fmt.sig(ips_fastest / ips_best)}× less throughput for "
        f"{fmt.sig((data.top1(best) or 0) - (data.top1(fastest) or 0))} points more top-1."
    )


def _density_summary(records: Sequence[Record]) -> str:
    best = _best(records, data.density)
    text = f"{label(best)} has the most top-1 per parameter ({fmt.sig(data.density(best))} % per million)"
    alexnet = next((r for r in records if r.model.study_name == "AlexNet"), None)
    if alexnet is not None and alexnet is not best and data.density(alexnet):
        text += f", {fmt.sig((data.density(best) or 0) / (data.density(alexnet) or 1))}× AlexNet's"
    return text + "."


def _front_summary(cost: Callable[[Record], float | None], unit: str) -> Callable[[Sequence[Record]], str]:
    def summary(records: Sequence[Record]) -> str:
        pts = [(label(r), c, a) for r in records if (c := cost(r)) is not None and (a := data.top1(r)) is not None]
        front = stats.pareto_front(pts)
        return (
            f"On the front, from cheapest to most accurate: {', '.join(front)} "
            f"({fmt.plural(len(pts), 'model')}, cost in {unit})."
        )

    return summary


def _roofline_summary(records: Sequence[Record], ceilings: MachineCeilings | None) -> str:
    if ceilings is None:
        return (
            "The machine's ceilings were not measured for this run (it has no machine.json; "
            "'python -m generator ceilings' measures them): the points are drawn without a roof."
        )
    peak, bandwidth = ceilings.matmul, ceilings.bandwidth
    text = (
        f"Roof: peak matmul {fmt.sig(peak.gflops, 4)} GFLOP/s ({peak.dtype}, best of {peak.repetitions} "
        f"{peak.n} × {peak.n} products) and memory bandwidth {fmt.sig(bandwidth.gb_per_s, 4)} GB/s (best of "
        f"{bandwidth.repetitions} copies of {fmt.megabytes(bandwidth.buffer_bytes)}, read + write counted), "
        f"measured {ceilings.date} with {ceilings.threads} threads."
    )
    best = [
        (f, label(r), b.batch_size)
        for r in records
        for b in r.batches
        if (f := data.fraction_of_peak(r, b, ceilings)) is not None
    ]
    if best:
        fraction, name, size = max(best)
        text += f" Closest to the peak: {name} at batch {size}, {fmt.percent(fraction * 100, 1)} of it."
    return text


def _roofline_needs(record: Record) -> bool:
    return any(
        data.achieved_gflops(record, b) is not None and data.arithmetic_intensity(record, b.batch_size) is not None
        for b in record.batches
    )


def _recipe_gain_summary(records: Sequence[Record]) -> str:
    """The largest gain from training alone, and the median over the networks that have both recipes."""
    gains = data.recipe_gain_points(records)
    if not gains:
        return ""
    top = max(gains, key=lambda r: (num(r["gain_points"]), str(r["registry_name"])))
    median = stats.median([num(r["gain_points"]) for r in gains])
    return (
        f"The same architecture scores more with a later training recipe alone: {top['model']} gains "
        f"{num(top['gain_points']):+.2f} points ({num(top['top1']):.2f} → {num(top['later_top1']):.2f} "
        f"% top-1, {top['later_weights']}); median gain {median:+.2f} points over {len(gains)} "
        f"network{'s' if len(gains) != 1 else ''}. The study's figures use the original recipe."
    )


def _time_b1(record: Record) -> float | None:
    return data.ms_per_image(data.ok_batch(record, 1))


def _energy_b1(record: Record) -> float | None:
    return data.energy_j(data.ok_batch(record, 1))


FIGURES: tuple[Figure, ...] = (
    Figure(
        "fig1",
        "Fig. 1",
        "Fig. 1: top-1 accuracy per network",
        charts.top1_bars,
        Batches.NONE,
        lambda r: data.top1(r) is not None,
        _top1_summary,
        "ImageNet-1K validation, single centre crop; each network's original training recipe where it has "
        "several (as the study used), else the published figure of the weights named (else an evaluation over "
        "the full validation set). Models are built with random weights for timing.",
    ),
    Figure(
        "fig1-top5",
        "top-5",
        "Top-5 accuracy per network (where known)",
        charts.top5_bars,
        Batches.NONE,
        lambda r: data.top5(r) is not None,
        _top5_summary,
        "As Fig. 1, for top-5; models without a published top-5 are left out.",
    ),
    Figure(
        "fig2",
        "Fig. 2",
        "Fig. 2: top-1 vs operations, bubble area ∝ parameters",
        charts.accuracy_vs_operations,
        Batches.NONE,
        lambda r: data.top1(r) is not None and data.gflops(r) is not None,
        _operations_summary,
        "Operations are GFLOPs per image at batch 1 = 2 × GMACs counted by fvcore (the study's G-Ops also count "
        "ReLU and pooling). Log x axis.",
    ),
    Figure(
        "recipe-gain",
        "recipe gain",
        "Recipe gain: the same network, original vs later training recipe",
        recipe_chart.recipe_gain,
        Batches.NONE,
        lambda r: data.later_recipe_top1(r) is not None,
        _recipe_gain_summary,
        "Top-1 on ImageNet-1K validation (single centre crop) as published for each set of weights; filled "
        "circle: the original training recipe (as in the study), diamond: the later recipe, with its gain in "
        "points. Only networks with both figures are drawn.",
    ),
    Figure(
        "fig3",
        "Fig. 3",
        "Fig. 3: time per image vs batch size (log-log)",
        charts.time_vs_batch,
        Batches.ALL,
        lambda r: any(data.ms_per_image(b) is not None for b in r.batches),
        _time_summary,
        "Median of the timed iterations of one forward pass of a whole batch, divided by the batch size; the "
        "bar through each point is its 95 % interval.",
    ),
    Figure(
        "fig4",
        "Fig. 4",
        "Fig. 4: net power vs batch size",
        charts.power_vs_batch,
        Batches.ALL,
        lambda r: any(data.net_power_w(b) is not None for b in r.batches),
        _power_summary,
        "Mean power while running minus the idle power recorded with it, in watts.",
        needs_power=True,
    ),
    Figure(
        "fig5",
        "Fig. 5",
        "Fig. 5: peak memory vs batch size",
        charts.memory_vs_batch,
        Batches.ALL,
        lambda r: any(data.memory_bytes(b) is not None for b in r.batches),
        _memory_summary,
        "Peak memory while running each batch size, in MB (10^6 bytes); GPU: device memory in use (NVML) "
        "including the CUDA context; CPU: peak resident set size of the process.",
    ),
    Figure(
        "fig6",
        "Fig. 6",
        "Fig. 6: peak memory at batch 1 vs parameter size",
        charts.memory_vs_parameters,
        Batches.FIRST,
        lambda r: r.parameters is not None and data.memory_bytes(data.ok_batch(r, 1)) is not None,
        _memory_parameters_summary,
        "Parameter bytes in the measured precision against peak memory at batch 1; dashed: least-squares line.",
    ),
    Figure(
        "fig7",
        "Fig. 7",
        f"Fig. 7: operations vs time per image at batch 1 and {STUDY_LARGE_BATCH}",
        charts.operations_vs_time,
        Batches.STUDY_PAIR,
        lambda r: data.gflops(r) is not None and any(data.ms_per_image(b) is not None for b in r.batches),
        _operations_time_summary,
        "GFLOPs per image against median time per image with its 95 % interval; bubble area ∝ parameters; "
        "dashed: least-squares line.",
    ),
    Figure(
        "fig8",
        "Fig. 8",
        f"Fig. 8: operations vs net power at batch 1 and {STUDY_LARGE_BATCH}",
        charts.operations_vs_power,
        Batches.STUDY_PAIR,
        lambda r: data.gflops(r) is not None and any(data.net_power_w(b) is not None for b in r.batches),
        _operations_power_summary,
        "GFLOPs per image against net power above idle.",
        needs_power=True,
    ),
    Figure(
        "fig9",
        "Fig. 9",
        f"Fig. 9: top-1 vs images per second at batch 1 and {STUDY_LARGE_BATCH}, bubble area ∝ operations",
        charts.accuracy_vs_throughput,
        Batches.STUDY_PAIR,
        lambda r: data.top1(r) is not None and data.images_per_s(data.ok_batch(r, 1)) is not None,
        _throughput_summary,
        "Throughput = batch size / median time per batch, with its 95 % interval. Log x axis.",
    ),
    Figure(
        "fig10",
        "Fig. 10",
        "Fig. 10: accuracy per parameter (information density)",
        charts.density_bars,
        Batches.NONE,
        lambda r: data.density(r) is not None,
        _density_summary,
        "Top-1 percentage points per million parameters.",
    ),
    Figure(
        "pareto",
        "accuracy vs time front",
        "Top-1 vs time per image at batch 1, with the Pareto front",
        charts.accuracy_latency_front,
        Batches.FIRST,
        lambda r: data.top1(r) is not None and _time_b1(r) is not None,
        _front_summary(_time_b1, "ms per image"),
        "Dashed steps: the Pareto front, where no other model is both faster and more accurate. Log x axis.",
    ),
    Figure(
        "energy",
        "accuracy vs energy front",
        "Top-1 vs energy per image at batch 1, with the Pareto front",
        charts.accuracy_energy_front,
        Batches.FIRST,
        lambda r: data.top1(r) is not None and _energy_b1(r) is not None,
        _front_summary(_energy_b1, "J per image"),
        "Dashed steps: the Pareto front. Energy per image from the energy counter (or integrated power samples) "
        "over the timed window.",
        needs_power=True,
    ),
)
FIGURES += (
    Figure(
        "roofline",
        "roofline",
        "Roofline: achieved GFLOP/s vs arithmetic intensity, every batch size",
        lambda records, pal, lay: roofline(records, None, pal, lay),
        Batches.ALL,
        _roofline_needs,
        lambda records: "",
        "Achieved GFLOP/s = 2 × GMACs (fvcore, all operators) × batch size / median time per batch. "
        "Arithmetic intensity = those FLOPs / bytes, where bytes = parameter and buffer bytes once per batch + "
        "fvcore's activation count × batch size × bytes per element of the run's precision (a convention, "
        "not measured traffic). Solid line: min(peak, bandwidth × intensity), both measured on this machine "
        "in this run. Log-log axes; one point per model and batch size, named at its largest batch.",
        ceilings_chart=roofline,
        ceilings_summary=_roofline_summary,
    ),
)
BY_ID: dict[str, Figure] = {figure.id: figure for figure in FIGURES}
