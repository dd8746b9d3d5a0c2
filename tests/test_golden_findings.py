"""Golden findings: the verdicts, sentences and numbers of every claim, on fixture records.

``tests/golden/findings.json`` holds what the claims say on the two committed
fixture runs. Its numbers were checked by hand against the fixture factory's
formulas before it was written (tests/fixtures/factory.py): on the fixture CPU
a batch of b images takes 9 ms/GMAC x GMACs x b x (0.6 + 0.4/sqrt(b)) + 0.5 ms,
so time per image at batch 1 is 4.50 ms per GFLOP x GFLOPs + 0.500 ms; batch 16
gives 3.15 ms per GFLOP and 0.5/16 = 0.0313 ms; VGG-19 (19.63 GMACs) is the
slowest at 177 ms; AlexNet's speed-up to batch 64 is 6.89 / (266.32 / 64) =
1.66x; efficientnet_b0's 77.7 % on 5.3 M parameters is 14.7 % per million,
15.9x AlexNet's and 29.1x VGG-19's; memory at batch 1 is 350 MB (CPU: 150 MB
baseline + 200 MB floor) or 200 MB (GPU, above NVML's baseline) + 1.00 x the
parameter MB. The bootstrap intervals are the fixed-seed draws of that code.

A change of a threshold, a comparison, a formula or a sentence of
generator/render/findings.py shows here as a difference; if the change is
meant, check the new text by hand before writing it (``GOLDEN_WRITE=1``).
The hand-built runs below reach the branches the fixtures do not.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from fixtures.factory import (
    CPU,
    GPU,
    STUDY_MODELS,
    FixtureModel,
    make_record,
    retimed,
    with_measured_accuracy,
)
from fixtures.tight import approx

from generator.render import data, findings
from generator.render.data import Run, group_runs
from generator.render.load import LoadedRecord, load_records
from generator.schema import BatchResult, Memory, Record

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "measurements"
GOLDEN = Path(__file__).resolve().parent / "golden" / "findings.json"


def _effect(effect: findings.Effect) -> dict[str, Any]:
    def rounded(value: float | None) -> float | str | None:
        if value is None:
            return None
        return "nan" if math.isnan(value) else round(value, 9)

    return {
        "what": effect.what,
        "value": rounded(effect.value),
        "low": rounded(effect.low),
        "high": rounded(effect.high),
        "unit": effect.unit,
        "n": effect.n,
        "n_of": effect.n_of,
        "test": effect.test,
        "digits": effect.digits,
        "short": effect.short,
        "text": effect.text,
    }


def _finding(finding: findings.Finding) -> dict[str, Any]:
    split = finding.split
    return {
        "key": finding.key,
        "title": finding.title,
        "claim": finding.claim,
        "verdict": finding.verdict,
        "sentences": finding.sentences,
        "criterion": finding.criterion,
        "figures": finding.figures,
        "effects": [_effect(e) for e in finding.effects],
        "key_number": finding.key_number,
        "split": None if split is None else [split.shows, split.contradicts, split.cannot_tell],
    }


def _observed() -> dict[str, Any]:
    runs = group_runs(load_records(FIXTURES))
    computed = [findings.run_findings(run) for run in runs]
    table = findings.claims_table(runs, computed)
    return {
        "runs": {
            run.hardware_slug: [_finding(f) for f in [*found, findings.information_density(run.records)]]
            for run, found in zip(runs, computed, strict=True)
        },
        "claims_table": {
            "runs": table.runs,
            "rows": [
                {
                    "key": row.key,
                    "title": row.title,
                    "claim": row.claim,
                    "cells": [[c.verdict, c.effect, c.test] for c in row.cells],
                }
                for row in table.rows
            ],
        },
    }


# Computed again for each test (about a second): mutmut runs a mutant against the tests that reached its
# function, and a module-wide fixture reaches every finding inside the first test only, so the GPU run's
# comparison and the claims table would never run against a mutant (a changed energy title survived so).
@pytest.fixture
def observed() -> dict[str, Any]:
    found = _observed()
    if os.environ.get("GOLDEN_WRITE") == "1":
        GOLDEN.write_text(json.dumps(found, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    return found


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("slug", ["fixture-cpu-2t", "fixture-gpu"])
def test_findings_on_the_fixture_runs_are_golden(slug: str, observed: dict[str, Any], golden: dict[str, Any]) -> None:
    for found, expected in zip(observed["runs"][slug], golden["runs"][slug], strict=True):
        assert found == expected, found["key"]


def test_claims_table_is_golden(observed: dict[str, Any], golden: dict[str, Any]) -> None:
    assert observed["claims_table"] == golden["claims_table"]
    # A claim that cannot be tested shows its first sentence, not an empty effect.
    power = observed["claims_table"]["rows"][2]["cells"][0]
    assert power[1] == (
        "Cannot be tested on this run: power not measurable (no RAPL energy counter readable on this CPU)."
    )


# --- hand-built runs: every branch, numbers chosen to be checked by hand ------------------------------------------


def _run(records: list[Record]) -> Run:
    return Run("h", "c", [LoadedRecord(r, Path(f"m/{r.model.name}.json"), PurePosixPath("x")) for r in records])


TOO_FEW = (
    "Inconclusive: rests on {n} models; at least 5 are needed before a pattern across models can be claimed either way."
)


def _linear(models: tuple[FixtureModel, ...] = STUDY_MODELS) -> list[Record]:
    # Exactly 2 ms per GFLOP + 1 ms at batch 1, 1 ms per GFLOP + 0.5 ms at batch 16, no interval: R² = 1 in every draw.
    return [retimed(make_record(m, CPU, (1, 16)), {1: 4 * m.gmacs + 1, 16: 2 * m.gmacs + 0.5}, None) for m in models]


def test_operations_on_an_exact_line() -> None:
    finding = findings.operations_predict_time(_run(_linear()))
    assert finding.verdict == "supported"
    assert finding.sentences == [
        "At batch 1, time per image ≈ 2.00 ms per GFLOP × GFLOPs + 1.00 ms, R² = 1.000 over 10 models "
        "(95 % interval of R² 1.00–1.00).",
        "At batch 16, time per image ≈ 1.00 ms per GFLOP × GFLOPs + 0.500 ms, R² = 1.000 over 10 models "
        "(95 % interval of R² 1.00–1.00).",
        # VGG-19: 19.63 GMACs = 39.26 GFLOPs, 2 x 39.26 + 1 = 79.52 ms.
        "Slowest at batch 1: VGG-19, 79.5 ms per image (no interval) for 39.3 GFLOPs.",
    ]
    assert [(e.value, e.low, e.high, e.n) for e in finding.effects] == [
        (approx(1.0), approx(1.0), approx(1.0), 10)
    ] * 2
    assert finding.key_number == (
        "R² at batch 1: 1.00 (95 % interval 1.00–1.00, n = 10 models); "
        "R² at batch 16: 1.00 (95 % interval 1.00–1.00, n = 10 models)"
    )


def test_operations_on_three_two_and_one_models() -> None:
    three = findings.operations_predict_time(_run(_linear(STUDY_MODELS[2:5])))
    assert three.verdict == "inconclusive"
    assert three.sentences[1] == three.sentences[3] == TOO_FEW.format(n=3)
    # The slowest of GoogLeNet, ResNet-18 and ResNet-50 is ResNet-50: 4 x 4.09 GMACs + 1 = 17.36 ms.
    assert three.sentences[4] == "Slowest at batch 1: ResNet-50, 17.4 ms per image (no interval) for 8.18 GFLOPs."
    two = findings.operations_predict_time(_run(_linear(STUDY_MODELS[:2])))
    assert two.verdict == "cannot be tested" and two.effects == []
    assert two.sentences == [
        "At batch 1: cannot be tested, 2 models have both an operation count and a time at this batch size "
        "(3 needed).",
        "At batch 16: cannot be tested, 2 models have both an operation count and a time at this batch size "
        "(3 needed).",
        "Slowest at batch 1: BN-AlexNet, 3.88 ms per image (no interval) for 1.44 GFLOPs.",
    ]
    one = findings.operations_predict_time(_run(_linear(STUDY_MODELS[:1])))
    assert one.sentences[0] == (
        "At batch 1: cannot be tested, 1 model has both an operation count and a time at this batch size (3 needed)."
    )
    nothing = findings.operations_predict_time(_run([]))
    assert nothing.sentences[-1].startswith("At batch 16: cannot be tested, 0 models")


def test_operations_that_do_not_predict_time_are_not_supported() -> None:
    # Times alternate 10 and 15 ms whatever the GFLOPs: R² 0.080, its interval wholly below 0.8.
    records = [
        retimed(make_record(m, CPU, (1, 16)), {1: 10.0 + 5 * (i % 2), 16: 10.0 + 5 * (i % 2)}, None)
        for i, m in enumerate(STUDY_MODELS)
    ]
    finding = findings.operations_predict_time(_run(records))
    assert finding.verdict == "not supported"
    assert finding.effects[0].high is not None and finding.effects[0].high < findings.R2_SUPPORTED
    assert finding.sentences[0] == (
        "At batch 1, time per image ≈ 0.0544 ms per GFLOP × GFLOPs + 11.7 ms, R² = 0.080 over 10 models "
        "(95 % interval of R² 0.000402–0.794)."
    )


def test_batching_names_a_point_without_interval() -> None:
    # Six models, each exactly 2x faster per image at batch 16, intervals of +-1 %: 10 / 5.05 to 10.1 / 4.95.
    records = [retimed(make_record(m, CPU, (1, 16)), {1: 10.0, 16: 5.0}, 0.01) for m in STUDY_MODELS[:6]]
    records[2] = retimed(records[2], {16: 5.0}, None)
    finding = findings.batching_speedup(_run(records))
    assert finding.verdict == "supported"
    assert finding.sentences == [
        "From batch 1 to the largest batch size each model ran, time per image falls by a median 2.00× "
        "(95 % interval 1.96×–2.04×, n = 6 models), from 2.00× (AlexNet, batch 16) to 2.00× (ResNet-50, batch 16).",
        "Faster per image at the larger batch (whole interval above 1×): AlexNet, BN-AlexNet, ResNet-152, ResNet-18, "
        "ResNet-50. Slower (whole interval below 1×): none. Cannot be told apart (interval includes 1×, or a point "
        "without an interval): GoogLeNet.",
        "1 model of 6 has a point without an interval (timing stopped on its budget before one could be computed): "
        "GoogLeNet; any speed-up is possible for them.",
        "AlexNet: 2.00× (1.96–2.04) from batch 1 to batch 16; the study measured about 3× to batch 64 on the TX1.",
    ]
    effect = finding.effects[0]
    assert effect.low == approx(9.9 / 5.05) and effect.high == approx(10.1 / 4.95)
    assert finding.split == findings.ModelSplit(
        ["AlexNet", "BN-AlexNet", "ResNet-18", "ResNet-50", "ResNet-152"], [], ["GoogLeNet"]
    )
    two = [retimed(r, {16: 5.0}, None) for r in records[:2]]
    assert findings.batching_speedup(_run(two)).sentences[2].startswith("2 models of 2 have a point without")


def test_batching_without_a_larger_batch_cannot_be_tested() -> None:
    finding = findings.batching_speedup(_run([make_record(STUDY_MODELS[0], CPU, (1,))]))
    assert (finding.key, finding.title, finding.verdict, finding.figures) == (
        "batching",
        "Time per image vs batch size",
        "cannot be tested",
        ["fig3"],
    )
    assert finding.criterion == "needs time per image at batch 1 and at least one larger batch size"
    assert finding.sentences == ["Cannot be tested: no model has a time at batch 1 and at a larger batch size."]
    assert findings.batching_speedup(_run([make_record(STUDY_MODELS[0], CPU, (2, 4))])).verdict == "cannot be tested"


def test_power_nearly_constant_is_supported() -> None:
    # Fixture GPU at batch 1: 60 + 2 ln(1 + GMACs) W, from 61.1 W (AlexNet) to 66.1 W (VGG-19).
    finding = findings.power_independent(_run([make_record(m, GPU, (1,)) for m in STUDY_MODELS]))
    assert finding.verdict == "supported"
    assert finding.sentences == [
        "Net power above idle is 63.5 ± 1.91 W (mean ± standard deviation over 10 model × batch points), 3.0 % of "
        "the mean; from 61.1 W to 66.1 W.",
        "Spread (standard deviation / mean): 3.0 % (95 % interval 2.0 %–3.5 %, n = 10 models).",
        "Across architectures at batch 1, power spans 4.98 W (7.8 % of the mean) over 10 models.",
    ]


def test_power_moves_with_the_batch_on_few_models() -> None:
    # log2(2) = 1: each model draws 4 W more at batch 2 than at batch 1.
    finding = findings.power_independent(_run([make_record(m, GPU, (1, 2)) for m in STUDY_MODELS[:3]]))
    assert finding.verdict == "inconclusive"
    assert finding.sentences[2:] == [
        "Across batch sizes, one model's power moves by 4.00 W (median over 3 models of max − min), 6.3 % of the "
        "mean.",
        "Across architectures at batch 1, power spans 0.760 W (1.2 % of the mean) over 3 models.",
        TOO_FEW.format(n=3),
    ]


def test_power_on_one_model_counts_it_in_the_singular() -> None:
    # AlexNet (0.71 GMACs) on the fixture GPU: 60 + 2 ln 1.71 = 61.073 W at batch 1, 4 W more at batch 2;
    # mean 63.073, standard deviation 4 / sqrt 2 = 2.828 (4.48 %), range 4 W = 6.34 % of the mean.
    finding = findings.power_independent(_run([make_record(STUDY_MODELS[0], GPU, (1, 2))]))
    assert finding.verdict == "inconclusive"
    assert finding.sentences == [
        "Net power above idle is 63.1 ± 2.83 W (mean ± standard deviation over 2 model × batch points), 4.5 % of "
        "the mean; from 61.1 W to 65.1 W.",
        "Spread (standard deviation / mean): 4.5 % (95 % interval 4.5 %–4.5 %, n = 1 model).",
        "Across batch sizes, one model's power moves by 4.00 W (median over 1 model of max − min), 6.3 % of the mean.",
        "Inconclusive: rests on 1 model; at least 5 are needed before a pattern across models can be claimed either "
        "way.",
    ]


def _net_power(record: Record, watts: dict[int, float]) -> Record:
    batches = []
    for result in record.batches:
        assert result.power is not None
        batches.append(
            result.model_copy(update={"power": result.power.model_copy(update={"net_w": watts[result.batch_size]})})
        )
    return record.model_copy(update={"batches": batches})


def test_power_at_or_below_idle_cannot_be_tested() -> None:
    # A meter that does not move: 0 W above idle at both batch sizes (the spread / mean divided by zero).
    flat = findings.power_independent(_run([_net_power(make_record(STUDY_MODELS[0], GPU, (1, 2)), {1: 0.0, 2: 0.0})]))
    assert (flat.key, flat.title, flat.verdict, flat.effects) == (
        "power",
        "Power vs batch size and architecture",
        "cannot be tested",
        [],
    )
    assert flat.sentences == [
        "Cannot be tested on this run: net power above idle averages 0 W over 2 model × batch points, so its spread "
        "relative to the mean is undefined."
    ]
    assert flat.criterion == "needs net power (mean minus idle) averaging above 0 W"
    assert flat.figures == ["fig4", "fig8"]
    # Idle read above load: -1 and -3 W average -2 W.
    below = [
        _net_power(make_record(STUDY_MODELS[0], GPU, (1,)), {1: -1.0}),
        _net_power(make_record(STUDY_MODELS[1], GPU, (2,)), {2: -3.0}),
    ]
    assert findings.power_independent(_run(below)).sentences[0] == (
        "Cannot be tested on this run: net power above idle averages -2.00 W over 2 model × batch points, so its "
        "spread relative to the mean is undefined."
    )


def test_power_spread_whose_interval_starts_at_the_threshold_is_not_refuted() -> None:
    # Five models draw 50, 62, 63 and 65 W at batch 1 to 4 (mean 60, deviations -10, 2, 3, 5; squares 138). A
    # resample of six of them pools 24 points: variance 6 x 138 / 23 = 36, so exactly 6 W on 60 W, a spread of
    # exactly 10 %. The sixth model is twice as spread (40, 64, 66, 70 W): every resample that draws it is wider,
    # and a third of the draws ((5/6)^6) miss it, so the interval's low end is exactly 10 % and its high end above.
    # "Not supported" needs the whole interval above 10 %: inconclusive.
    narrow, wide = {1: 50.0, 2: 62.0, 3: 63.0, 4: 65.0}, {1: 40.0, 2: 64.0, 3: 66.0, 4: 70.0}
    records = [
        _net_power(make_record(m, GPU, (1, 2, 3, 4)), wide if i == 5 else narrow)
        for i, m in enumerate(STUDY_MODELS[:6])
    ]
    finding = findings.power_independent(_run(records))
    effect = finding.effects[0]
    assert effect.low == 10.0 and effect.high is not None and effect.high > 10.0 and effect.n == 6
    assert finding.verdict == "inconclusive"


def test_power_not_recorded_says_what_is_missing() -> None:
    record = make_record(STUDY_MODELS[0], GPU, (1, 2))
    silent = record.model_copy(update={"batches": [b.model_copy(update={"power": None}) for b in record.batches]})
    finding = findings.power_independent(_run([silent]))
    assert (finding.key, finding.title, finding.verdict) == (
        "power",
        "Power vs batch size and architecture",
        "cannot be tested",
    )
    assert finding.criterion == "needs net power (mean minus idle) at two or more points"
    assert finding.sentences == ["Cannot be tested on this run: fewer than two model × batch points carry a net power."]
    one = record.model_copy(update={"batches": record.batches[:1]})
    assert findings.power_independent(_run([one])).verdict == "cannot be tested"  # one point is not two


def test_power_spread_above_ten_percent_is_not_supported() -> None:
    # Batch 1 and 64 on the fixture GPU: 24 W apart (4 x log2 64) on a mean near 75 W.
    finding = findings.power_independent(_run([make_record(m, GPU, (1, 64)) for m in STUDY_MODELS[:5]]))
    assert finding.verdict == "not supported"


def _memory(model: FixtureModel, megabytes: dict[int, float]) -> Record:
    record = make_record(model, CPU, (1,))
    batches = [
        BatchResult(batch_size=size, status="ok", memory=Memory(peak_rss_bytes=int(mb * 1_000_000)))
        for size, mb in megabytes.items()
    ]
    return record.model_copy(update={"batches": batches})


MEMORY_SHAPES = [
    _memory(STUDY_MODELS[0], {1: 100, 2: 105, 4: 108}),  # flat to the end (within 10 %)
    _memory(STUDY_MODELS[1], {1: 100, 2: 200, 4: 400}),  # grows at once, 100 MB per image
    _memory(STUDY_MODELS[2], {1: 100, 2: 100, 4: 100, 8: 200}),  # knee 4, then 25 MB per image (two points)
    _memory(STUDY_MODELS[3], {1: 100, 2: 100, 4: 200, 8: 400}),  # knee 2, then 50 MB per image (a line)
    _memory(STUDY_MODELS[4], {1: 100, 2: 100, 4: 200, 8: 50}),  # knee 2, then falls
    _memory(STUDY_MODELS[5], {1: 100, 2: 100}),  # two sizes: no shape
]


def test_memory_shapes_golden() -> None:
    shapes = [findings.memory_shape(r) for r in MEMORY_SHAPES]
    assert shapes[:4] == [
        findings.MemoryShape("AlexNet", 4, 1, 4, None, False, None),
        findings.MemoryShape("BN-AlexNet", 1, 1, 4, approx(100.0), False, approx(1.0)),
        findings.MemoryShape("GoogLeNet", 4, 1, 8, approx(25.0), True, None),
        findings.MemoryShape("ResNet-18", 2, 1, 8, approx(50.0), True, approx(1.0)),
    ]
    falls = shapes[4]
    assert falls is not None and falls.knee_batch == 2 and falls.slope_mb_per_image is not None
    assert falls.slope_mb_per_image < 0 and not falls.flat_then_grows
    assert shapes[5] is None
    # 110 MB is still within 10 % of 100 MB; 111 MB is not.
    edge = findings.memory_shape(_memory(STUDY_MODELS[0], {1: 100, 2: 110, 4: 111, 8: 112}))
    assert edge is not None and edge.knee_batch == 2 and edge.tail_r2 is not None
    flat_then_level = findings.memory_shape(_memory(STUDY_MODELS[0], {1: 100, 2: 100, 4: 100, 8: 100, 16: 200}))
    assert flat_then_level is not None and flat_then_level.knee_batch == 8 and flat_then_level.flat_then_grows
    # A small model: 2 MB up to batch 8 (within 10 %), then 3 and 4 MB. The knee (batch 8) lies below the largest
    # batch (32), so it grows after it; its last memory (4 MB) is smaller than the knee's batch, so a knee
    # compared with a memory instead of a batch size would say it never grows.
    small = findings.memory_shape(_memory(STUDY_MODELS[0], {1: 2.0, 2: 2.1, 4: 2.1, 8: 2.2, 16: 3.0, 32: 4.0}))
    assert small is not None and small.knee_batch == 8 and small.flat_then_grows


def test_memory_finding_counts_every_shape() -> None:
    finding = findings.memory_flat_then_linear(_run(MEMORY_SHAPES))
    assert finding.verdict == "inconclusive"  # 2 of 5: Wilson interval 11.8 %-76.9 % includes 50 %
    assert finding.sentences == [
        "Of 5 models with memory at three or more batch sizes, 2 stay within 10 % of their smallest-batch memory "
        "up to a knee and grow after it, 1 stays flat up to the largest batch size measured, 1 grows from the "
        "smallest batch size on, and 1 does neither (memory falls after the knee).",
        "Share that are flat, then grow: 40.0 % (95 % interval 11.8 %–76.9 %, n = 5 models).",
        "The knee is at batch 3 (median; from 2 to 4); beyond it memory grows by 37.5 MB per image (median slope; "
        "from 25.0 to 50.0 MB per image).",
        "A straight line fits the growth beyond the knee with R² 1.000 (median over 1 model with three or more "
        "points past it; lowest 1.000).",
        "At batch 1, memory ≈ 100 MB + 0 × parameter MB (R² = 1.000, 6 models; the study found a floor of about "
        "200 MB and a slope of about 1.3).",
    ]
    assert finding.criterion.endswith("memory is process resident memory (peak RSS)")
    one = findings.memory_flat_then_linear(_run(MEMORY_SHAPES[2:3]))
    assert one.sentences[0] == (
        "Of 1 model with memory at three or more batch sizes, 1 stays within 10 % of its smallest-batch memory up "
        "to a knee and grows after it, 0 stay flat up to the largest batch size measured, and 0 grow from the "
        "smallest batch size on."
    )
    assert one.sentences[-1] == TOO_FEW.replace("{n} models", "1 model") and one.verdict == "inconclusive"
    none = findings.memory_flat_then_linear(_run(MEMORY_SHAPES[5:]))
    assert (none.key, none.title, none.verdict, none.figures) == (
        "memory",
        "Memory vs batch size",
        "cannot be tested",
        ["fig5", "fig6"],
    )
    assert none.claim == "Memory stays flat up to some batch size, then grows linearly with it."
    assert none.sentences == ["Cannot be tested: no model has peak memory at three or more batch sizes."]
    assert findings.memory_flat_then_linear(_run([])).verdict == "cannot be tested"


def test_memory_fit_at_batch_1_leaves_out_a_model_without_memory_there() -> None:
    # MEMORY_SHAPES' six models at batch 1 all hold 100 MB; a seventh measured from batch 2 on only has no
    # point at batch 1: the fit (R² over 6 models) and every sentence stay as they are without it.
    without_batch_1 = _memory(STUDY_MODELS[6], {2: 100, 4: 100, 8: 300})
    alone = findings.memory_flat_then_linear(_run(MEMORY_SHAPES))
    beside = findings.memory_flat_then_linear(_run([*MEMORY_SHAPES, without_batch_1]))
    assert alone.sentences[-1] == beside.sentences[-1] == (
        "At batch 1, memory ≈ 100 MB + 0 × parameter MB (R² = 1.000, 6 models; the study found a floor of about "
        "200 MB and a slope of about 1.3)."
    )


def test_memory_mostly_flat_then_growing_is_supported_and_mostly_not_is_not() -> None:
    grows = [_memory(m, {1: 100, 2: 100, 4: 200, 8: 400}) for m in STUDY_MODELS]
    assert findings.memory_flat_then_linear(_run(grows)).verdict == "supported"  # 10 of 10: 72 %-100 %
    flat = [_memory(m, {1: 100, 2: 100, 4: 100}) for m in STUDY_MODELS]
    assert findings.memory_flat_then_linear(_run(flat)).verdict == "not supported"  # 0 of 10: 0 %-28 %


def _timed_model(index: int, ms: float, top1: float | None) -> Record:
    model = FixtureModel(f"m{index}", "family", None, 10.0 + index, 1.0 + index, top1, None)
    return retimed(make_record(model, CPU, (1,)), {1: ms}, None)


def test_accuracy_on_an_exact_hyperbola_is_supported() -> None:
    # top-1 = 80 - 40 / ms at 1, 2, 4, ... 32 ms: 40, 60, 70, 75, 77.5, 78.75 %.
    records = [_timed_model(i, ms, 80 - 40 / ms) for i, ms in enumerate([1, 2, 4, 8, 16, 32])]
    finding = findings.accuracy_time(_run(records))
    assert finding.verdict == "supported"
    assert finding.sentences == [
        "Over 6 models at batch 1, top-1 against time per image: hyperbola top-1 = 80.0 − 40.0 / (ms per image), "
        "R² = 1.000; logarithm R² = 0.820; straight line R² = 0.445. Best fit: hyperbola a − b/time.",
        "R² gained by the better curve over the line: 0.555 (95 % interval 0.0733–0.638, n = 6 models); R² of that "
        "curve: 1.00 (95 % interval 1.00–1.00, n = 6 models).",
        "Pareto front (no other model is both faster at batch 1 and more accurate): m0, m1, m2, m3, m4, m5.",
        "Top-1 here is a recipe the records do not state for m0, m1, m2, m3, m4, m5.",
    ]
    assert finding.effects[0].value == approx(1 - 0.4453925923231848)


def test_accuracy_falling_with_time_is_not_supported() -> None:
    records = [_timed_model(i, ms, 40 + 40 / ms) for i, ms in enumerate([1, 2, 4, 8, 16, 32])]
    finding = findings.accuracy_time(_run(records))
    assert finding.verdict == "not supported"
    assert "hyperbola top-1 = 40.0 + 40.0 / (ms per image)" in finding.sentences[0]
    assert finding.sentences[2] == "Pareto front (no other model is both faster at batch 1 and more accurate): m0."


def test_accuracy_on_few_models() -> None:
    records = [_timed_model(i, ms, 80 - 40 / ms) for i, ms in enumerate([1, 2, 4, 8])]
    four = findings.accuracy_time(_run(records))
    assert four.verdict == "inconclusive" and four.sentences[-1] == TOO_FEW.format(n=4)
    two = findings.accuracy_time(_run(records[:2]))
    assert two.verdict == "cannot be tested" and two.effects == []
    assert (two.key, two.title, two.figures) == ("accuracy-time", "Accuracy vs inference time", ["fig9", "pareto"])
    assert two.criterion == "needs top-1 and batch-1 time for three or more models"
    assert two.sentences == ["Cannot be tested: 2 models have both a top-1 figure and a time at batch 1 (3 needed)."]
    one = findings.accuracy_time(_run(records[:1]))
    assert one.sentences == ["Cannot be tested: 1 model has both a top-1 figure and a time at batch 1 (3 needed)."]


def _energy_model(index: int, top1: float) -> Record:
    # Fixture GPU at batch 1: (60 + 2 ln(1 + g) + 70) W x (0.08 g + 0.5) ms, g = 1 + index GMACs.
    return make_record(FixtureModel(f"e{index}", "family", None, 10.0, 1.0 + index, top1, None), GPU, (1,))


def test_energy_rising_with_accuracy_and_operations_is_supported() -> None:
    finding = findings.energy_bounds_accuracy(_run([_energy_model(i, 70 + i) for i in range(6)]))
    assert finding.verdict == "supported"
    assert finding.sentences[:2] == [
        "Best top-1 reachable within an energy budget per image at batch 1 (Pareto front): e0 0.0762 J → 70.0 %; "
        "e1 0.0872 J → 71.0 %; e2 0.0983 J → 72.0 %; e3 0.109 J → 73.0 %; e4 0.120 J → 74.0 %; e5 0.131 J → 75.0 %.",
        "Rank correlation of energy per image with top-1: 1.0 (95 % interval 1.00–1.0, n = 6 models); with GFLOPs: "
        "1.0 (95 % interval 1.00–1.0, n = 6 models).",
    ]
    assert [e.short for e in finding.effects] == ["ρ with top-1", "ρ with GFLOPs"]


def test_energy_falling_with_accuracy_is_not_supported() -> None:
    finding = findings.energy_bounds_accuracy(_run([_energy_model(i, 80 - i) for i in range(6)]))
    assert finding.verdict == "not supported"
    assert finding.sentences[0] == (
        "Best top-1 reachable within an energy budget per image at batch 1 (Pareto front): e0 0.0762 J → 80.0 %."
    )
    assert finding.effects[0].value == approx(-1.0)


def test_energy_on_few_models() -> None:
    four = findings.energy_bounds_accuracy(_run([_energy_model(i, 70 + i) for i in range(4)]))
    assert four.verdict == "inconclusive" and four.sentences[-1] == TOO_FEW.format(n=4)
    two = findings.energy_bounds_accuracy(_run([_energy_model(i, 70 + i) for i in range(2)]))
    assert two.verdict == "cannot be tested"
    assert two.sentences == [
        "Cannot be tested on this run: 2 models have energy per image at batch 1, a top-1 and GFLOPs (3 needed)."
    ]
    one = findings.energy_bounds_accuracy(_run([_energy_model(0, 70)]))
    assert one.sentences == [
        "Cannot be tested on this run: 1 model has energy per image at batch 1, a top-1 and GFLOPs (3 needed)."
    ]


def test_energy_the_same_for_every_model_has_no_rank_correlation() -> None:
    # Five models of 1 GMAC: (60 + 2 ln 2 + 70) W x 0.58 ms = 0.0762 J each, top-1 70 to 74 %. Energy does not
    # vary, so Spearman's ρ is undefined in the data and in every resample: no value, no interval.
    # e0 and e1 name a later torchvision recipe (IMAGENET1K_V2, no original beside it), the others the original.
    records = []
    for i in range(5):
        record = make_record(FixtureModel(f"e{i}", "family", None, 10.0, 1.0, 70.0 + i, None), GPU, (1,))
        weights = f"E{i}_Weights.IMAGENET1K_V{2 if i < 2 else 1}"
        records.append(record.model_copy(update={"model": record.model.model_copy(update={"weights": weights})}))
    finding = findings.energy_bounds_accuracy(_run(records))
    assert finding.verdict == "inconclusive"
    assert [(math.isnan(e.value), e.low, e.high, e.n) for e in finding.effects] == [(True, None, None, 5)] * 2
    assert finding.sentences == [
        "Best top-1 reachable within an energy budget per image at batch 1 (Pareto front): e4 0.0762 J → 74.0 %.",
        "Rank correlation of energy per image with top-1: not measured (no interval, n = 5 models); with GFLOPs: "
        "not measured (no interval, n = 5 models).",
        "Top-1 here is a later training recipe for e0, e1 (records from before the original recipe's figure was "
        "kept; the study used original recipes, so these points sit higher than its would).",
    ]


ENET = FixtureModel("enet", "enet", "ENet", 0.53, 0.24, None, None, "generator")


def test_density_ranks_enet_first_or_not() -> None:
    others = [make_record(m, CPU, (1,)) for m in STUDY_MODELS]
    dense = with_measured_accuracy(make_record(ENET, CPU, (1,)), 60.0, data.IMAGENET_VAL_IMAGES)
    finding = findings.information_density([*others, dense])
    assert finding.verdict == "supported"
    # 60 % / 0.53 M = 113 % per million; AlexNet 56.5 / 61.1 = 0.925 (122x); VGG-19 72.4 / 143.7 = 0.504 (225x).
    assert finding.sentences == [
        "Best accuracy per parameter among the networks with a sourced top-1: ENet with 113 top-1 % per million "
        "parameters (11 models).",
        "That is 122× AlexNet.",
        "That is 225× VGG-19.",
    ]
    assert finding.key_number == "best, ENet: 113 top-1 % per million parameters (exact, n = 11 models)"
    sparse = with_measured_accuracy(make_record(ENET, CPU, (1,)), 0.1, data.IMAGENET_VAL_IMAGES)
    assert findings.information_density([*others, sparse]).verdict == "not supported"


def test_density_without_a_sourced_top1() -> None:
    unsourced = findings.information_density([make_record(ENET, CPU, (1,))])
    assert unsourced.verdict == "cannot be tested as stated" and unsourced.effects == []
    assert unsourced.sentences == [
        "No record has both a sourced top-1 and a parameter count.",
        "ENet has no sourced top-1 (none published, none measured over the full validation set), so the claim "
        "cannot be tested as stated; the best of the networks that have one is shown beside it.",
    ]
    missing = findings.information_density([make_record(STUDY_MODELS[2], CPU, (1,))])
    assert missing.sentences[-1].startswith("ENet was not measured, so the claim cannot be tested as stated")
    assert len(missing.sentences) == 2  # neither AlexNet nor VGG-19 to compare with
    # The first record of a model name counts; a second of the same name does not replace it.
    first = make_record(STUDY_MODELS[2], CPU, (1,))
    again = with_measured_accuracy(make_record(STUDY_MODELS[2], GPU, (1,)), 99.0, 50_000)
    assert findings.information_density([first, again]).effects[0].value == approx(69.8 / 6.6)


def test_effect_texts_and_bounds() -> None:
    effect = findings.Effect("x", 2.0, 1.0, None, " W", 3, "models", "test")
    assert effect.interval_text == "95 % interval from 1.00 W, upper end unbounded"
    assert effect.text == "2.00 W (95 % interval from 1.00 W, upper end unbounded, n = 3 models)"
    assert findings.Effect("x", 2.0, None, None, "", 1, "models", "exact: counted").interval_text == "exact"
    # A fraction without an interval keeps both ends None, in percent.
    share = findings.Effect.percent("share", 0.25, None, 4, "models", "test", digits=2, short="s")
    assert (share.value, share.low, share.high, share.unit) == (25.0, None, None, " %")
    assert share.text == "25 % (no interval, n = 4 models)"
    assert findings.Effect("x", 2.0, None, 3.0, "", 1, "models", "bootstrap").interval_text == "no interval"
    bounded = findings.Effect("x", 2.0, 1.0, 3.0, "", 1, "models", "t", digits=2)
    assert bounded.interval_text == "95 % interval 1.0–3.0"
    assert bounded.above(0.99) and not bounded.above(1.0)  # the whole interval, strictly
    assert bounded.below(3.01) and not bounded.below(3.0)
    assert not effect.below(100.0)  # no upper end: never wholly below
    assert not findings.Effect("x", 2.0, None, 3.0, "", 1, "models", "t").above(0.0)
    finding = findings.Finding("k", "t", "c", "supported", [], "crit", effects=[bounded, effect])
    assert finding.key_number == (
        "x: 2.0 (95 % interval 1.0–3.0, n = 1 model); x: 2.00 W (95 % interval from 1.00 W, upper end unbounded, "
        "n = 3 models)"
    )
