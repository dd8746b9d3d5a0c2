"""GPU memory on the site is what the run added above its baseline, not NVML's absolute figure."""

from __future__ import annotations

from generator.render.data import memory_bytes
from generator.schema import BatchResult, Memory

MIB = 2**20


def _batch(memory: Memory) -> BatchResult:
    return BatchResult(batch_size=1, status="ok", memory=memory)


def test_gpu_memory_is_plotted_above_the_runs_baseline() -> None:
    # NVML v1 on an idle card: 600 MiB reserved by the driver count as used, in the baseline and the peak alike.
    v1 = Memory(nvml_used_bytes=600 * MIB + 520 * MIB + 40 * MIB, nvml_baseline_used_bytes=600 * MIB,
                nvml_memory_version=1, cuda_peak_reserved_bytes=64 * MIB)
    assert memory_bytes(_batch(v1)) == (520 + 40) * MIB  # context + model, not the driver's reservation
    v2 = Memory(nvml_used_bytes=560 * MIB, nvml_baseline_used_bytes=0, nvml_memory_version=2,
                nvml_reserved_bytes=600 * MIB)
    assert memory_bytes(_batch(v2)) == memory_bytes(_batch(v1))  # the same run read either way


def test_without_a_baseline_the_allocator_peak_and_on_cpu_the_rss() -> None:
    assert memory_bytes(_batch(Memory(nvml_used_bytes=900 * MIB, cuda_peak_reserved_bytes=64 * MIB))) == 64 * MIB
    assert memory_bytes(_batch(Memory(peak_rss_bytes=300 * MIB, baseline_rss_bytes=200 * MIB))) == 300 * MIB
