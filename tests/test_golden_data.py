"""Golden numbers of the render data layer: every derived metric on fixture records, computed by hand.

Each expected value below is worked out from the fixture factory's formulas
(tests/fixtures/factory.py) or from a record built here with round numbers, so
a changed constant, comparison or field in generator/render/data.py fails here
(benchmarks/MUTATION.md). Records are built through the schema; a record that
the schema would refuse is never used.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from fixtures.factory import (
    CPU,
    GPU,
    STUDY_MODELS,
    FixtureModel,
    make_record,
    retimed,
    with_measured_accuracy,
    with_recipes,
)
from fixtures.tight import approx

from generator.render import data
from generator.render.load import LoadedRecord
from generator.schema import (
    BandwidthCeiling,
    BatchResult,
    MachineCeilings,
    MatmulCeiling,
    Memory,
    Power,
    PublishedAccuracy,
    Record,
)

ALEXNET, BN_ALEXNET, RESNET50 = STUDY_MODELS[0], STUDY_MODELS[1], STUDY_MODELS[4]
INCEPTION_V4 = STUDY_MODELS[9]
NO_ACCURACY = FixtureModel("squeezenet1_0", "squeezenet", None, 1.2, 0.82, None, None)
MB = 1_000_000


def _published(record: Record, published: PublishedAccuracy | None) -> Record:
    return record.model_copy(update={"accuracy": record.accuracy.model_copy(update={"published": published})})


def _weights(record: Record, weights: str | None, source: str | None = None) -> Record:
    update: dict[str, object] = {"weights": weights}
    if source is not None:
        update["source"] = source
    return record.model_copy(update={"model": record.model.model_copy(update=update)})


def _with_batch(record: Record, result: BatchResult) -> Record:
    return record.model_copy(update={"batches": [result]})


# --- accuracy ------------------------------------------------------------------------------------------------------


def test_an_evaluation_of_exactly_the_whole_validation_set_is_full_one_image_less_is_limited() -> None:
    whole = with_measured_accuracy(make_record(NO_ACCURACY, CPU, (1,)), 60.0, 50_000)
    short = with_measured_accuracy(make_record(NO_ACCURACY, CPU, (1,)), 60.0, 49_999)
    assert data.full_evaluation(whole) is whole.accuracy.measured and data.limited_evaluation(whole) is None
    assert data.limited_evaluation(short) is short.accuracy.measured and data.full_evaluation(short) is None
    none = make_record(NO_ACCURACY, CPU, (1,))
    assert data.full_evaluation(none) is None and data.limited_evaluation(none) is None
    # No published figure: the full evaluation gives top-1 and top-5 (top1 + 15, the factory's rule).
    assert data.top1(whole) == 60.0 and data.top5(whole) == 75.0
    assert data.top1_source(whole) == "measured"
    assert data.top1(short) is None and data.top5(short) is None and data.top1_source(short) == "unknown"


def test_top5_falls_back_field_by_field() -> None:
    # BN-AlexNet publishes top-1 56.6 but no top-5: top-5 comes from the full evaluation, top-1 stays published.
    record = with_measured_accuracy(make_record(BN_ALEXNET, CPU, (1,)), 57.0, 50_000)
    assert data.top1(record) == 56.6 and data.top5(record) == 72.0
    assert data.top1_source(record) == "published"
    assert data.top5(make_record(BN_ALEXNET, CPU, (1,))) is None
    assert data.top5(make_record(ALEXNET, CPU, (1,))) == 79.1
    # A published entry without top-1 gives way to the evaluation, and the source says so.
    empty = _published(record, PublishedAccuracy(top1_percent=None, top5_percent=None, source="x"))
    assert data.top1(empty) == 57.0 and data.top1_source(empty) == "measured"


def test_original_recipe_is_the_source_and_has_no_top5() -> None:
    record = with_recipes(make_record(RESNET50, GPU, (1,)), 76.13, 80.858, "ResNet50_Weights.IMAGENET1K_V2")
    assert data.top1(record) == 76.13 and data.top1_source(record) == "original recipe"
    # The original recipe's entry has no top-5: the later recipe's is not mixed in.
    assert data.top5(record) is None


def test_an_original_recipe_without_top1_names_no_source_it_did_not_use() -> None:
    # The record names an original recipe with no top-1 beside a later recipe's 80.858: top-1 is not taken
    # from the later recipe, so the source may not say "published" (it did: top1 None, source "published").
    record = with_recipes(make_record(RESNET50, GPU, (1,)), 76.13, 80.858, "ResNet50_Weights.IMAGENET1K_V2")
    original = record.accuracy.original_recipe
    assert original is not None
    unknown = record.model_copy(
        update={"accuracy": record.accuracy.model_copy(update={"original_recipe": original.model_copy(
            update={"top1_percent": None})})}
    )
    assert data.top1(unknown) is None and data.top1_source(unknown) == "unknown"
    assert data.accuracy_recipe(unknown) == "not stated"
    # A full evaluation of the named (later) weights gives 79.0: measured, and no recipe is claimed for it.
    evaluated = with_measured_accuracy(unknown, 79.0, 50_000)
    assert data.top1(evaluated) == 79.0 and data.top1_source(evaluated) == "measured"
    assert data.accuracy_recipe(evaluated) == "not stated"


@pytest.mark.parametrize(
    ("weights", "published_weights", "source", "recipe"),
    [
        (None, None, "generator", "original"),  # the study's hand-written networks
        (None, None, "torchvision", "not stated"),  # no weights named at all
        ("AlexNet_Weights.IMAGENET1K_V1", None, "torchvision", "original"),
        ("inception_v4.tf_in1k", None, "timm", "original"),  # ORIGINAL_WEIGHTS_BY_NAME
        ("ResNet50_Weights.IMAGENET1K_V2", None, "torchvision", "later"),
        ("resnet50.a1_in1k", None, "timm", "not stated"),
        (None, "ResNet50_Weights.IMAGENET1K_V2", "torchvision", "original"),  # registry compared with V1
        (None, "resnet50.a1_in1k", "timm", "not stated"),
        (None, "ResNet50_Weights.IMAGENET1K_V2", "timm", "later"),
    ],
)
def test_accuracy_recipe(weights: str | None, published_weights: str | None, source: str, recipe: str) -> None:
    record = _weights(make_record(RESNET50, CPU, (1,)), weights, source)
    published = record.accuracy.published
    assert published is not None
    record = _published(record, published.model_copy(update={"weights": published_weights}))
    assert data.accuracy_recipe(record) == recipe


def test_no_top1_or_only_an_evaluation_states_no_recipe() -> None:
    assert data.accuracy_recipe(make_record(NO_ACCURACY, CPU, (1,))) == "not stated"
    evaluated = with_measured_accuracy(make_record(NO_ACCURACY, CPU, (1,)), 60.0, 50_000)
    assert data.accuracy_recipe(_weights(evaluated, "X_Weights.IMAGENET1K_V1")) == "not stated"


def test_recipe_gain_rows_golden() -> None:
    resnet = with_recipes(make_record(RESNET50, GPU, (1,)), 76.13, 80.858, "ResNet50_Weights.IMAGENET1K_V2")
    alexnet = with_recipes(make_record(ALEXNET, GPU, (1,)), 56.5, 57.0, "AlexNet_Weights.LATER")
    assert data.later_recipe_top1(resnet) == 80.858
    assert data.later_recipe_top1(make_record(RESNET50, GPU, (1,))) is None
    rows = data.recipe_gain_points([resnet, make_record(STUDY_MODELS[2], GPU, (1,)), alexnet])
    assert rows == [
        {
            "model": "AlexNet",
            "registry_name": "alexnet",
            "family": "alexnet",
            "top1": 56.5,
            "later_top1": 57.0,
            "gain_points": approx(0.5),
            "later_weights": "AlexNet_Weights.LATER",
            "later_source": "fixture: AlexNet_Weights.LATER, a later recipe (illustrative)",
            "original_weights": "IMAGENET1K_V1",
            "gflops": 1.42,
            "params_m": 61.1,
        },
        {
            "model": "ResNet-50",
            "registry_name": "resnet50",
            "family": "resnet",
            "top1": 76.13,
            "later_top1": 80.858,
            "gain_points": approx(4.728),
            "later_weights": "ResNet50_Weights.IMAGENET1K_V2",
            "later_source": "fixture: ResNet50_Weights.IMAGENET1K_V2, a later recipe (illustrative)",
            "original_weights": "IMAGENET1K_V1",
            "gflops": 8.18,
            "params_m": 25.6,
        },
    ]
    # A model without a study name is named by its registry name; no weights named: "not named".
    extra = with_recipes(make_record(NO_ACCURACY, GPU, (1,)), 57.0, 58.0, "W")
    assert extra.accuracy.published is not None
    unnamed = _published(extra, extra.accuracy.published.model_copy(update={"weights": None}))
    [row] = data.recipe_gain_points([unnamed])
    assert row["model"] == "squeezenet1_0" and row["later_weights"] == "not named"


def test_recipe_note_golden() -> None:
    later = _weights(make_record(RESNET50, CPU, (1,)), "ResNet50_Weights.IMAGENET1K_V2")
    later_b = _weights(make_record(STUDY_MODELS[2], CPU, (1,)), "GoogLeNet_Weights.V2")
    unstated = make_record(STUDY_MODELS[3], CPU, (1,))  # torchvision, no weights named
    nothing = make_record(NO_ACCURACY, CPU, (1,))  # no top-1: nothing to state
    assert data.recipe_note([later_b, later, unstated, nothing]) == (
        "Not the original training recipe — top-1 of a later training recipe (the record predates the original "
        "recipe's figure; re-measure to get it): GoogLeNet, ResNet-50; training recipe not stated in the record: "
        "ResNet-18."
    )
    assert data.recipe_note([unstated]) == (
        "Not the original training recipe — training recipe not stated in the record: ResNet-18."
    )
    assert data.recipe_note([nothing]) is None


# --- size, operations, density ---------------------------------------------------------------------------------------


def test_size_operations_and_density() -> None:
    record = make_record(RESNET50, CPU, (1,))
    assert data.params_millions(record) == 25.6
    assert data.gmacs(record) == 4.09 and data.gflops(record) == 8.18
    assert data.density(record) == approx(76.1 / 25.6)
    failed = make_record(RESNET50, CPU, failed=True)
    assert data.params_millions(failed) is None and data.gflops(failed) is None and data.gmacs(failed) is None
    assert data.density(failed) is None
    assert data.density(make_record(NO_ACCURACY, CPU, (1,))) is None
    assert record.parameters is not None
    zero = record.model_copy(update={"parameters": record.parameters.model_copy(update={"count": 0})})
    assert data.density(zero) is None  # no parameters: no density, never a division by zero


# --- timing ----------------------------------------------------------------------------------------------------------


def test_timing_point_golden() -> None:
    record = retimed(make_record(RESNET50, CPU, (1, 4, 16)), {1: 40.0, 4: 20.0, 16: 10.0}, 0.05)
    record = retimed(record, {16: 10.0}, None)
    four = data.ok_batch(record, 4)
    assert four is not None and data.batch(record, 4) is four and four.latency is not None
    assert data.batch(record, 2) is None and data.ok_batch(record, 2) is None
    point = data.timing_point(record, four)
    assert point == data.TimingPoint(
        model="resnet50",
        batch_size=4,
        ms_per_image=approx(20.0),
        ms_per_image_low=approx(19.0),  # 80 ms per batch x 0.95 / 4 images
        ms_per_image_high=approx(21.0),
        images_per_s=approx(50.0),
        images_per_s_low=approx(4000 / 84),  # 4 images in the slow end's 84 ms
        images_per_s_high=approx(4000 / 76),
        timed_iterations=four.latency.timed_iterations,
        rounds=2,
        stop_reason="converged",
        interval_basis="within and across rounds",
    )
    assert point.timed_iterations == 20  # two rounds of ten samples
    assert point.has_interval
    sixteen = data.timing_point(record, data.ok_batch(record, 16))
    assert sixteen is not None and not sixteen.has_interval and sixteen.stop_reason == "time_budget"
    assert sixteen.ms_per_image_low is None and sixteen.images_per_s_low is None and sixteen.images_per_s_high is None
    assert sixteen.interval_basis == "none"
    assert data.timing_point(record, None) is None


def test_half_an_interval_is_no_interval() -> None:
    record = retimed(make_record(RESNET50, CPU, (1,)), {1: 40.0}, 0.05)
    result = data.ok_batch(record, 1)
    assert result is not None and result.latency is not None
    for ends in ({"ci95_low_ms_per_batch": None}, {"ci95_high_ms_per_batch": None}):
        half = result.model_copy(update={"latency": result.latency.model_copy(update=ends)})
        assert data.ms_per_image_low(half) is None and data.ms_per_image_high(half) is None
        assert data.images_per_s_low(half) is None and data.images_per_s_high(half) is None
        assert data.interval_basis(half) == "none"
        assert data.ms_per_image(half) == approx(40.0)


def test_one_round_interval_basis_and_rounds() -> None:
    gpu = data.ok_batch(make_record(RESNET50, GPU, (1,)), 1)
    assert data.rounds(gpu) == 1 and data.interval_basis(gpu) == "within one round"
    assert data.rounds(None) is None and data.interval_basis(None) == "none"


def test_failed_or_untimed_batches_have_no_timing() -> None:
    oom = BatchResult(batch_size=8, status="oom", error="out of memory")
    untimed = BatchResult(batch_size=8, status="ok")
    for result in (oom, untimed, None):
        assert data.timing_fields(result) == dict.fromkeys(
            ("ms_per_image", "ms_per_image_low", "ms_per_image_high", "images_per_s", "images_per_s_low",
             "images_per_s_high"),
            None,
        )
        assert data.rounds(result) is None and data.interval_basis(result) == "none"
    record = _with_batch(make_record(RESNET50, CPU, (8,)), oom)
    assert data.batch(record, 8) is oom and data.ok_batch(record, 8) is None
    assert data.timing_point(record, untimed) is None
    # An ok batch whose latency was dropped is not a point either.
    ok = data.ok_batch(make_record(RESNET50, CPU, (8,)), 8)
    assert ok is not None
    assert data.timing_point(record, ok.model_copy(update={"latency": None})) is None


def test_timing_points_are_ordered_by_model_then_batch() -> None:
    records = [make_record(RESNET50, CPU, (4, 1)), make_record(ALEXNET, CPU, (2, 1))]
    oom = BatchResult(batch_size=8, status="oom", error="out of memory")
    records.append(make_record(STUDY_MODELS[2], CPU, (1,)).model_copy(update={"batches": [oom]}))
    assert [(p.model, p.batch_size) for p in data.timing_points(records)] == [
        ("alexnet", 1), ("alexnet", 2), ("resnet50", 1), ("resnet50", 4),
    ]


def _shares(*shares: float | None) -> BatchResult:
    result = make_record(ALEXNET, CPU, (1,)).batches[0]
    assert result.latency is not None and len(result.latency.rounds) == len(shares)
    rounds = [
        one.model_copy(update={"other_processes_cpu_share": share})
        for one, share in zip(result.latency.rounds, shares, strict=True)
    ]
    return result.model_copy(update={"latency": result.latency.model_copy(update={"rounds": rounds})})


def test_other_processes_share_is_the_busiest_round_and_flagged_above_ten_percent() -> None:
    # Two rounds: 5 % and 25 % of the CPUs went to other processes; the worse round is the one to report.
    busy = _shares(0.05, 0.25)
    assert data.other_processes_cpu_share(busy) == 0.25
    assert data.contention_note(busy) == "measured while other processes used 25 % of the CPUs"
    # One round recorded, one not (None): the recorded one counts.
    assert data.other_processes_cpu_share(_shares(None, 0.3)) == 0.3
    # Exactly the flagged 10 % is not flagged; nothing recorded says nothing.
    assert data.other_processes_cpu_share(_shares(0.1, 0.1)) == 0.1 and data.contention_note(_shares(0.1, 0.1)) is None
    quiet = _shares(None, None)
    assert data.other_processes_cpu_share(quiet) is None and data.contention_note(quiet) is None
    assert data.other_processes_cpu_share(None) is None


# --- memory and power ------------------------------------------------------------------------------------------------


def test_memory_golden() -> None:
    # ResNet-50: weights 4 x 25.6 M = 102.4 MB; at batch 1 the working set is the 200 MB floor.
    cpu = make_record(RESNET50, CPU, (1,))
    assert data.memory_bytes(data.ok_batch(cpu, 1)) == 150 * MB + 102.4 * MB + 200 * MB
    assert data.memory_kind(cpu) == "process resident memory (peak RSS)"
    gpu = make_record(RESNET50, GPU, (1,))
    assert data.memory_bytes(data.ok_batch(gpu, 1)) == 102.4 * MB + 200 * MB  # NVML above its 300 MB baseline
    assert data.memory_kind(gpu) == (
        "GPU memory in use above the run's baseline (NVML, whole device: context, model, activations)"
    )
    # Without NVML's baseline, the allocator's reserved peak; NVML below its baseline counts as 0, never negative.
    reserved = Memory(cuda_peak_reserved_bytes=5 * MB, nvml_used_bytes=9 * MB, peak_rss_bytes=7 * MB)
    below = Memory(nvml_used_bytes=1 * MB, nvml_baseline_used_bytes=2 * MB, cuda_peak_reserved_bytes=5 * MB)
    rss = Memory(peak_rss_bytes=7 * MB, nvml_baseline_used_bytes=2 * MB)
    expected = {reserved: 5 * MB, below: 0.0, rss: 7 * MB, Memory(): None}
    kinds = {
        reserved: "GPU memory reserved by PyTorch (peak)",
        below: "GPU memory in use above the run's baseline (NVML, whole device: context, model, activations)",
        rss: "process resident memory (peak RSS)",
        Memory(): "not measured",
    }
    for memory, value in expected.items():
        result = BatchResult(batch_size=1, status="ok", memory=memory)
        assert data.memory_bytes(result) == value
        assert data.memory_kind(_with_batch(cpu, result)) == kinds[memory]
    assert data.memory_bytes(BatchResult(batch_size=1, status="oom", memory=rss)) is None
    assert data.memory_bytes(BatchResult(batch_size=1, status="ok")) is None
    assert data.memory_bytes(None) is None
    # The first batch with memory decides; one without memory is skipped.
    first_without = cpu.model_copy(
        update={"batches": [BatchResult(batch_size=1, status="ok"), BatchResult(batch_size=2, status="ok", memory=rss)]}
    )
    assert data.memory_kind(first_without) == "process resident memory (peak RSS)"


def test_power_golden() -> None:
    gpu = make_record(RESNET50, GPU, (1, 4))
    # The factory's net power: 60 + 4 log2(batch) + 2 ln(1 + GMACs), rounded to 3 decimals.
    assert data.net_power_w(data.ok_batch(gpu, 1)) == 63.255
    assert data.net_power_w(data.ok_batch(gpu, 4)) == 71.255
    result = data.ok_batch(gpu, 1)
    assert result is not None and result.power is not None and result.latency is not None
    assert data.energy_j(result) == result.power.energy_j_per_image
    assert data.energy_j(result) == approx((63.255 + 70) * result.latency.median_ms_per_batch / 1000, abs=1e-6)
    cpu = data.ok_batch(make_record(RESNET50, CPU, (1,)), 1)
    assert data.net_power_w(cpu) is None and data.energy_j(cpu) is None
    assert data.net_power_w(None) is None and data.energy_j(None) is None
    failed = BatchResult(batch_size=1, status="error", error="x", power=result.power)
    assert data.net_power_w(failed) is None and data.energy_j(failed) is None
    no_power = result.model_copy(update={"power": None})
    assert data.net_power_w(no_power) is None and data.energy_j(no_power) is None


def test_power_unavailable_reasons_are_distinct_and_sorted() -> None:
    cpu = make_record(RESNET50, CPU, (1, 2))
    silent = BatchResult(batch_size=4, status="ok", power=Power(available=False))
    other = BatchResult(batch_size=8, status="ok", power=Power(available=False, unavailable_reason="a reason"))
    mixed = cpu.model_copy(update={"batches": [*cpu.batches, silent, other]})
    assert data.power_unavailable_reasons([mixed, make_record(RESNET50, GPU, (1,))]) == [
        "a reason",
        "no RAPL energy counter readable on this CPU",
        "no reason recorded",
    ]
    assert data.power_unavailable_reasons([make_record(RESNET50, GPU, (1,))]) == []


# --- batch sizes and failures ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "large"),
    [
        ((1, 2, 16, 32), 16),
        ((1, 2, 4, 8, 32), 8),  # the largest below 16 stands in
        ((1, 32, 64), 32),  # none below: the smallest above
        ((1,), None),
        ((2,), 2),
        ((1, 15, 17), 15),
    ],
)
def test_large_batch(sizes: tuple[int, ...], large: int | None) -> None:
    assert data.large_batch([make_record(RESNET50, CPU, sizes)]) == large


def test_large_batch_ignores_failed_sizes() -> None:
    record = make_record(RESNET50, CPU, (1, 4))
    oom = BatchResult(batch_size=16, status="oom", error="out of memory")
    assert data.large_batch([record.model_copy(update={"batches": [*record.batches, oom]})]) == 4
    # GPU fixture: batch 64 runs out of memory for VGG-19 (weights + working set above 3 GB).
    assert data.large_batch([make_record(STUDY_MODELS[7], GPU, (1, 64))]) is None


def test_batch_titles() -> None:
    assert data.batch_title(1) == "batch 1"
    assert data.batch_title(16) == "batch 16"
    assert data.batch_title(8) == "batch 8 (the study's 16 not measured)"


def test_failures_golden() -> None:
    failed = make_record(STUDY_MODELS[2], CPU, failed=True)
    assert data.failures(failed) == [(None, "error", "builder raised RuntimeError (synthetic)")]
    silent = failed.model_copy(update={"error": None})
    assert data.failures(silent) == [(None, "error", "no message recorded")]
    vgg = make_record(STUDY_MODELS[7], GPU, (1, 64))
    assert data.failures(vgg) == [(64, "oom", "CUDA out of memory (synthetic)")]
    skipped = vgg.model_copy(update={"batches": [BatchResult(batch_size=2, status="skipped")]})
    assert data.failures(skipped) == [(2, "skipped", "no message recorded")]
    assert data.failures(make_record(RESNET50, CPU, (1,))) == []


# --- the machine's ceilings ------------------------------------------------------------------------------------------


def _ceilings(slug: str = "fixture-cpu-2t") -> MachineCeilings:
    # 2 x 1000^3 FLOPs in 2 ms: 1000 GFLOP/s; 2 x 1 GB copied in 100 ms: 20 GB/s.
    return MachineCeilings(
        hardware_slug=slug,
        device="cpu",
        precision="fp32",
        threads=2,
        date="2026-01-01T00:00:00Z",
        git_commit=None,
        command="test",
        clock="perf_counter",
        matmul=MatmulCeiling(gflops=1000.0, median_gflops=900.0, n=1000, dtype="float32", repetitions=1,
                             samples_ms=[2.0]),
        bandwidth=BandwidthCeiling(gb_per_s=20.0, median_gb_per_s=18.0, buffer_bytes=1_000_000_000,
                                   repetitions=1, samples_ms=[100.0]),
    )


def test_roofline_numbers_golden() -> None:
    record = retimed(make_record(RESNET50, CPU, (1, 4)), {1: 40.0, 4: 20.0}, 0.05)
    ceilings = _ceilings()
    # 8.18 GFLOPs per image x 25 images/s at batch 1; x 50 images/s at batch 4.
    assert data.achieved_gflops(record, data.ok_batch(record, 1)) == approx(204.5)
    assert data.achieved_gflops(record, data.ok_batch(record, 4)) == approx(409.0)
    assert data.fraction_of_peak(record, data.ok_batch(record, 4), ceilings) == approx(0.409)
    assert data.fraction_of_peak(record, data.ok_batch(record, 4), None) is None
    assert data.achieved_gflops(record, None) is None
    assert data.fraction_of_peak(record, None, ceilings) is None
    failed = make_record(RESNET50, CPU, failed=True)
    assert data.achieved_gflops(failed, data.ok_batch(record, 1)) is None
    # Bytes of a batch of 4: 102.4 MB of weights + 8.067 M activations x 4 images x 4 bytes.
    assert data.bytes_moved(record, 4) == approx(102.4e6 + 8.067e6 * 4 * 4)
    assert data.bytes_moved(record, 1) == approx(102.4e6 + 8.067e6 * 4)
    assert data.arithmetic_intensity(record, 4) == approx(8.18e9 * 4 / (102.4e6 + 8.067e6 * 16))
    half = record.model_copy(update={"config": record.config.model_copy(update={"precision": "fp16"})})
    assert data.bytes_moved(half, 4) == approx(102.4e6 + 8.067e6 * 4 * 2)
    bf16 = record.model_copy(update={"config": record.config.model_copy(update={"precision": "bf16"})})
    assert data.bytes_moved(bf16, 4) == approx(102.4e6 + 8.067e6 * 4 * 2)
    assert record.parameters is not None and record.operations is not None
    buffers = record.model_copy(update={"parameters": record.parameters.model_copy(update={"buffers_bytes": 1000})})
    assert data.bytes_moved(buffers, 1) == approx(102.4e6 + 1000 + 8.067e6 * 4)
    assert data.bytes_moved(failed, 1) is None and data.arithmetic_intensity(failed, 1) is None
    no_activations = record.model_copy(
        update={"operations": record.operations.model_copy(update={"activations_millions": None})}
    )
    assert data.bytes_moved(no_activations, 1) is None and data.arithmetic_intensity(no_activations, 1) is None
    no_parameters = record.model_copy(update={"parameters": None})
    assert data.bytes_moved(no_parameters, 1) is None
    nothing = record.model_copy(
        update={
            "parameters": record.parameters.model_copy(update={"parameters_bytes": 0}),
            "operations": record.operations.model_copy(update={"activations_millions": 0.0}),
        }
    )
    assert data.bytes_moved(nothing, 1) == 0 and data.arithmetic_intensity(nothing, 1) is None
    # The roof: bandwidth x intensity below the ridge (50 FLOP/byte), the matmul peak above it.
    assert data.roofline_gflops(ceilings, 10.0) == approx(200.0)
    assert data.roofline_gflops(ceilings, 100.0) == approx(1000.0)


def test_runs_group_and_describe_their_records() -> None:
    cpu = [make_record(RESNET50, CPU, (1, 4)), make_record(NO_ACCURACY, CPU, (2,))]
    gpu = [make_record(ALEXNET, GPU, (1,))]
    ceilings = _ceilings()
    items = [
        LoadedRecord(gpu[0], Path("m/gpu/a/alexnet.json"), PurePosixPath("x")),
        LoadedRecord(cpu[0], Path("m/cpu/old/resnet50.json"), PurePosixPath("x")),
        LoadedRecord(cpu[1], Path("m/cpu/new/squeezenet1_0.json"), PurePosixPath("x"), ceilings),
        LoadedRecord(cpu[1], Path("m/cpu/new/other.json"), PurePosixPath("x"), ceilings),
    ]
    runs = data.group_runs(items)
    assert [run.key for run in runs] == [("fixture-cpu-2t", "fp32"), ("fixture-gpu", "fp32")]
    cpu_run, gpu_run = runs
    assert cpu_run.hardware_slug == "fixture-cpu-2t" and cpu_run.config_slug == "fp32"
    assert cpu_run.records == [cpu[0], cpu[1], cpu[1]]
    assert cpu_run.hardware == cpu[0].hardware and cpu_run.config == cpu[0].config
    assert cpu_run.software == cpu[0].software
    assert cpu_run.label == "Fixture CPU, 2 threads (synthetic data), fp32"
    assert cpu_run.batch_sizes == [1, 2, 4]
    assert cpu_run.study_records() == [cpu[0]]
    assert cpu_run.ceilings is ceilings  # the folder holding two of the three records
    assert gpu_run.ceilings is None
    assert data.Run("a", "b").ceilings is None


def test_recipe_note_names_a_dozen_models_and_counts_the_rest() -> None:
    """A zoo's figure caption named all of its thousand models; it names twelve and counts the others."""
    from fixtures.factory import synthetic_records

    records = synthetic_records(40, 1)
    unstated = sorted(
        r.model.study_name or r.model.name
        for r in records
        if data.top1(r) is not None and data.accuracy_recipe(r) == "not stated"
    )
    assert len(unstated) > data.RECIPE_NOTE_NAMES
    note = data.recipe_note(records)
    assert note is not None
    assert f"{', '.join(unstated[:12])} and {len(unstated) - 12} more (each model's page names its weights)." in note
    assert unstated[12] not in note
