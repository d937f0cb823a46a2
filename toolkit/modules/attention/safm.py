"""Spatially-adaptive feature modulation (SAFM).

L. Sun, J. Dong, J. Tang, J. Pan, "Spatially-Adaptive Feature Modulation for Efficient Image
Super-Resolution", ICCV 2023, Sec. 3.2.

The channels are split into ``levels`` groups. The first group goes through a depthwise 3x3
convolution at full resolution; group ``i > 0`` is adaptively max-pooled to ``1 / 2^i`` of the
input size, filtered by a depthwise 3x3 convolution and up-sampled back with nearest
interpolation. The groups are concatenated, mixed by a 1x1 convolution and passed through GELU,
and the result modulates the input element-wise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.modules.layers import make_act
from toolkit.registry import ATTENTION

__all__ = ["SAFM"]


@ATTENTION.register("safm")
class SAFM(nn.Module):
    """Multi-scale spatial modulation ``x * act(W_1x1 [dw_0(x_0), up(dw_1(pool_2(x_1))), ...])``.

    With C = 36 and 4 levels the block holds 4 x (9 x 9 + 9) depthwise weights and biases plus
    36 x 36 + 36 for the aggregation: 1,692 parameters, as in the paper's SAFMN.

    Args:
        channels: number of input (and output) channels C.
        levels: number of channel groups / pyramid levels (paper: 4).
        act_layer: activation of the modulation map (paper: ``gelu``).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "Spatially-Adaptive Feature Modulation for Efficient Image Super-Resolution (Sun et al., ICCV 2023)"

    def __init__(self, channels: int, *, levels: int = 4, act_layer: str = "gelu"):
        super().__init__()
        self.channels = channels
        # NOTE: the paper assumes C divisible by the level count; other widths give the first
        # groups one channel more, and fewer channels than levels use fewer levels.
        levels = max(1, min(levels, channels))
        base, extra = divmod(channels, levels)
        self.splits = [base + (1 if i < extra else 0) for i in range(levels)]
        self.mfr = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1, groups=c) for c in self.splits)
        self.aggr = nn.Conv2d(channels, channels, 1)
        self.act = make_act(act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        out = []
        for i, (xi, conv) in enumerate(zip(torch.split(x, self.splits, dim=1), self.mfr)):
            if i == 0:
                out.append(conv(xi))
                continue
            # NOTE: the paper pools to (H // 2^i, W // 2^i); clamping at 1 keeps tiny inputs
            # (down to 1x1) valid and changes nothing once H, W >= 2^i.
            size = (max(1, h // 2**i), max(1, w // 2**i))
            s = conv(F.adaptive_max_pool2d(xi, size))  # (B, C_i, H / 2^i, W / 2^i)
            out.append(F.interpolate(s, size=(h, w), mode="nearest"))  # (B, C_i, H, W)
        return self.act(self.aggr(torch.cat(out, dim=1))) * x
