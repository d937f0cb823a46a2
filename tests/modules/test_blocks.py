"""Residual and ConvNeXt blocks, the backbones' blocks: shapes, residual wiring, parameter counts."""

from __future__ import annotations

import pytest
import torch

from toolkit.modules.attention import ATTENTION
from toolkit.modules.blocks import BasicBlock, Bottleneck, ConvNeXtBlock


def _n(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    "block,out_channels",
    [
        (BasicBlock(8, 16, stride=2, attn="se"), 16),
        (Bottleneck(8, 32, stride=2, attn="cbam"), 32),
    ],
    ids=["basic", "bottleneck"],
)
def test_strided_blocks_shape_and_gradients(block, out_channels):
    x = torch.randn(2, 8, 9, 11, requires_grad=True)
    y = block(x)
    assert y.shape == (2, out_channels, 5, 6)  # ceil(9 / 2), ceil(11 / 2)
    y.square().mean().backward()
    assert all(p.grad is not None for p in block.parameters())


def test_basic_block_with_zero_branch_is_relu_of_input():
    block = BasicBlock(8, 8)
    torch.nn.init.zeros_(block.conv2[1].weight)  # last BN scale 0: the residual branch outputs 0
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(block(x), torch.relu(x))


def test_bottleneck_width_and_attention_slot():
    block = Bottleneck(64, 256, attn="se")
    assert block.conv2[0].out_channels == 64  # 256 / 4
    assert isinstance(block.attn, ATTENTION.get("se")) and block.attn.channels == 256
    # 1x1 (64*64) + 3x3 (64*64*9) + 1x1 (64*256) + projection (64*256) weights, 2 BN params per channel
    assert _n(block) == 64 * 64 + 64 * 64 * 9 + 64 * 256 + 64 * 256 + 2 * (64 + 64 + 256 + 256) + _n(block.attn)


def test_convnext_block_parameter_count_and_layer_scale():
    c = 16
    m = ConvNeXtBlock(c)
    # dw 7x7 (49C + C), LayerNorm (2C), pw C->4C (4C^2 + 4C), pw 4C->C (4C^2 + C), gamma (C)
    assert _n(m) == 8 * c * c + 58 * c
    x = torch.randn(1, c, 7, 9)
    torch.testing.assert_close(m(x), x, atol=1e-4, rtol=0)  # gamma = 1e-6: the block starts near identity
    m2 = ConvNeXtBlock(c, layer_scale_init=0.0, attn="simam")
    assert m2.gamma is None and (m2(x) - x).abs().max() > 1e-2
