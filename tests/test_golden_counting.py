"""Exact counts of generator/counting.py on modules small enough to count by hand.

Each matrix operator torchvision's '_ops' counts is exercised on its own, with
shapes whose every dimension differs, so a swapped dimension or a dropped
operator name changes the number (benchmarks/MUTATION.md).
"""

from __future__ import annotations

import hashlib
import inspect
import logging

import pytest
import torch
from fixtures.tight import approx
from torch import nn
from torch.nn import functional as F

from generator.counting import (
    MATRIX_OPERATORS,
    Counted,
    architecture_sha256,
    build_on_meta,
    count_operations,
    count_spec,
    flop_counter_gflops,
    meta_flop_counter_gflops,
)
from generator.model_spec import ModelSpec


class _Product(nn.Module):
    """One matrix product of ``kind`` between the input and fixed operands."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, 3, 4)
        left = x.reshape(x.shape[0], 3, 4)
        right = torch.ones(x.shape[0], 4, 5)
        if self.kind == "bmm":
            return torch.bmm(left, right)
        if self.kind == "baddbmm":
            return torch.baddbmm(torch.zeros(x.shape[0], 3, 5), left, right)
        if self.kind == "einsum":
            return torch.einsum("bij,bjk->bik", left, right)
        if self.kind == "matmul":
            return torch.matmul(left, right)
        flat = left.reshape(-1, 4)  # (batch x 3, 4)
        if self.kind == "mm":
            return torch.mm(flat, torch.ones(4, 5))
        return torch.addmm(torch.zeros(5), flat, torch.ones(4, 5))  # addmm


@pytest.mark.parametrize("kind", ["bmm", "baddbmm", "einsum", "matmul", "mm", "addmm"])
def test_every_matrix_product_counts_3_x_4_x_5_macs_per_image(kind: str) -> None:
    ops = count_operations(_Product(kind).eval(), torch.zeros(2, 12), cross_check=False)
    assert ops.gmacs_conv_linear_matmul * 1e9 == approx(3 * 4 * 5)
    assert ops.gmacs * 1e9 == approx(3 * 4 * 5)
    assert sum(ops.by_operator_gmacs.values()) * 1e9 == approx(3 * 4 * 5)
    assert set(ops.by_operator_gmacs) <= MATRIX_OPERATORS
    assert ops.flop_counter_gflops is None  # no cross-check asked for


def test_matrix_operators_are_the_ones_torchvision_counts() -> None:
    assert frozenset(
        {"conv", "linear", "addmm", "bmm", "baddbmm", "einsum", "matmul", "mm", "scaled_dot_product_attention"}
    ) == MATRIX_OPERATORS


class _UnevenAttention(nn.Module):
    """Attention whose query length (4), key length (6), query depth (8) and value depth (16) all differ."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        query = x[:, :64].reshape(batch, 2, 4, 8)
        key = torch.ones(batch, 2, 6, 8)
        value = torch.ones(batch, 2, 6, 16)
        return F.scaled_dot_product_attention(query, key, value)


def test_attention_counts_each_dimension_once() -> None:
    ops = count_operations(_UnevenAttention().eval(), torch.zeros(3, 64))
    # Per image: 2 heads x 4 queries x 6 keys x (8 + 16).
    assert ops.gmacs_conv_linear_matmul * 1e9 == approx(2 * 4 * 6 * (8 + 16))
    assert ops.by_operator_gmacs == {"scaled_dot_product_attention": approx(2 * 4 * 6 * 24 / 1e9)}
    assert ops.flop_counter_gflops is not None
    assert ops.flop_counter_gflops * 1e9 == approx(2 * 2 * 4 * 6 * 24)


