"""Non-local block, embedded-Gaussian form, with optional max-pool sub-sampling of keys and values.

X. Wang, R. Girshick, A. Gupta, K. He, "Non-local Neural Networks", CVPR 2018.

``y_i = sum_j softmax_j(theta(x_i)^T phi(x_j)) g(x_j)`` (Eqs. 1-3) with 1x1 convolutions theta, phi,
g of width C / 2, then ``W_z y`` maps back to C channels. Sub-sampling (Sec. 3.3) max-pools the
phi and g paths by 2, cutting the pairwise cost by 4.

Registered as ``nonlocal`` (the file is ``non_local.py`` because ``nonlocal`` is a Python keyword).
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.registry import ATTENTION

__all__ = ["NonLocal"]


@ATTENTION.register("nonlocal")
class NonLocal(nn.Module):
    """Embedded-Gaussian non-local operation ``W_z softmax(theta^T phi) g``.

    NOTE: the paper's block is ``z = W_z y + x`` with ``W_z`` (and its BN) initialised to zero so
    that the block starts as the identity. The attention contract leaves residuals to the host, so
    this module returns ``W_z y`` alone (like Restormer's ``mdta``), keeps PyTorch's default
    initialisation of ``W_z`` (a zero-initialised output would silence hosts that use the result
    in place of their features) and has no BN (which cannot train at batch 1 on a 1x1 map).

    Args:
        channels: number of input (and output) channels C.
        reduction: width ratio of theta, phi and g (paper: 2, i.e. C / 2).
        sub_sample: max-pool phi and g by 2 (``ceil_mode``, so odd and 1x1 maps work).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "Non-local Neural Networks (Wang et al., CVPR 2018)"

    def __init__(self, channels: int, *, reduction: int = 2, sub_sample: bool = True):
        super().__init__()
        self.channels = channels
        hidden = max(1, channels // reduction)
        self.theta = nn.Conv2d(channels, hidden, 1)
        self.phi = nn.Conv2d(channels, hidden, 1)
        self.g = nn.Conv2d(channels, hidden, 1)
        self.pool = nn.MaxPool2d(2, ceil_mode=True) if sub_sample else nn.Identity()
        self.out = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q = self.theta(x).flatten(2).transpose(1, 2)  # (B, HW, C')
        k = self.pool(self.phi(x)).flatten(2)  # (B, C', N)
        v = self.pool(self.g(x)).flatten(2).transpose(1, 2)  # (B, N, C')
        attn = torch.softmax(torch.bmm(q, k), dim=-1)  # (B, HW, N)
        y = torch.bmm(attn, v)  # (B, HW, C')
        y = y.transpose(1, 2).reshape(b, -1, h, w)  # (B, C', H, W)
        return self.out(y)
