"""The CUDA backend's power, idle and memory readings against the simulated NVML (tests/sim_nvml.py).

No GPU here: torch.cuda's functions are replaced by fakes, and the simulator
sees the CUDA context open when the session synchronises the device, as a
real driver would create it then.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from generator import backends
from generator.render.data import memory_bytes
from generator.schema import BatchResult
from tests.sim_nvml import SimNvml

MIB = 2**20


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimNvml]:
    import torch

    from generator import power

    gpu = SimNvml(reserved_bytes=600 * MIB, context_bytes=520 * MIB, tail_tau_s=0.3)
    monkeypatch.setattr(power, "load_nvml", lambda: gpu)

    def synchronize(device: object = None) -> None:
        if not gpu.context_open:
            gpu.open_context()

    fakes = {
        "init": lambda: None,
        "synchronize": synchronize,
        "get_device_properties": lambda device=None: SimpleNamespace(uuid="1234"),
        "memory_allocated": lambda device=None: 0,
        "reset_peak_memory_stats": lambda device=None: None,
        "max_memory_allocated": lambda device=None: 30 * MIB,
        "max_memory_reserved": lambda device=None: 64 * MIB,
        "empty_cache": lambda: None,
    }
    for name, fake in fakes.items():
        monkeypatch.setattr(torch.cuda, name, fake)
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn  # type: Any, Any  # fp32_precision: torch 2.9+
    saved = (matmul.fp32_precision, cudnn.fp32_precision, cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision,
             cudnn.benchmark)
    yield gpu
    matmul.fp32_precision, cudnn.fp32_precision, cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision = saved[:4]
    cudnn.benchmark = saved[4]


def test_idle_is_read_with_the_context_open_once_the_last_models_load_has_settled(sim: SimNvml) -> None:
    sim.run(1.0, 350.0)  # the previous model's last batch size, in another process
    cold_without_context = sim.idle_now_w()
    session = backends.get("cuda").session(threads=1)
    session.start()
    assert sim.context_open
    meter, reason = session.power_meter()
    assert meter is not None and reason is None
    idle = session.idle_power(meter)
    assert idle is not None and idle.with_context and idle.settled and idle.settle_s > 0
    assert idle.idle_w == pytest.approx(sim.idle_now_w(), abs=1.5)
    # What the old parent-side reading (no context) would have subtracted: 18 W too little idle.
    assert idle.idle_w > cold_without_context + 15


def test_memory_is_read_from_nvml_v2_with_the_context_share(sim: SimNvml) -> None:
    session = backends.get("cuda").session(threads=1)
    session.start()
    sim.allocated_bytes = 100 * MIB  # the model, its activations and the allocator's cache
    memory = session.memory()
    assert memory.nvml_memory_version == 2 and memory.nvml_reserved_bytes == 600 * MIB
    assert memory.nvml_baseline_used_bytes == 0 and memory.nvml_context_used_bytes == 520 * MIB
    assert memory.nvml_used_bytes == 620 * MIB
    assert memory_bytes(BatchResult(batch_size=1, status="ok", memory=memory)) == 620 * MIB


def test_memory_from_nvml_v1_plots_the_same(sim: SimNvml) -> None:
    sim.memory_v2 = False
    session = backends.get("cuda").session(threads=1)
    session.start()
    sim.allocated_bytes = 100 * MIB
    memory = session.memory()
    assert memory.nvml_memory_version == 1 and memory.nvml_reserved_bytes is None
    assert memory.nvml_used_bytes == 1220 * MIB  # the driver's 600 MiB counted as used...
    assert memory_bytes(BatchResult(batch_size=1, status="ok", memory=memory)) == 620 * MIB  # ...and taken off


def test_the_run_measures_the_energy_counters_update_period(sim: SimNvml) -> None:
    hardware = backends.get("cuda").describe(threads=4)
    assert hardware.gpu is not None and hardware.gpu.energy_counter_available
    assert hardware.gpu.energy_counter_update_period_s == pytest.approx(0.1, abs=0.01)
    assert not sim.context_open  # describing the GPU opened no context
