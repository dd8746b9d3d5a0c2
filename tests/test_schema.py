"""The record contract: round trip, refusal of bad files with file and field named, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from generator.files import write_text_atomic
from generator.schema import (
    Accuracy,
    BatchResult,
    Config,
    Hardware,
    Latency,
    LatencyRound,
    Memory,
    ModelInfo,
    Operations,
    Parameters,
    Power,
    PublishedAccuracy,
    Record,
    RecordError,
    RunInfo,
    Software,
    load_record,
    parse_record,
    record_to_json,
)


def sample_record(name: str = "timm:inception_v4") -> Record:
    samples = [10.0, 9.0, 12.0, 10.0, 10.5, 9.5]
    one_round = LatencyRound(
        median_ms_per_batch=10.0, p10_ms_per_batch=9.25, p90_ms_per_batch=11.25, timed_iterations=6,
        warmup_iterations=1, ci95_half_width_relative=0.2, stop_reason="time_budget", samples_ms_per_batch=samples,
    )
    latency = Latency(
        median_ms_per_batch=10.0, ci95_low_ms_per_batch=9.0, ci95_high_ms_per_batch=12.0, p10_ms_per_batch=9.25,
        p90_ms_per_batch=11.25, iqr_ms_per_batch=0.75, median_ms_per_image=5.0, throughput_images_per_s=200.0,
        timed_iterations=6, stop_reason="time_budget", clock="perf_counter", rounds=[one_round],
    )
    return Record(
        model=ModelInfo(name=name, family="inception", source="timm", builder="timm.create_model",
                        weights="inception_v4.tf_in1k", input_size_px=299, architecture_source="arXiv 1602.07261",
                        study_name="Inception-v4"),
        accuracy=Accuracy(published=PublishedAccuracy(top1_percent=80.1, top5_percent=94.9, source="csv")),
        config=Config(device="cpu", threads=2, tf32=False, cudnn_benchmark=False),
        hardware=Hardware(slug="cpu-amd-epyc-2t", name="AMD EPYC, 2 threads", cpu_model="AMD EPYC",
                          cpu_logical_cores=2, ram_bytes=2**34),
        software=Software(python="3.11", torch="2.14", torchvision="0.29", fvcore="0.1.5", platform="Linux"),
        run=RunInfo(date="2026-11-28T00:00:00+00:00", git_commit=None, command="python -m generator measure"),
        status="ok",
        parameters=Parameters(count=42_679_816, parameters_bytes=4 * 42_679_816, buffers_bytes=100,
                              checkpoint_bytes=None),
        operations=Operations(counter="fvcore 0.1.5", gmacs=12.3, gflops=24.6, gmacs_conv_linear_matmul=12.2,
                              flop_counter_gflops=24.4, activations_millions=30.0, by_operator_gmacs={"conv": 12.2},
                              by_module_gmacs={"features": 12.2}),
        batches=[
            BatchResult(batch_size=2, status="ok", latency=latency, memory=Memory(peak_rss_bytes=2**30),
                        power=Power(available=False, unavailable_reason="no RAPL")),
            BatchResult(batch_size=4, status="oom", error="out of memory"),
            BatchResult(batch_size=8, status="skipped", error="batch size 4 ran out of memory"),
        ],
    )


def test_round_trip(tmp_path: Path) -> None:
    record = sample_record()
    path = tmp_path / "record.json"
    write_text_atomic(path, record_to_json(record))
    loaded = load_record(path)
    assert loaded == record
    assert record_to_json(loaded) == path.read_text()  # stable serialisation


def _document() -> dict:
    return json.loads(record_to_json(sample_record()))


def test_unknown_schema_version_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    document = _document()
    document["schema_version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(document))
    with pytest.raises(RecordError) as raised:
        load_record(path)
    assert raised.value.field == "schema_version"
    assert str(path) in str(raised.value) and "newer" in str(raised.value)


def test_malformed_field_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    document = _document()
    document["batches"][0]["latency"]["median_ms_per_batch"] = -1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(RecordError) as raised:
        load_record(path)
    assert raised.value.field == "batches.0.latency.median_ms_per_batch"
    assert str(path) in str(raised.value)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    document = _document()
    document["parameters"]["count_millions"] = 42.7
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(document))
    with pytest.raises(RecordError) as raised:
        load_record(path)
    assert raised.value.field == "parameters.count_millions"


def test_atomic_write_leaves_the_old_file_whole_when_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "record.json"
    write_text_atomic(path, "old\n")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(path, "new and longer\n")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]  # no temporary left behind


def test_atomic_write_gives_the_file_the_usual_permissions(tmp_path: Path) -> None:
    # Records are served as downloads and read by other users: not the private 0600 of mkstemp.
    path = tmp_path / "record.json"
    write_text_atomic(path, "{}\n")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# --------------------------------------------------------------------------- strict numbers


def _write(path: Path, document: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))  # json.dumps writes NaN/Infinity literals as given
    return path


NON_FINITE = [float("nan"), float("inf"), float("-inf")]
# (path into the document, the field the error must name)
FLOAT_FIELDS = [
    (("operations", "by_operator_gmacs", "conv"), "operations.by_operator_gmacs.conv"),
    (("operations", "gmacs"), "operations.gmacs"),
    (("batches", 0, "latency", "rounds", 0, "ci95_half_width_relative"),
     "batches.0.latency.rounds.0.ci95_half_width_relative"),
    (("batches", 0, "latency", "rounds", 0, "samples_ms_per_batch", 2),
     "batches.0.latency.rounds.0.samples_ms_per_batch.2"),
    (("batches", 0, "latency", "median_ms_per_image"), "batches.0.latency.median_ms_per_image"),
    (("accuracy", "published", "top1_percent"), "accuracy.published.top1_percent"),
]


def _set(document: dict, where: tuple, value: object) -> None:
    target = document
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value


@pytest.mark.parametrize("value", NON_FINITE, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(("where", "field"), FLOAT_FIELDS, ids=[f for _, f in FLOAT_FIELDS])
def test_nan_and_infinity_are_refused_by_name(tmp_path: Path, where: tuple, field: str, value: float) -> None:
    document = _document()
    _set(document, where, value)
    path = _write(tmp_path / "bad.json", document)
    # The JSON reader refuses the literal itself: NaN never becomes a float.
    with pytest.raises(RecordError) as raised:
        load_record(path)
    assert str(path) in str(raised.value) and "not a number a record may hold" in str(raised.value)
    # A decoded document holding the float (another reader, a Python caller) is refused by field.
    with pytest.raises(RecordError) as raised:
        parse_record(document, path)
    assert raised.value.field == field and "finite" in str(raised.value)


def test_a_number_out_of_float_range_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text(record_to_json(sample_record()).replace('"gmacs": 12.3', '"gmacs": 1e999'))
    with pytest.raises(RecordError) as raised:
        load_record(path)
    assert str(path) in str(raised.value) and "1e999" in str(raised.value)


def test_writing_a_record_with_nan_fails_before_any_file() -> None:
    record = sample_record()
    broken = record.model_copy(update={"operations": record.operations.model_copy(update={"gmacs": float("nan")})})
    with pytest.raises(ValueError):
        record_to_json(broken)


@pytest.mark.parametrize(
    ("where", "value", "field", "message"),
    [
        (("parameters", "count"), -1, "parameters.count", "greater than or equal to 0"),
        (("operations", "by_module_gmacs", "features"), -0.5, "operations.by_module_gmacs.features", "greater"),
        (("batches", 0, "memory", "peak_rss_bytes"), -4096, "batches.0.memory.peak_rss_bytes", "greater"),
        (("batches", 0, "latency", "rounds", 0, "samples_ms_per_batch", 0), -10.0,
         "batches.0.latency.rounds.0.samples_ms_per_batch.0", "greater"),
        # Relations between fields.
        (("batches", 0, "latency", "median_ms_per_image"), 10.0, "batches.0.latency.median_ms_per_image",
         "x batch size 2"),
        (("batches", 0, "latency", "throughput_images_per_s"), 100.0, "batches.0.latency.throughput_images_per_s",
         "gives 200"),
        (("batches", 0, "latency", "rounds", 0, "p10_ms_per_batch"), 10.5,
         "batches.0.latency.rounds.0.median_ms_per_batch", "outside p10..p90"),
        (("batches", 0, "latency", "rounds", 0, "median_ms_per_batch"), 10.2,
         "batches.0.latency.rounds.0.median_ms_per_batch", "kept samples give 10"),
        (("batches", 0, "latency", "rounds", 0, "timed_iterations"), 7,
         "batches.0.latency.rounds.0.timed_iterations", "6 samples"),
        (("batches", 0, "latency", "timed_iterations"), 60, "batches.0.latency.timed_iterations", "add up to 6"),
        (("batches", 0, "latency", "ci95_high_ms_per_batch"), 9.5, "batches.0.latency.ci95_low_ms_per_batch",
         "does not contain"),
        (("batches", 0, "latency", "stop_reason"), "converged", "batches.0.latency.stop_reason", "not every round"),
        (("batches", 1, "batch_size"), 2, "batches.1.batch_size", "appears twice"),
        (("accuracy", "published", "top5_percent"), 70.0, "accuracy.published.top5_percent", "below top-1"),
    ],
)
def test_impossible_values_and_broken_relations_are_refused_by_name(
    tmp_path: Path, where: tuple, value: object, field: str, message: str
) -> None:
    document = _document()
    _set(document, where, value)
    path = _write(tmp_path / "bad.json", document)
    with pytest.raises(RecordError) as raised:
        load_record(path)
    assert raised.value.field == field, str(raised.value)
    assert message in str(raised.value) and str(path) in str(raised.value)


def test_a_version_1_record_migrates_to_one_round_with_its_interval() -> None:
    v2 = _document()
    latency = v2["batches"][0]["latency"]
    (one_round,) = latency.pop("rounds")
    v1_latency = {key: value for key, value in latency.items() if not key.startswith("ci95_")}
    v1_latency.update(warmup_iterations=one_round["warmup_iterations"],
                      samples_ms_per_batch=one_round["samples_ms_per_batch"],
                      ci95_half_width_relative=0.2, timed_iterations=6)
    v1 = dict(v2, schema_version=1)
    for key in ("settings",):
        v1.pop(key, None)
    v1["accuracy"]["published"].pop("weights", None)
    v1["accuracy"].pop("original_recipe", None)
    v1["batches"] = [dict(v2["batches"][0], latency=v1_latency), *v2["batches"][1:]]
    record = parse_record(v1, "old.json")
    migrated = record.batches[0].latency
    assert record.schema_version == 2 and len(migrated.rounds) == 1
    assert migrated.rounds[0].samples_ms_per_batch == one_round["samples_ms_per_batch"]
    assert migrated.rounds[0].ci95_half_width_relative == 0.2
    assert (migrated.ci95_low_ms_per_batch, migrated.ci95_high_ms_per_batch) == pytest.approx((8.0, 12.0))
    assert record.settings is None


def test_render_refuses_a_nan_anywhere_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from generator.cli import main

    measurements = tmp_path / "measurements"
    good = sample_record("resnet50")
    _write(measurements / "cpu-amd-epyc-2t" / "fp32" / "resnet50.json", json.loads(record_to_json(good)))
    document = _document()
    document["batches"][0]["power"] = {"available": True, "counter": "rapl", "net_w": float("nan")}
    bad = _write(measurements / "cpu-amd-epyc-2t" / "fp32" / "timm-inception_v4.json", document)
    site = tmp_path / "site"
    assert main(["render", "--measurements", str(measurements), "--out", str(site)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "NaN" in err and "Traceback" not in err
    assert not site.exists()


def test_sample_summary_is_statistics_inclusive_quantiles_to_the_bit() -> None:
    """Records are checked by summarising their samples again: the summary must be exactly what
    ``statistics`` gives (the writer's figures, and every record measured before, were made with it)."""
    import random
    import statistics

    from generator.schema import sample_summary

    rng = random.Random(7)
    for _ in range(3000):
        samples = [rng.lognormvariate(0, 1) * 10 ** rng.randint(-3, 4) for _ in range(rng.randint(2, 40))]
        if rng.random() < 0.3:
            samples = [round(sample, 2) for sample in samples]  # ties
        deciles = statistics.quantiles(samples, n=10, method="inclusive")
        quartiles = statistics.quantiles(samples, n=4, method="inclusive")
        assert sample_summary(samples) == {
            "median": statistics.median(samples),
            "p10": deciles[0],
            "p90": deciles[8],
            "iqr": quartiles[2] - quartiles[0],
        }
    assert sample_summary([3.5]) == {"median": 3.5, "p10": 3.5, "p90": 3.5, "iqr": 0.0}