class _HeadlessAttention(nn.Module):
    """Attention on 3-D operands (batch, tokens, depth), no heads dimension: query length 3, key length 5,
    query depth 8, value depth 4, so a dimension read from the front instead of the back shows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        query = x[:, :24].reshape(batch, 3, 8)
        key = torch.ones(batch, 5, 8)
        value = torch.ones(batch, 5, 4)
        return F.scaled_dot_product_attention(query, key, value)


def test_attention_without_heads_counts_each_dimension_once() -> None:
    ops = count_operations(_HeadlessAttention().eval(), torch.zeros(2, 24))
    # Per image: 3 queries x 5 keys x (8 + 4) = 180 MACs.
    assert ops.by_operator_gmacs == {"scaled_dot_product_attention": approx(3 * 5 * (8 + 4) / 1e9)}


def test_every_field_is_per_image_at_batch_3() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.GELU(), nn.Flatten(), nn.Linear(4 * 2 * 2, 5))
    ops = count_operations(model.eval(), torch.zeros(3, 3, 2, 2))
    # fvcore counts an affine batch norm in eval mode as 2 MACs per element (scale and shift).
    conv, norm, linear = 4 * 3 * 2 * 2, 2 * 4 * 2 * 2, 16 * 5
    assert ops.by_operator_gmacs == {
        "batch_norm": approx(norm / 1e9),
        "conv": approx(conv / 1e9),
        "linear": approx(linear / 1e9),
    }
    assert list(ops.by_operator_gmacs) == ["batch_norm", "conv", "linear"]  # sorted
    assert ops.by_module_gmacs == {
        "0": approx(conv / 1e9),
        "1": approx(norm / 1e9),
        "2": 0.0,
        "3": 0.0,
        "4": approx(linear / 1e9),
    }
    assert ops.gmacs * 1e9 == approx(conv + norm + linear)
    assert ops.gflops * 1e9 == approx(2 * (conv + norm + linear))
    assert ops.gmacs_conv_linear_matmul * 1e9 == approx(conv + linear)
    assert ops.flop_counter_gflops is not None and ops.flop_counter_gflops * 1e9 == approx(2 * (conv + linear))
    # Activations: the conv's 16 outputs and the linear layer's 5, per image.
    assert ops.activations_millions * 1e6 == approx(16 + 5)
    assert ops.uncounted_operators == {"aten::gelu": 1}
    import fvcore

    assert ops.counter == f"fvcore {fvcore.__version__}"


def test_uncounted_operators_are_counted_and_sorted() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 4), nn.GELU(), nn.Softmax(dim=1)).eval()
    ops = count_operations(model, torch.zeros(1, 4), cross_check=False)
    assert ops.uncounted_operators == {"aten::gelu": 2, "aten::softmax": 1}
    assert list(ops.uncounted_operators) == ["aten::gelu", "aten::softmax"]


def test_counting_leaves_fvcore_logging_and_tracing_as_it_found_them() -> None:
    import fvcore.nn.jit_analysis as jit_analysis

    tracer = jit_analysis._get_scoped_trace_graph
    logger = logging.getLogger("fvcore")
    logger.setLevel(logging.INFO)
    try:
        count_operations(nn.Sequential(nn.Linear(2, 2)).eval(), torch.zeros(1, 2))
        assert logger.level == logging.INFO
    finally:
        logger.setLevel(logging.NOTSET)
    assert jit_analysis._get_scoped_trace_graph is tracer


def test_flop_counter_gflops_is_twice_the_macs() -> None:
    assert flop_counter_gflops(nn.Linear(3, 7), torch.zeros(2, 3)) * 1e9 == approx(2 * 2 * 3 * 7)


def _spec(build: object, builder: str = "generator.counting.count_spec", size: int = 8) -> ModelSpec:
    return ModelSpec(
        name="tiny",
        family="tiny",
        source="generator",
        builder=builder,
        build=build,  # type: ignore[arg-type]
        input_size_px=size,
        weights=None,
        architecture_source="test",
    )


def _tiny() -> nn.Module:
    # 8 x 8 input: conv 3 -> 2 channels, 3 x 3, padding 1, no bias: 2 x 64 x 27 = 3,456 MACs; then 128 -> 10 linear.
    return nn.Sequential(nn.Conv2d(3, 2, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(128, 10))


class _NeedsRealTensors(nn.Module):
    """Computes a layer width from a real tensor while building (as RegNet does): fails on the meta device."""

    def __init__(self) -> None:
        super().__init__()
        width = int(torch.tensor(2.0).item())
        self.body = _tiny()
        self.scale = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


TINY_MACS = 2 * 64 * 27 + 128 * 10
TINY_PARAMETERS = 2 * 27 + 128 * 10 + 10


def test_count_spec_on_the_meta_device_and_with_fvcore() -> None:
    counted = count_spec(_spec(_tiny))
    assert counted == Counted(
        parameters=TINY_PARAMETERS,
        gmacs_conv_linear_matmul=approx(TINY_MACS / 1e9),
        counter="torch.utils.flop_counter (meta device)",
        gmacs=None,
        flop_counter_gflops=approx(2 * TINY_MACS / 1e9),
    )
    real = count_spec(_spec(_tiny), fvcore=True, cross_check=True)
    assert real.parameters == TINY_PARAMETERS and real.counter.startswith("fvcore ")
    assert real.gmacs == approx(TINY_MACS / 1e9)
    assert real.gmacs_conv_linear_matmul == approx(TINY_MACS / 1e9)
    assert real.flop_counter_gflops == approx(2 * TINY_MACS / 1e9)
    assert count_spec(_spec(_tiny), fvcore=True).flop_counter_gflops is None


def test_a_builder_that_needs_real_tensors_is_built_then_moved_to_meta() -> None:
    model = build_on_meta(_spec(_NeedsRealTensors))
    assert not model.training and all(p.device.type == "meta" for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == TINY_PARAMETERS + 2
    assert meta_flop_counter_gflops(_spec(_NeedsRealTensors)) == approx(2 * TINY_MACS / 1e9)
    assert build_on_meta(_spec(_tiny)).training is False


class _RecordsWhereItWasBuilt(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = _tiny()
        self.built_on = torch.empty(0).device.type  # where a tensor created while building lands


def test_a_model_that_can_be_built_on_meta_is_built_there_not_moved() -> None:
    # Built inside the meta device context: no storage is ever allocated (the point of counting on meta);
    # a real build moved to meta afterwards gives the same parameters but allocates them first.
    model = build_on_meta(_spec(_RecordsWhereItWasBuilt))
    assert model.built_on == "meta"
    assert all(p.device.type == "meta" for p in model.parameters())


class _NoMetaKernel(nn.Module):
    """An operation without a meta kernel (data-dependent output shape)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = _tiny()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y + torch.nonzero(y).sum()


