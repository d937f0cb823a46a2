"""Channel attention from global pooling: squeeze-and-excitation and efficient channel attention.

- SE: J. Hu, L. Shen, G. Sun, "Squeeze-and-Excitation Networks", CVPR 2018.
- ECA: Q. Wang, B. Wu, P. Zhu, P. Li, W. Zuo, Q. Hu, "ECA-Net: Efficient Channel Attention for Deep
  Convolutional Neural Networks", CVPR 2020.

Both squeeze the spatial axes by global average pooling, turn the (B, C) descriptor into one gate
per channel and multiply the input by it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from toolkit.modules.layers import make_act
from toolkit.registry import ATTENTION

__all__ = ["SqueezeExcitation", "EfficientChannelAttention", "eca_kernel_size"]


@ATTENTION.register("se")
class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation: ``x * sigmoid(W2 act(W1 avgpool(x)))``.

    ``W1`` maps C -> C / r and ``W2`` maps C / r -> C (1x1 convolutions with biases), so the block
    holds ``2 C^2 / r`` weights plus ``C / r + C`` biases, as in the paper (Sec. 3.2, r = 16).

    Args:
        channels: number of input (and output) channels C.
        reduction: bottleneck ratio r.
        min_channels: lower bound of the bottleneck width (C // r is used when larger).
        act_layer: activation between the two projections (paper: ``relu``).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "Squeeze-and-Excitation Networks (Hu et al., CVPR 2018)"

    def __init__(self, channels: int, *, reduction: int = 16, min_channels: int = 1, act_layer: str = "relu"):
        super().__init__()
        self.channels = channels
        hidden = max(min_channels, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = make_act(act_layer)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        gate = torch.sigmoid(self.fc2(self.act(self.fc1(s))))  # (B, C, 1, 1)
        return x * gate


def eca_kernel_size(channels: int, gamma: float = 2.0, b: float = 1.0) -> int:
    """ECA's adaptive kernel size ``k = |log2(C) / gamma + b / gamma|_odd`` (paper Eq. 12).

    ``|t|_odd`` is the odd number nearest to ``t``; at an exact even ``t`` (a tie) the larger odd
    number is taken, which agrees with the authors' released setting (C = 128 gives k = 5).
    """
    t = abs(math.log2(channels) / gamma + b / gamma)
    k = int(t)  # the nearest odd number to t is int(t) when that is odd, int(t) + 1 otherwise
    return k if k % 2 == 1 else k + 1


@ATTENTION.register("eca")
class EfficientChannelAttention(nn.Module):
    """Efficient channel attention: a 1-D convolution of size k across the pooled channel descriptor.

    No dimensionality reduction; the block holds exactly ``k`` weights (no bias), with ``k`` chosen
    from C by :func:`eca_kernel_size` unless ``kernel_size`` is given.

    Args:
        channels: number of input (and output) channels C.
        kernel_size: odd 1-D kernel size; ``None`` picks the paper's adaptive size.
        gamma: the paper's gamma (2).
        b: the paper's b (1).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "ECA-Net: Efficient Channel Attention (Wang et al., CVPR 2020)"

    def __init__(self, channels: int, *, kernel_size: int | None = None, gamma: float = 2.0, b: float = 1.0):
        super().__init__()
        self.channels = channels
        k = eca_kernel_size(channels, gamma, b) if kernel_size is None else kernel_size
        if k % 2 == 0:
            raise ValueError(f"eca: kernel_size must be odd, got {k}")
        self.kernel_size = k
        self.conv = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3))  # (B, C)
        s = self.conv(s.unsqueeze(1))  # (B, 1, C)
        gate = torch.sigmoid(s).squeeze(1)[:, :, None, None]  # (B, C, 1, 1)
        return x * gate
