"""Device backends: everything that differs between a CPU and a GPU, one module per kind of device.

The protocol is in ``base``. To add a device (Apple's mps, AMD's rocm): write
``generator/backends/<name>.py`` exposing ``BACKEND``, an object satisfying
``base.Backend``, and add its module to ``_MODULES`` below (the order is
``--device auto``'s preference). Modules are imported only when used, so that
asking for the CPU never imports a GPU library.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from generator.backends.base import Backend, Defaults, DeviceSession, PrecisionFlags, WarmupPolicy
from generator.errors import CliError

__all__ = [
    "Backend",
    "Defaults",
    "DeviceSession",
    "PrecisionFlags",
    "WarmupPolicy",
    "for_worker",
    "get",
    "names",
    "resolve",
    "test_options_from_environment",
]

# Preference order of --device auto: the first available wins.
_MODULES: dict[str, str] = {
    "cuda": "generator.backends.cuda",
    "cpu": "generator.backends.cpu",
}
# Test-only faults (see generator.backends.faults), "<model>=<kind>@<batch size>".
FAULT_ENV = "GENERATOR_TEST_FAULT"
_FAULT_OPTION = "test_fault"


def names() -> list[str]:
    """Device names the command line accepts (besides 'auto')."""
    return sorted(_MODULES)


def get(name: str) -> Backend:
    try:
        module = _MODULES[name]
    except KeyError:
        raise CliError(f"--device {name}: unknown device (known: auto, {', '.join(names())})") from None
    backend: Backend = importlib.import_module(module).BACKEND
    return backend


def resolve(requested: str) -> Backend:
    """The backend of ``--device``: 'auto' is the first available one; an unavailable one is refused."""
    if requested == "auto":
        for name in _MODULES:
            backend = get(name)
            if backend.unavailable_reason() is None:
                return backend
        raise CliError("--device auto: no device is available")
    backend = get(requested)
    reason = backend.unavailable_reason()
    if reason is not None:
        raise CliError(f"--device {requested}: {reason}")
    return backend


def test_options_from_environment(model: str) -> dict[str, str]:
    """Test hooks for ``model``'s worker, passed on by the parent (the fork server's environment is stale)."""
    spec = os.environ.get(FAULT_ENV, "")
    if not spec:
        return {}
    from generator.backends.faults import fault_for_model

    fault = fault_for_model(spec, model)
    return {_FAULT_OPTION: fault} if fault else {}


def for_worker(name: str, options: Mapping[str, object]) -> Backend:
    """The backend a worker measures with: ``get(name)``, wrapped by the test hooks in ``options`` if any."""
    backend = get(name)
    fault = options.get(_FAULT_OPTION)
    if fault:
        from generator.backends.faults import FaultInjecting

        return FaultInjecting(backend, str(fault))
    return backend