def test_without_a_meta_kernel_the_count_is_made_for_real() -> None:
    assert meta_flop_counter_gflops(_spec(_NoMetaKernel)) is None
    counted = count_spec(_spec(_NoMetaKernel))
    assert counted.counter.startswith("fvcore ") and counted.gmacs == approx(TINY_MACS / 1e9)
    assert counted.parameters == TINY_PARAMETERS and counted.flop_counter_gflops is None


def test_architecture_digest_covers_the_builders_module_and_torchvisions_shared_blocks() -> None:
    import torchvision.models._utils
    import torchvision.models.resnet
    import torchvision.ops.misc

    expected = hashlib.sha256()
    for module in (torchvision.models.resnet, torchvision.ops.misc, torchvision.models._utils):
        expected.update(inspect.getsource(module).encode())
    assert architecture_sha256("torchvision.models.resnet50") == expected.hexdigest()
    import generator.paper_models as ours

    own = hashlib.sha256(inspect.getsource(ours).encode()).hexdigest()
    assert architecture_sha256("generator.paper_models.bn_alexnet") == own
    assert architecture_sha256("timm.models.resnet50") is None
    assert architecture_sha256("torchvision.models.no_such_builder") is None
    assert architecture_sha256("torchvision.no_such_module.resnet50") is None
