"""A stand-in 'pynvml' backed by tests.sim_nvml: put this folder first on PYTHONPATH.

Settings come from GENERATOR_SIM_NVML, e.g. "energy_period_s=0.1,instant_field=0".
"""

from __future__ import annotations

import os

from tests.sim_nvml import SimNvml, install_as_module


def _settings(text: str) -> dict[str, float | bool]:
    settings: dict[str, float | bool] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        settings[name] = value.lower() in ("1", "true") if name in ("instant_field", "energy_counter", "memory_v2") \
            else float(value)
    return settings


install_as_module(SimNvml(**_settings(os.environ.get("GENERATOR_SIM_NVML", ""))), globals())  # type: ignore[arg-type]
