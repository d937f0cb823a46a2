"""Convolutional building blocks shared by the backbones and task models.

- Residual basic and bottleneck blocks: K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for
  Image Recognition", CVPR 2016.
- Depthwise-separable convolution: A. Howard et al., "MobileNets", arXiv 1704.04861, 2017.
- Inverted residual: M. Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
  CVPR 2018; fused-MBConv: M. Tan, Q. Le, "EfficientNetV2", ICML 2021.
- Channel shuffle: X. Zhang, X. Zhou, M. Lin, J. Sun, "ShuffleNet", CVPR 2018.
- ConvNeXt block: Z. Liu, H. Mao, C.-Y. Wu, C. Feichtenhofer, T. Darrell, S. Xie, "A ConvNet for the
  2020s", CVPR 2022.

Blocks that carry an ``attn`` argument build it with :func:`build_attention` (``None`` = no
attention) and apply it to the residual branch just before the residual sum, the place SE-ResNet
and MBConv use; the shortcut is never re-weighted.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from toolkit.modules.attention import build_attention
from toolkit.modules.layers import ConvNormAct, DropPath, LayerNorm2d, make_act

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "DepthwiseSeparableConv",
    "InvertedResidual",
    "FusedMBConv",
    "ChannelShuffle",
    "channel_shuffle",
    "ConvNeXtBlock",
]


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


class DepthwiseSeparableConv(nn.Module):
    """Depthwise k x k conv-norm-act, optional attention, pointwise 1x1 conv-norm-act.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: depthwise kernel size.
        stride: depthwise stride.
        norm_layer: norm short name.
        act_layer: activation short name (after both convs, as in MobileNet v1).
        attn: attention spec applied between the depthwise and pointwise convs.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, ceil(H / stride), ceil(W / stride))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        norm_layer: str | None = "bn",
        act_layer: str = "relu",
        attn: Any = None,
    ):
        super().__init__()
        self.dw = ConvNormAct(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            groups=in_channels,
            norm_layer=norm_layer,
            act_layer=act_layer,
        )
        self.attn = build_attention(attn, in_channels)
        self.pw = ConvNormAct(in_channels, out_channels, 1, norm_layer=norm_layer, act_layer=act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.attn(self.dw(x)))


class InvertedResidual(nn.Module):
    """MBConv: 1x1 expand, depthwise k x k, attention (SE in EfficientNet), linear 1x1 projection.

    The residual is added when the stride is 1 and the channel count is kept.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: depthwise kernel size.
        stride: depthwise stride.
        expand_ratio: hidden width ``in_channels * expand_ratio`` (MobileNetV2: 6); 1 skips the expansion.
        norm_layer: norm short name.
        act_layer: activation short name (MobileNetV2: ReLU6; ``silu`` in EfficientNet).
        attn: attention spec applied to the expanded features.
        drop_path: stochastic-depth probability of the residual branch.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, ceil(H / stride), ceil(W / stride))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        expand_ratio: float = 4.0,
        norm_layer: str | None = "bn",
        act_layer: str = "silu",
        attn: Any = None,
        drop_path: float = 0.0,
    ):
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.expand = (
            ConvNormAct(in_channels, hidden, 1, norm_layer=norm_layer, act_layer=act_layer)
            if hidden != in_channels
            else nn.Identity()
        )
        self.dw = ConvNormAct(
            hidden, hidden, kernel_size, stride=stride, groups=hidden, norm_layer=norm_layer, act_layer=act_layer
        )
        self.attn = build_attention(attn, hidden)
        self.project = ConvNormAct(hidden, out_channels, 1, norm_layer=norm_layer, act_layer=None)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.attn(self.dw(self.expand(x))))
        return x + self.drop_path(y) if self.use_residual else y


class FusedMBConv(nn.Module):
    """Fused-MBConv: one k x k expansion conv replaces MBConv's 1x1 expand + depthwise pair.

    With ``expand_ratio == 1`` the block is a single k x k conv-norm-act (EfficientNetV2, Fig. 2).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: kernel size of the fused conv.
        stride: stride of the fused conv.
        expand_ratio: hidden width ``in_channels * expand_ratio``.
        norm_layer: norm short name.
        act_layer: activation short name.
        attn: attention spec applied to the expanded features.
        drop_path: stochastic-depth probability of the residual branch.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, ceil(H / stride), ceil(W / stride))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        expand_ratio: float = 4.0,
        norm_layer: str | None = "bn",
        act_layer: str = "silu",
        attn: Any = None,
        drop_path: float = 0.0,
    ):
        super().__init__()
        if expand_ratio == 1:
            self.fused = ConvNormAct(
                in_channels, out_channels, kernel_size, stride=stride, norm_layer=norm_layer, act_layer=act_layer
            )
            self.attn = build_attention(attn, out_channels)
            self.project = nn.Identity()
        else:
            hidden = int(round(in_channels * expand_ratio))
            self.fused = ConvNormAct(
                in_channels, hidden, kernel_size, stride=stride, norm_layer=norm_layer, act_layer=act_layer
            )
            self.attn = build_attention(attn, hidden)
            self.project = ConvNormAct(hidden, out_channels, 1, norm_layer=norm_layer, act_layer=None)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.attn(self.fused(x)))
        return x + self.drop_path(y) if self.use_residual else y


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: channel ``g * (C / G) + i`` moves to ``i * G + g``."""
    b, c, h, w = x.shape
    if c % groups:
        raise ValueError(f"channel_shuffle: {c} channels cannot be split into {groups} groups")
    x = x.reshape(b, groups, c // groups, h, w)  # (B, G, C/G, H, W)
    return x.transpose(1, 2).reshape(b, c, h, w)  # (B, C, H, W), groups interleaved


class ChannelShuffle(nn.Module):
    """Module form of :func:`channel_shuffle`, placed after a grouped conv so groups exchange information.

    Shape:
        - Input: (B, C, H, W) with C divisible by ``groups``
        - Output: (B, C, H, W)
    """

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)


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
