"""Operation counts reused across torch versions when the architecture's source matches; --cooldown between models."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from generator.cli import main
from generator.counting import architecture_sha256, count_operations
from generator.schema import load_record, record_to_json
from generator.store import relative_path

COMMON = ["--device", "cpu", "--batch-sizes", "1", "--time-budget", "0.05", "--power-window", "0.05",
          "--threads", "1", "--no-progress"]


def test_counts_do_not_depend_on_how_torch_runs_the_model() -> None:
    # The claim behind reusing counts across torch versions, checked by counting: the same architecture
    # counted under different torch execution settings (threads, grad mode, memory format) gives the same
    # operations; the counts are a function of the architecture's source and the input size.
    import torch

    from generator import registry

    for name in ("squeezenet1_1", "mobilenet_v3_small"):
        spec = registry.spec_by_name(name)
        size = spec.input_size_px
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(1)
            first = count_operations(spec.build().eval(), torch.zeros(1, 3, size, size), cross_check=False)
            torch.set_num_threads(2)
            model = spec.build().eval().to(memory_format=torch.channels_last)
            second = count_operations(model, torch.zeros(1, 3, size, size).contiguous(
                memory_format=torch.channels_last), cross_check=False)
        finally:
            torch.set_num_threads(threads)
        assert first == second
        assert architecture_sha256(spec.builder) == architecture_sha256(spec.builder) is not None


def test_counts_are_reused_from_another_torch_when_the_source_matches(tmp_path: Path) -> None:
    assert main(["measure", "--models", "squeezenet1_1", "--out", str(tmp_path), *COMMON]) == 0
    (path,) = tmp_path.rglob("squeezenet1_1.json")
    record = load_record(path)
    assert record.operations is not None
    assert record.operations.architecture_sha256 == architecture_sha256("torchvision.models.squeezenet1_1")
    # As if counted by another torch and torchvision (a run of its own): marked, so reuse shows.
    old_software = record.software.model_copy(update={"torch": "2.11.0", "torchvision": "0.26.0"})
    marked = record.model_copy(update={
        "software": old_software, "operations": record.operations.model_copy(update={"counter": "reused?"}),
    })
    other = tmp_path / relative_path(marked).parent  # <machine>/<config>/<software> (generator.store)
    other.mkdir(parents=True)
    (other / path.name).write_text(record_to_json(marked))
    path.unlink()
    assert main(["measure", "--models", "squeezenet1_1", "--out", str(tmp_path), *COMMON]) == 0
    assert load_record(path).operations == marked.operations

    # Another architecture source (or none recorded): counted again.
    changed = marked.model_copy(update={"operations": marked.operations.model_copy(  # type: ignore[union-attr]
        update={"architecture_sha256": "0" * 64})})
    (other / path.name).write_text(record_to_json(changed))
    path.unlink()
    assert main(["measure", "--models", "squeezenet1_1", "--out", str(tmp_path), *COMMON]) == 0
    recounted = load_record(path).operations
    assert recounted is not None and recounted.counter.startswith("fvcore")


def test_cooldown_waits_between_models_and_bad_values_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.monotonic()
    assert main(["measure", "--models", "squeezenet1_1", "mobilenet_v3_small", "--out", str(tmp_path),
                 "--cooldown", "3s", "--rounds", "1", *COMMON]) == 0
    assert time.monotonic() - began >= 3
    assert capsys.readouterr().err.count("cooldown: 3.") == 1  # between the two models, not before the first
    assert main(["measure", "--models", "squeezenet1_1", "--out", str(tmp_path), "--cooldown", "warm"]) == 2
    assert "--cooldown" in capsys.readouterr().err
