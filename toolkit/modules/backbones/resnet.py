"""ResNet-18/34/50 feature extractors.

K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(Table 1: stage depths 2-2-2-2, 3-4-6-3 and 3-4-6-3 with bottlenecks; widths 64-128-256-512, x4
for bottlenecks). Without the classifier they hold 11,176,512 / 21,284,672 / 23,508,032
parameters (the published 11.69M / 21.80M / 25.56M minus the 1000-way fully connected layer).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from toolkit.errors import ConfigError
from toolkit.modules.backbones.base import _check_input, stage_values
from toolkit.modules.blocks import BasicBlock, Bottleneck
from toolkit.modules.layers import ConvNormAct
from toolkit.registry import BACKBONES

__all__ = ["ResNet", "resnet18", "resnet34", "resnet50"]

_DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3))}


@BACKBONES.register("resnet")
class ResNet(nn.Module):
    """ResNet stem and four residual stages; returns the four stage outputs (C2-C5).

    Args:
        depth: 18, 34 or 50.
        in_channels: input image channels.
        base_channels: width of the stem and first stage (paper: 64).
        stem_stride: 4 (paper: 7x7 stride-2 conv + 3x3 stride-2 max-pool), 2 (no max-pool) or 1
            (a 3x3 stride-1 conv, for small inputs such as infrared targets or image patches).
        attn: attention spec for every residual block, or a list of 4 specs (one per stage).
        norm_layer: norm short name.
        act_layer: activation short name.
        drop_path: largest stochastic-depth probability, reached linearly at the last block.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: list of 4 tensors (B, out_channels[i], ceil(H / strides[i]), ceil(W / strides[i]))
    """

    def __init__(
        self,
        depth: int = 18,
        *,
        in_channels: int = 3,
        base_channels: int = 64,
        stem_stride: int = 4,
        attn: Any = None,
        norm_layer: str = "bn",
        act_layer: str = "relu",
        drop_path: float = 0.0,
    ):
        super().__init__()
        if depth not in _DEPTHS:
            raise ConfigError(f"resnet: depth must be one of {sorted(_DEPTHS)}, got {depth}")
        if stem_stride not in (1, 2, 4):
            raise ConfigError(f"resnet: stem_stride must be 1, 2 or 4, got {stem_stride}")
        kind, depths = _DEPTHS[depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.in_channels = in_channels
        if stem_stride == 1:
            self.stem = ConvNormAct(in_channels, base_channels, 3, norm_layer=norm_layer, act_layer=act_layer)
        else:
            layers = [ConvNormAct(in_channels, base_channels, 7, stride=2, norm_layer=norm_layer, act_layer=act_layer)]
            if stem_stride == 4:
                layers.append(nn.MaxPool2d(3, stride=2, padding=1))
            self.stem = nn.Sequential(*layers)
        attns = stage_values(attn, 4, "resnet.attn")
        total = sum(depths)
        rates = [drop_path * i / max(total - 1, 1) for i in range(total)]
        self.stages = nn.ModuleList()
        self.out_channels, self.strides = [], []
        prev, idx = base_channels, 0
        for i, n in enumerate(depths):
            width = base_channels * 2**i * block.expansion
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(
                    block(
                        prev,
                        width,
                        stride=stride,
                        norm_layer=norm_layer,
                        act_layer=act_layer,
                        attn=attns[i],
                        drop_path=rates[idx],
                    )
                )
                prev, idx = width, idx + 1
            self.stages.append(nn.Sequential(*blocks))
            self.out_channels.append(width)
            self.strides.append(stem_stride * 2**i)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_input(x.shape, self.in_channels, "resnet")
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


@BACKBONES.register("resnet18")
def resnet18(**kwargs: Any) -> ResNet:
    """ResNet-18 (basic blocks, 2-2-2-2)."""
    return ResNet(18, **kwargs)


@BACKBONES.register("resnet34")
def resnet34(**kwargs: Any) -> ResNet:
    """ResNet-34 (basic blocks, 3-4-6-3)."""
    return ResNet(34, **kwargs)


@BACKBONES.register("resnet50")
def resnet50(**kwargs: Any) -> ResNet:
    """ResNet-50 (bottleneck blocks, 3-4-6-3)."""
    return ResNet(50, **kwargs)
