"""Multi-Dconv head transposed attention (MDTA).

S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, "Restormer: Efficient
Transformer for High-Resolution Image Restoration", CVPR 2022, Sec. 3.1.

Queries, keys and values come from a 1x1 convolution followed by a depthwise 3x3 convolution.
Attention is computed across channels rather than pixels: per head, the (C/h) x (C/h) map
``softmax(q k^T * t)`` of L2-normalised q and k with a learned temperature ``t``. Its cost is
linear in the number of pixels, so it runs on full-resolution images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.registry import ATTENTION

__all__ = ["MDTA"]


@ATTENTION.register("mdta")
class MDTA(nn.Module):
    """Transposed (channel-wise) self-attention with depthwise-convolutional projections.

    Parameters: ``3C^2`` (qkv 1x1) + ``27C`` (depthwise 3x3) + ``C^2`` (output 1x1) + one
    temperature per head, plus ``7C`` biases when ``bias`` is True.

    Args:
        channels: number of input (and output) channels C.
        num_heads: attention heads; must divide C.
        bias: biases in the convolutions (Restormer: False).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "Restormer: Efficient Transformer for High-Resolution Image Restoration (Zamir et al., CVPR 2022)"

    def __init__(self, channels: int, *, num_heads: int = 1, bias: bool = False):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"mdta: num_heads={num_heads} must divide channels={channels}")
        self.channels = channels
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(channels, channels * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(channels * 3, channels * 3, 3, padding=1, groups=channels * 3, bias=bias)
        self.project_out = nn.Conv2d(channels, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)  # each (B, C, H, W)
        q = q.reshape(b, self.num_heads, c // self.num_heads, h * w)  # (B, heads, C/heads, HW)
        k = k.reshape(b, self.num_heads, c // self.num_heads, h * w)  # (B, heads, C/heads, HW)
        v = v.reshape(b, self.num_heads, c // self.num_heads, h * w)  # (B, heads, C/heads, HW)
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1)) * self.temperature  # (B, heads, C/heads, C/heads)
        out = attn.softmax(dim=-1) @ v  # (B, heads, C/heads, HW)
        return self.project_out(out.reshape(b, c, h, w))  # (B, C, H, W)
