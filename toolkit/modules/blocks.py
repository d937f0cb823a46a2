"""Convolutional building blocks shared by the backbones and task models.

- Residual basic and bottleneck blocks: K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for
  Image Recognition", CVPR 2016.
- ConvNeXt block: Z. Liu, H. Mao, C.-Y. Wu, C. Feichtenhofer, T. Darrell, S. Xie, "A ConvNet for the
  2020s", CVPR 2022.

Blocks that carry an ``attn`` argument build it with :func:`build_attention` (``None`` = no
attention) and apply it to the residual branch just before the residual sum, the place SE-ResNet
uses; the shortcut is never re-weighted.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from toolkit.modules.attention import build_attention
from toolkit.modules.layers import ConvNormAct, DropPath, LayerNorm2d, make_act

__all__ = ["BasicBlock", "Bottleneck", "ConvNeXtBlock"]


def zero_last_layer(layer: ConvNormAct) -> str:
    """Zero the scale of ``layer``'s norm (the branch then outputs its zero-initialised norm's bias, 0), or, with
    no affine norm, the convolution's weight and bias; say which (``model.init.zero_last``)."""
    conv, norm = layer[0], layer[1]
    if isinstance(getattr(norm, "weight", None), nn.Parameter):  # bn, gn, ln2d, in
        nn.init.zeros_(norm.weight)
        return "the last norm's weight"
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return "the last convolution"


def _shortcut(in_channels: int, out_channels: int, stride: int, norm_layer: str | None) -> nn.Module:
    """Identity when shapes match, else the 1x1 strided projection of ResNet's option B."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return ConvNormAct(in_channels, out_channels, 1, stride=stride, norm_layer=norm_layer, act_layer=None)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv-norm layers, attention, residual sum, activation.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the first conv (and of the projection shortcut).
        norm_layer: norm short name (``bn``, ``gn``, ``ln2d``, ``in``).
        act_layer: activation short name.
        attn: attention spec applied to the residual branch.
        drop_path: stochastic-depth probability of the residual branch.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, ceil(H / stride), ceil(W / stride))
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        norm_layer: str | None = "bn",
        act_layer: str = "relu",
        attn: Any = None,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.conv1 = ConvNormAct(
            in_channels, out_channels, 3, stride=stride, norm_layer=norm_layer, act_layer=act_layer
        )
        self.conv2 = ConvNormAct(out_channels, out_channels, 3, norm_layer=norm_layer, act_layer=None)
        self.attn = build_attention(attn, out_channels)
        self.drop_path = DropPath(drop_path)
        self.shortcut = _shortcut(in_channels, out_channels, stride, norm_layer)
        self.act = make_act(act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attn(self.conv2(self.conv1(x)))
        return self.act(self.shortcut(x) + self.drop_path(y))

    def zero_init_last(self) -> str:
        """``model.init.zero_last``: zero the branch's last layer (Goyal et al. 2017, section 5.1)."""
        return "BasicBlock: " + zero_last_layer(self.conv2)


class Bottleneck(nn.Module):
    """ResNet bottleneck: 1x1 reduce, 3x3 (strided, grouped), 1x1 expand, attention, residual sum.

    The stride sits on the 3x3 conv (the "ResNet v1.5" placement used by torchvision; the 2016
    paper strides the first 1x1 conv, which has the same parameter count but drops 3/4 of the
    input before any spatial mixing).

    Args:
        in_channels: input channels.
        out_channels: output channels (4x the bottleneck width in the paper's networks).
        stride: stride of the 3x3 conv and of the projection shortcut.
        hidden_channels: bottleneck width; default ``out_channels // expansion``.
        groups: groups of the 3x3 conv (ResNeXt cardinality).
        norm_layer: norm short name.
        act_layer: activation short name.
        attn: attention spec applied to the residual branch.
        drop_path: stochastic-depth probability of the residual branch.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, ceil(H / stride), ceil(W / stride))
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        hidden_channels: int | None = None,
        groups: int = 1,
        norm_layer: str | None = "bn",
        act_layer: str = "relu",
        attn: Any = None,
        drop_path: float = 0.0,
    ):
        super().__init__()
        hidden = hidden_channels or out_channels // self.expansion
        self.conv1 = ConvNormAct(in_channels, hidden, 1, norm_layer=norm_layer, act_layer=act_layer)
        self.conv2 = ConvNormAct(
            hidden, hidden, 3, stride=stride, groups=groups, norm_layer=norm_layer, act_layer=act_layer
        )
        self.conv3 = ConvNormAct(hidden, out_channels, 1, norm_layer=norm_layer, act_layer=None)
        self.attn = build_attention(attn, out_channels)
        self.drop_path = DropPath(drop_path)
        self.shortcut = _shortcut(in_channels, out_channels, stride, norm_layer)
        self.act = make_act(act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attn(self.conv3(self.conv2(self.conv1(x))))
        return self.act(self.shortcut(x) + self.drop_path(y))

    def zero_init_last(self) -> str:
        """``model.init.zero_last``: zero the branch's last layer (Goyal et al. 2017, section 5.1)."""
        return "Bottleneck: " + zero_last_layer(self.conv3)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block: 7x7 depthwise conv, LayerNorm, 1x1 expand (4x), GELU, 1x1 project, layer scale.

    Args:
        channels: input (and output) channels.
        kernel_size: depthwise kernel size (paper: 7).
        mlp_ratio: expansion of the pointwise MLP (paper: 4).
        layer_scale_init: initial value of the per-channel layer scale (paper: 1e-6; 0 disables it).
        attn: attention spec applied to the branch output, before the layer scale.
        drop_path: stochastic-depth probability of the residual branch.

    Shape:
        - Input: (B, channels, H, W)
        - Output: (B, channels, H, W)
    """

    def __init__(
        self,
        channels: int,
        *,
        kernel_size: int = 7,
        mlp_ratio: float = 4.0,
        layer_scale_init: float = 1e-6,
        attn: Any = None,
        drop_path: float = 0.0,
    ):
        super().__init__()
        hidden = int(channels * mlp_ratio)
        self.dw = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.norm = LayerNorm2d(channels)
        # 1x1 convs on (B, C, H, W) equal the paper's Linear layers on channels-last tokens
        self.pw1 = nn.Conv2d(channels, hidden, 1)
        self.act = nn.GELU()
        self.pw2 = nn.Conv2d(hidden, channels, 1)
        self.attn = build_attention(attn, channels)
        self.gamma = nn.Parameter(torch.full((channels, 1, 1), layer_scale_init)) if layer_scale_init > 0 else None
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attn(self.pw2(self.act(self.pw1(self.norm(self.dw(x))))))
        if self.gamma is not None:
            y = self.gamma * y
        return x + self.drop_path(y)
