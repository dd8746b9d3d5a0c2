"""Parameter and operation counts on modules small enough to check by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from generator.counting import count_operations, count_parameters, tensor_bytes


def test_conv_3x3x3_with_bias_has_28_parameters() -> None:
    assert count_parameters(nn.Conv2d(3, 1, kernel_size=3)) == 3 * 3 * 3 + 1


def test_shared_parameters_count_once() -> None:
    layer = nn.Linear(4, 4)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert count_parameters(model) == 4 * 4 + 4


def test_conv_macs_per_image() -> None:
    # 8 output channels x 16x16 positions x (3 channels x 3x3 kernel) MACs.
    model = nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, padding=1)).eval()
    expected = 8 * 16 * 16 * 3 * 3 * 3
    for batch in (1, 4):  # per image, whatever the batch
        ops = count_operations(model, torch.zeros(batch, 3, 16, 16))
        assert ops.gmacs * 1e9 == pytest.approx(expected)
        assert ops.gflops == pytest.approx(2 * ops.gmacs)
        assert ops.gmacs_conv_linear_matmul * 1e9 == pytest.approx(expected)
        assert ops.flop_counter_gflops is not None
        assert ops.flop_counter_gflops * 1e9 == pytest.approx(2 * expected)
        assert ops.by_operator_gmacs["conv"] * 1e9 == pytest.approx(expected)
        assert ops.activations_millions * 1e6 == pytest.approx(8 * 16 * 16)


def test_breakdown_by_top_level_module_and_norms_outside_matrix_count() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 8 * 8, 10)).eval()
    ops = count_operations(model, torch.zeros(1, 3, 8, 8))
    conv, linear = 4 * 3 * 8 * 8, 4 * 8 * 8 * 10
    assert ops.by_module_gmacs["0"] * 1e9 == pytest.approx(conv)
    assert ops.by_module_gmacs["3"] * 1e9 == pytest.approx(linear)
    assert ops.gmacs_conv_linear_matmul * 1e9 == pytest.approx(conv + linear)
    # fvcore adds BatchNorm to its total, not to the conv/linear/matmul figure.
    assert ops.gmacs > ops.gmacs_conv_linear_matmul


class _Attention(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = x.view(x.shape[0], 2, 4, 8)  # batch, heads, tokens, depth
        return F.scaled_dot_product_attention(q, q, q)


def test_attention_is_counted_not_skipped() -> None:
    ops = count_operations(_Attention().eval(), torch.zeros(1, 64))
    # Q K^T (4x8 @ 8x4) and A V (4x4 @ 4x8) per head: 2 heads x 4 x 4 x (8 + 8).
    expected = 2 * 4 * 4 * (8 + 8)
    assert ops.gmacs_conv_linear_matmul * 1e9 == pytest.approx(expected)
    assert "aten::scaled_dot_product_attention" not in ops.uncounted_operators
    assert ops.flop_counter_gflops * 1e9 == pytest.approx(2 * expected)


def test_multi_head_attention_fast_path_is_counted() -> None:
    # In eval mode nn.MultiheadAttention runs one fused kernel unless counting turns the fast path off.
    mha = nn.MultiheadAttention(16, 2, batch_first=True).eval()

    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = mha

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.mha(x, x, x, need_weights=False)[0]

    ops = count_operations(Wrapper().eval(), torch.zeros(1, 5, 16))
    projections = 4 * 5 * 16 * 16  # q, k, v and output projections
    attention = 5 * 5 * 16 * 2  # Q K^T and A V over all heads
    assert ops.gmacs_conv_linear_matmul * 1e9 == pytest.approx(projections + attention)
    assert torch.backends.mha.get_fastpath_enabled()  # restored afterwards


def test_unknown_operators_are_listed() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.GELU()).eval()
    ops = count_operations(model, torch.zeros(1, 4))
    assert ops.uncounted_operators.get("aten::gelu") == 1


def test_bytes_follow_the_dtype() -> None:
    model = nn.Sequential(nn.Conv2d(3, 1, 3), nn.BatchNorm2d(1))
    params32, buffers32 = tensor_bytes(model)
    params16, _ = tensor_bytes(model.half())
    assert params32 == (28 + 2) * 4
    assert params16 == params32 // 2
    assert buffers32 == 2 * 4 + 8  # running mean and var (fp32) + num_batches_tracked (int64)
