"""Large-kernel attention (LKA) of the Visual Attention Network.

M.-H. Guo, C.-Z. Lu, Z.-N. Liu, M.-M. Cheng, S.-M. Hu, "Visual Attention Network", CVMJ 2023
(arXiv 2202.09741, 2022).

A 21x21 convolution decomposed into a 5x5 depthwise conv, a 7x7 depthwise conv with dilation 3 and
a 1x1 conv (Eq. 2-3: ``Attention = Conv1x1(DW-D-Conv(DW-Conv(F)))``, ``Output = Attention * F``).
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.registry import ATTENTION

__all__ = ["LargeKernelAttention"]


@ATTENTION.register("lka")
class LargeKernelAttention(nn.Module):
    """LKA: depthwise k1 x k1, depthwise dilated k2 x k2, pointwise; the result multiplies the input.

    The paper presents this as a decomposed 21x21 convolution (K = 21, d = 3); the exact support is
    ``(k1 - 1) + d (k2 - 1) + 1 = 23`` pixels across with the paper's 5, 7, d = 3.

    Args:
        channels: number of input (and output) channels C.
        kernel_size: size of the plain depthwise conv (paper: 5).
        dilated_kernel_size: size of the dilated depthwise conv (paper: 7).
        dilation: its dilation (paper: 3).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "Visual Attention Network (Guo et al., 2022)"

    def __init__(self, channels: int, *, kernel_size: int = 5, dilated_kernel_size: int = 7, dilation: int = 3):
        super().__init__()
        if kernel_size % 2 == 0 or dilated_kernel_size % 2 == 0:
            raise ValueError(f"lka: kernel sizes must be odd, got {kernel_size} and {dilated_kernel_size}")
        self.channels = channels
        self.dw = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        pad = dilation * (dilated_kernel_size - 1) // 2
        self.dw_dilated = nn.Conv2d(
            channels, channels, dilated_kernel_size, padding=pad, dilation=dilation, groups=channels
        )
        self.pw = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.pw(self.dw_dilated(self.dw(x)))
