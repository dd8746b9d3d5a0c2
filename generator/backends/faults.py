"""Test-only: a backend wrapper that makes a model fail for real at a given batch size.

Loaded only when the parent's environment sets GENERATOR_TEST_FAULT, e.g.
``squeezenet1_1=oom@4,shufflenet_v2_x0_5=segfault@2`` (kinds: oom, segfault,
error, hang: a forward pass that never returns, for deadline tests). The faults
are real: an allocation past a lowered RLIMIT_AS, a SIGSEGV, an exception in
forward; so the tests see what a real failure does to a run.
"""

from __future__ import annotations

import os
import resource
import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from generator.backends.base import Backend, DeviceSession, PrecisionFlags


def fault_for_model(spec: str, model: str) -> str | None:
    """``model``'s '<kind>@<batch size>' in a GENERATOR_TEST_FAULT value, or None."""
    for item in spec.split(","):
        name, _, fault = item.partition("=")
        if name.strip() == model and fault.strip():
            return fault.strip()
    return None


def trigger(kind: str) -> None:
    import torch

    from generator.memory import virtual_size_bytes

    if kind == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "oom":
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = (virtual_size_bytes() or 0) + 256 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        try:
            torch.empty(8 * 2**30, dtype=torch.uint8)  # 8 GiB past a 256 MiB allowance: a real allocation failure
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    elif kind == "error":
        raise ValueError("test fault: forward raised")
    elif kind == "hang":
        import time

        time.sleep(3600)
    else:
        raise ValueError(f"unknown test fault kind {kind!r}")


class _FaultSession:
    """The wrapped session, with a forward pre-hook on the model that fails from a batch size on."""

    def __init__(self, inner: DeviceSession, kind: str, batch_size: int) -> None:
        self._inner = inner
        self._kind = kind
        self._batch_size = batch_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def start(self) -> PrecisionFlags:
        return self._inner.start()

    def to_device(self, model: nn.Module) -> nn.Module:
        model = self._inner.to_device(model)

        def before_forward(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            if args and args[0].shape[0] >= self._batch_size:
                trigger(self._kind)

        model.register_forward_pre_hook(before_forward)
        return model


class FaultInjecting:
    """``inner`` with its sessions' models failing as ``fault`` ('<kind>@<batch size>') says."""

    def __init__(self, inner: Backend, fault: str) -> None:
        kind, _, size = fault.partition("@")
        self._inner = inner
        self._kind = kind.strip()
        self._batch_size = int(size or 1)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def session(self, threads: int) -> DeviceSession:
        return _FaultSession(self._inner.session(threads), self._kind, self._batch_size)
