"""Building blocks shared by the SIRST models: a residual block with an attention slot, and helpers.

The residual block is the basic block of He et al., "Deep Residual Learning for Image Recognition"
(CVPR 2016), with a re-weighting slot between the second norm and the residual sum. With
``attn='cbam'`` it is DNANet's Res-CBAM block (Li et al., IEEE TIP 2022); with no attention it is the
block of ACM's ResNet-20 backbone (Dai et al., WACV 2021).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.modules import ConvNormAct, build_attention, make_act
from toolkit.modules.blocks import zero_last_layer
from toolkit.modules.shape import check_shape

__all__ = ["ResidualBlock", "make_stage", "resize_to", "check_input"]


class ResidualBlock(nn.Module):
    """conv3x3-norm-act-conv3x3-norm, attention re-weighting, plus a (projected) shortcut, then act.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the first convolution (and of the projection shortcut).
        attn: attention spec built with ``build_attention`` on ``out_channels`` (``None`` = none).
        norm_layer: norm name (see ``toolkit.modules.make_norm``).
        act_layer: activation name.
        bias: give the convolutions a bias (DNANet's convolutions have one, ACM's do not).

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, H / stride, W / stride)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        attn: Any = None,
        norm_layer: str = "bn",
        act_layer: str = "relu",
        bias: bool = False,
    ):
        super().__init__()
        self.conv1 = ConvNormAct(
            in_channels, out_channels, 3, stride=stride, norm_layer=norm_layer, act_layer=act_layer, bias=bias
        )
        self.conv2 = ConvNormAct(out_channels, out_channels, 3, norm_layer=norm_layer, act_layer=None, bias=bias)
        self.attn = build_attention(attn, out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = ConvNormAct(
                in_channels, out_channels, 1, stride=stride, norm_layer=norm_layer, act_layer=None, bias=bias
            )
        else:
            self.shortcut = nn.Identity()
        self.act = make_act(act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.attn(self.conv2(self.conv1(x))) + self.shortcut(x))

    def zero_init_last(self) -> str:
        """``model.init.zero_last``: zero the branch's last layer (Goyal et al. 2017, section 5.1); the block then
        starts as act(shortcut(x))."""
        return "ResidualBlock: " + zero_last_layer(self.conv2)


def make_stage(
    in_channels: int, out_channels: int, num_blocks: int, *, stride: int = 1, **block_kw: Any
) -> nn.Sequential:
    """``num_blocks`` residual blocks; the first changes channels (and stride), the rest keep them."""
    blocks = [ResidualBlock(in_channels, out_channels, stride=stride, **block_kw)]
    blocks += [ResidualBlock(out_channels, out_channels, **block_kw) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


def resize_to(x: torch.Tensor, ref: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
    """Bilinear resize of ``x`` to the spatial size of ``ref`` (any ratio, odd sizes included)."""
    if x.shape[-2:] == ref.shape[-2:]:
        return x
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=align_corners)


def check_input(model: nn.Module, x: torch.Tensor, in_channels: int) -> None:
    """Raise one clear error when the input is not (B, in_channels, H, W)."""
    hint = "set data.color ('grey' = 1 channel, 'rgb' = 3) to match model.in_channels"
    check_shape(x, ("B", in_channels, "H", "W"), type(model).__name__, hint=hint)
