"""Counting parameters and operations of a model, with fvcore and a torch cross-check.

Conventions (see generator/schema.py): one multiply-accumulate (MAC) is what
fvcore calls a "flop"; GFLOPs are 2 x GMACs. ``gmacs_conv_linear_matmul`` keeps
only the operators torchvision counts in meta['_ops'] (convolutions, linear
layers and matrix products, attention included), so the two can be compared.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from math import prod
from typing import TYPE_CHECKING, Any

from generator.schema import Operations

if TYPE_CHECKING:
    import torch
    from torch import nn

    from generator.model_spec import ModelSpec

# fvcore operator names (after its own renaming) that torchvision's '_ops' counts.
MATRIX_OPERATORS: frozenset[str] = frozenset(
    {"conv", "linear", "addmm", "bmm", "baddbmm", "einsum", "matmul", "mm", "scaled_dot_product_attention"}
)


def count_parameters(model: nn.Module) -> int:
    """Exact number of parameters, each shared tensor once (as torchvision's meta['num_params'])."""
    return sum(p.numel() for p in model.parameters())


def tensor_bytes(model: nn.Module) -> tuple[int, int]:
    """(bytes of parameters, bytes of buffers) in the dtypes the model holds now."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return params, buffers


def _shape(value: Any) -> list[int]:
    from fvcore.nn.jit_handles import get_shape

    shape = get_shape(value)
    if shape is None:
        raise ValueError("operand shape unknown to the tracer")
    return list(shape)


def _sdpa_macs(inputs: list[Any], outputs: list[Any]) -> int:
    """aten::scaled_dot_product_attention: Q K^T and (softmax) V, both B*H*L*S*E MACs."""
    query, key, value = (_shape(v) for v in inputs[:3])
    batch = prod(query[:-2])
    length, depth = query[-2], query[-1]
    source, value_depth = key[-2], value[-1]
    return batch * length * source * (depth + value_depth)


def _baddbmm_macs(inputs: list[Any], outputs: list[Any]) -> int:
    """aten::baddbmm(input, batch1, batch2): the batched product; the add is not a MAC."""
    first, second = _shape(inputs[1]), _shape(inputs[2])
    return prod(first) * second[-1]


_EXTRA_HANDLES = {
    # fvcore 0.1.5 predates these: without a handle the attention matmuls of
    # ViT/Swin/MaxViT would be silently missing from the count.
    "aten::scaled_dot_product_attention": _sdpa_macs,
    "aten::baddbmm": _baddbmm_macs,
}


@contextlib.contextmanager
def _one_trace() -> Iterator[None]:
    """Let fvcore's flop and activation analyses share one jit trace instead of tracing twice."""
    import fvcore.nn.jit_analysis as jit_analysis

    original = jit_analysis._get_scoped_trace_graph
    cache: dict[int, Any] = {}

    def traced(module: Any, inputs: Any, aliases: Any) -> Any:
        key = id(module)
        if key not in cache:
            cache[key] = original(module, inputs, aliases)
        return cache[key]

    jit_analysis._get_scoped_trace_graph = traced
    try:
        yield
    finally:
        jit_analysis._get_scoped_trace_graph = original


@contextlib.contextmanager
def _countable() -> Iterator[None]:
    """No fused fast paths while counting, so every matrix product is visible to the counters."""
    import torch

    fastpath = torch.backends.mha.get_fastpath_enabled()
    # nn.MultiheadAttention's inference fast path is one opaque kernel
    # (aten::_native_multi_head_attention) that neither counter understands;
    # the slow path computes the same products as linear + SDPA.
    torch.backends.mha.set_fastpath_enabled(False)
    logger = logging.getLogger("fvcore")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        logger.setLevel(level)


def _register_cpu_sdpa() -> None:
    """torch.utils.flop_counter knows the CUDA SDPA kernels but not the CPU flash kernel."""
    import torch
    import torch.utils.flop_counter as flop_counter

    cpu_op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    cuda_op = torch.ops.aten._scaled_dot_product_flash_attention
    if cpu_op is not None and cpu_op not in flop_counter.flop_registry and cuda_op in flop_counter.flop_registry:
        flop_counter.flop_registry[cpu_op] = flop_counter.flop_registry[cuda_op]


def flop_counter_gflops(model: nn.Module, inputs: torch.Tensor) -> float:
    """torch.utils.flop_counter total (2 x MACs of conv/linear/matmul/attention) for one forward."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    _register_cpu_sdpa()
    with _countable(), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(inputs)
    return counter.get_total_flops() / 1e9


def count_operations(model: nn.Module, inputs: torch.Tensor, cross_check: bool = True) -> Operations:
    """Operations of one forward pass on ``inputs`` (batch 1), per image, counted with fvcore.

    ``model`` must be in eval mode. The per-operator and per-module breakdowns
    are fvcore's; operators it does not know are listed in uncounted_operators
    (mostly element-wise ops that fvcore skips by design: add, mul, gelu, ...).
    """
    import torch

    with warnings.catch_warnings():
        # fvcore's import trips torch's torch.jit.script deprecation warning; nothing to act on.
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis

    images = int(inputs.shape[0])
    with _countable(), _one_trace(), torch.no_grad():
        flops = FlopCountAnalysis(model, inputs)
        flops.set_op_handle(**_EXTRA_HANDLES)
        flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        activations = ActivationCountAnalysis(model, inputs)
        activations.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        total = flops.total()
        by_operator = flops.by_operator()
        by_module = flops.by_module()
        uncounted = flops.unsupported_ops()
        activation_count = activations.total()
    children = [name for name, _ in model.named_children()]
    matrix = sum(v for k, v in by_operator.items() if k in MATRIX_OPERATORS)
    gmacs = total / images / 1e9
    cross = flop_counter_gflops(model, inputs) / images if cross_check else None
    return Operations(
        counter=f"fvcore {metadata.version('fvcore')}",
        gmacs=gmacs,
        gflops=2 * gmacs,
        gmacs_conv_linear_matmul=matrix / images / 1e9,
        flop_counter_gflops=cross,
        activations_millions=activation_count / images / 1e6,
        by_operator_gmacs={k: v / images / 1e9 for k, v in sorted(by_operator.items())},
        by_module_gmacs={name: by_module.get(name, 0) / images / 1e9 for name in children},
        uncounted_operators=dict(sorted(Counter(uncounted).items())),
    )


# Shared building blocks of torchvision's classifiers (Conv2dNormActivation,
# SqueezeExcitation, _make_divisible, ...): a change there changes architectures.
TORCHVISION_SHARED_SOURCES = ("torchvision.ops.misc", "torchvision.models._utils")


def architecture_sha256(builder: str) -> str | None:
    """SHA-256 of the source that defines ``builder``'s architecture; None where it cannot be read (timm).

    Operation counts are a function of the architecture and the input size, not
    of the torch release that traces them; what defines the architecture is this
    source. It covers the builder's whole module (weights metadata included), so
    a release that only edits a docstring there still counts again: never reuse
    wrongly, sometimes recount.
    """
    import hashlib
    import importlib
    import inspect

    module_name, _, function = builder.rpartition(".")
    if not module_name.startswith(("torchvision.", "generator.")):
        return None
    try:
        target = getattr(importlib.import_module(module_name), function)
        modules = [inspect.getmodule(target)]
        if module_name.startswith("torchvision."):
            modules += [importlib.import_module(name) for name in TORCHVISION_SHARED_SOURCES]
        digest = hashlib.sha256()
        for module in modules:
            if module is None:
                return None
            digest.update(inspect.getsource(module).encode())
    except (ImportError, AttributeError, OSError, TypeError):
        return None
    return digest.hexdigest()


@dataclass(frozen=True)
class Counted:
    """What ``models --count`` prints for one entry."""

    parameters: int
    gmacs_conv_linear_matmul: float
    counter: str
    gmacs: float | None = None  # fvcore's total, when fvcore counted
    flop_counter_gflops: float | None = None


def build_on_meta(spec: ModelSpec) -> nn.Module:
    """The entry's model with tensors that have shapes but no storage: no initialisation, no memory."""
    import torch

    try:
        with torch.device("meta"):
            return spec.build().eval()
    except Exception:
        # Some builders compute layer widths from real tensors while constructing
        # (RegNet): build for real, then drop the storage.
        return spec.build().eval().to("meta")


def meta_flop_counter_gflops(spec: ModelSpec) -> float | None:
    """The flop-counter cross-check on a second, storage-free build of ``spec``: shapes only, no arithmetic.

    Counting on the meta device takes milliseconds where a real forward pass
    under the flop counter takes seconds on a CPU. None if the model cannot run
    on the meta device.
    """
    import torch

    size = spec.input_size_px
    try:
        return flop_counter_gflops(build_on_meta(spec), torch.zeros(1, 3, size, size, device="meta"))
    except Exception:  # an operator without a meta kernel: no cross-check rather than a failed record
        return None


def count_spec(spec: ModelSpec, fvcore: bool = False, cross_check: bool = False) -> Counted:
    """Build ``spec`` and count its parameters and conv/linear/matmul MACs at batch 1.

    By default torch.utils.flop_counter runs the model on the meta device: shapes
    only, no arithmetic, so all 80 torchvision builders take seconds, not the
    minutes a real forward pass of vit_h_14 at 518 px (1 TMAC) would. With
    ``fvcore`` (what the records use) the model is built and run for real on the CPU.
    """
    import torch

    size = spec.input_size_px
    if not fvcore:
        try:
            model = build_on_meta(spec)
            gflops = flop_counter_gflops(model, torch.zeros(1, 3, size, size, device="meta"))
            return Counted(
                parameters=count_parameters(model),
                gmacs_conv_linear_matmul=gflops / 2,
                counter="torch.utils.flop_counter (meta device)",
                flop_counter_gflops=gflops,
            )
        except Exception:  # an operator without a meta kernel: count for real below
            pass
    model = spec.build().eval()
    operations = count_operations(model, torch.zeros(1, 3, size, size), cross_check=cross_check)
    return Counted(
        parameters=count_parameters(model),
        gmacs_conv_linear_matmul=operations.gmacs_conv_linear_matmul,
        counter=operations.counter,
        gmacs=operations.gmacs,
        flop_counter_gflops=operations.flop_counter_gflops,
    )
