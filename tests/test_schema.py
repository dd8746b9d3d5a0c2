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
    record_to_json,
)


def sample_record(name: str = "timm:inception_v4") -> Record:
    latency = Latency(
        median_ms_per_batch=10.0, p10_ms_per_batch=9.0, p90_ms_per_batch=12.0, iqr_ms_per_batch=1.5,
        median_ms_per_image=5.0, throughput_images_per_s=200.0, timed_iterations=6, warmup_iterations=1,
        ci95_half_width_relative=0.01, stop_reason="converged", clock="perf_counter",
        samples_ms_per_batch=[10.0, 9.0, 12.0, 10.0, 10.5, 9.5],
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
    assert record.relative_path == Path("cpu-amd-epyc-2t/fp32/timm-inception_v4.json")
    path = tmp_path / record.relative_path
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
