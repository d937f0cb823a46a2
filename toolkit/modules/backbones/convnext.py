"""ConvNeXt feature extractor (small by default; the paper's ConvNeXt-T as ``convnext_tiny``).

Z. Liu, H. Mao, C.-Y. Wu, C. Feichtenhofer, T. Darrell, S. Xie, "A ConvNet for the 2020s", CVPR 2022.
Patchify stem (4x4 conv, stride 4, LayerNorm), four stages of ConvNeXt blocks separated by
LayerNorm + 2x2 stride-2 convs. ConvNeXt-T: depths 3-3-9-3, widths 96-192-384-768, 28.59M
parameters with its ImageNet head (final LayerNorm + 1000-way linear, 770,536 of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from toolkit.errors import ConfigError
from toolkit.modules.backbones.base import _check_input, stage_values
from toolkit.modules.blocks import ConvNeXtBlock
from toolkit.modules.layers import LayerNorm2d
from toolkit.registry import BACKBONES

__all__ = ["ConvNeXt", "convnext_tiny"]


@BACKBONES.register("convnext")
class ConvNeXt(nn.Module):
    """ConvNeXt stages; returns the four stage outputs.

    Args:
        in_channels: input image channels.
        depths: blocks per stage.
        channels: width of each stage (a list, one per stage).
        patch_size: stem patch size and stride (paper: 4; 1 or 2 keep more resolution for small inputs).
        attn: attention spec for every block, or a list with one per stage.
        drop_path: largest stochastic-depth probability, reached linearly at the last block.
        layer_scale_init: initial layer-scale value (paper: 1e-6).

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: list of tensors (B, channels[i], H / strides[i], W / strides[i]) (floor division)
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        depths: Sequence[int] = (2, 2, 6, 2),
        channels: Sequence[int] = (32, 64, 128, 256),
        patch_size: int = 4,
        attn: Any = None,
        drop_path: float = 0.0,
        layer_scale_init: float = 1e-6,
    ):
        super().__init__()
        if len(depths) != len(channels):
            raise ConfigError(f"convnext: depths {list(depths)} and channels {list(channels)} differ in length")
        self.in_channels = in_channels
        attns = stage_values(attn, len(depths), "convnext.attn")
        total = sum(depths)
        rates = [drop_path * i / max(total - 1, 1) for i in range(total)]
        self.downsamples = nn.ModuleList()
        self.stages = nn.ModuleList()
        self.out_channels, self.strides = list(channels), []
        idx = 0
        for i, (n, width) in enumerate(zip(depths, channels)):
            if i == 0:
                down = nn.Sequential(nn.Conv2d(in_channels, width, patch_size, stride=patch_size), LayerNorm2d(width))
            else:
                down = nn.Sequential(LayerNorm2d(channels[i - 1]), nn.Conv2d(channels[i - 1], width, 2, stride=2))
            self.downsamples.append(down)
            self.stages.append(
                nn.Sequential(
                    *(
                        ConvNeXtBlock(width, attn=attns[i], drop_path=rates[idx + j], layer_scale_init=layer_scale_init)
                        for j in range(n)
                    )
                )
            )
            idx += n
            self.strides.append(patch_size * 2**i)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_input(x.shape, self.in_channels, "convnext")
        feats = []
        for down, stage in zip(self.downsamples, self.stages):
            x = stage(down(x))
            feats.append(x)
        return feats


@BACKBONES.register("convnext_tiny")
def convnext_tiny(**kwargs: Any) -> ConvNeXt:
    """ConvNeXt-T: depths 3-3-9-3, widths 96-192-384-768."""
    return ConvNeXt(depths=(3, 3, 9, 3), channels=(96, 192, 384, 768), **kwargs)
