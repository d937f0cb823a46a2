"""Dual attention: DANet's position attention module (PAM) and channel attention module (CAM), summed.

J. Fu, J. Liu, H. Tian, Y. Li, Y. Bao, Z. Fang, H. Lu, "Dual Attention Network for Scene
Segmentation", CVPR 2019.

PAM (Sec. 3.2): ``s_ji = softmax_i(B_i . C_j)`` over positions with 1x1 projections B, C of width
C / 8 and D of width C; ``E_j = alpha sum_i s_ji D_i (+ A_j)``.
CAM (Sec. 3.3): ``x_ji = softmax_i(A_i . A_j)`` over channels; ``E_j = beta sum_i x_ji A_i (+ A_j)``.
The two outputs are summed (Sec. 3.4).
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.registry import ATTENTION

__all__ = ["PositionAttention", "ChannelSelfAttention", "DualAttention"]

# NOTE: DANet adds the input to each module's output, with alpha and beta initialised to zero so
# that both modules start as the identity. The attention contract leaves residuals to the host,
# so these modules return ``alpha * aggregated`` only; with no residual, a zero scale would make
# the output (and the gradients of everything before the scale) zero, so alpha and beta start at 1.


class PositionAttention(nn.Module):
    """DANet's PAM without its residual: every position aggregates the values of all positions.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(self, channels: int, *, reduction: int = 8):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.query = nn.Conv2d(channels, hidden, 1)
        self.key = nn.Conv2d(channels, hidden, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.alpha = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (B, N, C')
        k = self.key(x).flatten(2)  # (B, C', N)
        v = self.value(x).flatten(2)  # (B, C, N)
        attn = torch.softmax(torch.bmm(q, k), dim=-1)  # (B, N, N), row j sums to 1 over positions i
        out = torch.bmm(v, attn.transpose(1, 2))  # (B, C, N)
        return self.alpha * out.reshape(b, c, h, w)  # (B, C, H, W)


class ChannelSelfAttention(nn.Module):
    """DANet's CAM without its residual: every channel aggregates all channels by their Gram similarity.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(self, channels: int):
        super().__init__()
        self.beta = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        a = x.flatten(2)  # (B, C, N)
        energy = torch.bmm(a, a.transpose(1, 2))  # (B, C, C)
        # NOTE: the paper's softmax of raw Gram entries (no max-subtraction variant of the authors'
        # release); it is computed in float32 because the entries grow with H*W and bf16 would
        # round them coarsely.
        attn = torch.softmax(energy.float(), dim=-1).to(a.dtype)  # (B, C, C)
        out = torch.bmm(attn, a)  # (B, C, N)
        return self.beta * out.reshape(b, c, h, w)  # (B, C, H, W)


@ATTENTION.register("danet")
class DualAttention(nn.Module):
    """PAM + CAM, each without its residual (see the module NOTE), summed.

    Args:
        channels: number of input (and output) channels C.
        reduction: width ratio of PAM's query and key projections (paper: 8).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "Dual Attention Network for Scene Segmentation (Fu et al., CVPR 2019)"

    def __init__(self, channels: int, *, reduction: int = 8):
        super().__init__()
        self.channels = channels
        self.pam = PositionAttention(channels, reduction=reduction)
        self.cam = ChannelSelfAttention(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pam(x) + self.cam(x)
