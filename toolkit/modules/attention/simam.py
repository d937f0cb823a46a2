"""SimAM: a parameter-free attention derived from an energy function of each neuron.

L. Yang, R.-Y. Zhang, L. Li, X. Xie, "SimAM: A Simple, Parameter-Free Attention Module for
Convolutional Neural Networks", ICML 2021.

For a neuron t of a channel with mean mu and variance sigma^2 over the other M - 1 = H*W - 1
neurons, the minimal energy is ``e_t = 4 (sigma^2 + lambda) / ((t - mu)^2 + 2 sigma^2 + 2 lambda)``
(Eq. 4), and the block outputs ``x * sigmoid(1 / e)`` (Eq. 5), lambda = 1e-4.
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.registry import ATTENTION

__all__ = ["SimAM"]


@ATTENTION.register("simam")
class SimAM(nn.Module):
    """Parameter-free 3-D (channel and spatial) re-weighting by each neuron's inverse energy.

    Args:
        channels: number of channels C (unused; kept for the registry contract).
        eps: the regulariser lambda of Eq. 4 (paper: 1e-4).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "SimAM: A Simple, Parameter-Free Attention Module (Yang et al., ICML 2021)"

    def __init__(self, channels: int, *, eps: float = 1e-4):
        super().__init__()
        self.channels = channels
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: the paper divides by M - 1 = H*W - 1, which is zero for a 1x1 map; we divide by
        # max(H*W - 1, 1) so that a 1x1 input gives sigma^2 = 0 instead of 0 / 0.
        n = max(x.shape[2] * x.shape[3] - 1, 1)
        d = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)  # (B, C, H, W)
        var = d.sum(dim=(2, 3), keepdim=True) / n  # (B, C, 1, 1)
        inv_energy = d / (4 * (var + self.eps)) + 0.5
        return x * torch.sigmoid(inv_energy)
