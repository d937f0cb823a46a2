"""Hand-crafted feature branches: Sobel edges and an SVD low-rank / sparse split of a feature map.

- Sobel edges (I. Sobel, G. Feldman, "A 3x3 isotropic gradient operator", 1968), computed with
  ``kornia.filters.spatial_gradient``; edge cues help small-target and restoration models keep
  thin structures.
- Low-rank branch: the infrared patch-image model (C. Gao, D. Meng, Y. Yang, Y. Wang, X. Zhou,
  A. Hauptmann, "Infrared Patch-Image Model for Small Target Detection in a Single Image", IEEE TIP
  2013) treats the background as low-rank and small targets as sparse. Here the (C, H*W) matrix of
  each feature map is projected on its top-``rank`` left singular vectors (Eckart-Young best
  rank-k approximation); the residual is the sparse part.
"""

from __future__ import annotations

import kornia
import torch
from torch import nn

from toolkit.modules.layers import ConvNormAct

__all__ = ["SobelEdge", "LowRankBranch", "low_rank_approx"]


class SobelEdge(nn.Module):
    """Per-channel Sobel gradients, as magnitude or (dx, dy) pairs, optionally projected by conv-norm-act.

    Args:
        in_channels: input channels C.
        out_channels: channels of a 1x1 conv-norm-act projection; ``None`` returns the raw features.
        mode: ``magnitude`` (C maps of ``sqrt(dx^2 + dy^2)``) or ``gradient`` (2C maps, dx and dy
            of each channel interleaved).
        normalized: divide the Sobel kernels by their L1 norm (8), as kornia does by default.
        norm_layer: norm of the projection.
        act_layer: activation of the projection.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, out_channels or C or 2C, H, W)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        *,
        mode: str = "magnitude",
        normalized: bool = True,
        norm_layer: str | None = "bn",
        act_layer: str = "relu",
    ):
        super().__init__()
        if mode not in ("magnitude", "gradient"):
            raise ValueError(f"SobelEdge: mode must be 'magnitude' or 'gradient', got {mode!r}")
        self.mode = mode
        self.normalized = normalized
        raw = in_channels if mode == "magnitude" else 2 * in_channels
        self.out_channels = out_channels or raw
        self.proj = (
            ConvNormAct(raw, out_channels, 1, norm_layer=norm_layer, act_layer=act_layer)
            if out_channels is not None
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        grad = kornia.filters.spatial_gradient(x, mode="sobel", order=1, normalized=self.normalized)  # (B, C, 2, H, W)
        if self.mode == "magnitude":
            # eps keeps the gradient of sqrt finite on flat regions
            feats = torch.sqrt(grad.pow(2).sum(dim=2) + 1e-6)  # (B, C, H, W)
        else:
            feats = grad.reshape(b, 2 * c, h, w)  # (B, 2C, H, W): dx_0, dy_0, dx_1, dy_1, ...
        return self.proj(feats)


def low_rank_approx(x: torch.Tensor, rank: int) -> torch.Tensor:
    """Best rank-``rank`` approximation of each sample's (C, H*W) matrix, ``U_k U_k^T X``.

    NOTE: the basis ``U_k`` is computed without gradient (it is treated as a constant in the
    backward pass): the exact SVD gradient has terms ``1 / (s_i^2 - s_j^2)`` that explode when
    singular values nearly coincide, which they do on flat or zero feature maps. The projection
    itself stays differentiable in ``x``. The SVD runs in float32 because it has no bf16 kernel.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """
    b, c, h, w = x.shape
    mat = x.reshape(b, c, h * w)  # (B, C, N)
    k = min(rank, c, h * w)
    with torch.no_grad():
        u, _, _ = torch.linalg.svd(mat.float(), full_matrices=False)  # (B, C, min(C, N))
        u = u[:, :, :k].to(x.dtype)  # (B, C, k)
    return (u @ (u.transpose(1, 2) @ mat)).reshape(b, c, h, w)  # (B, C, H, W)


class LowRankBranch(nn.Module):
    """Split features into a low-rank (background-like) and a sparse (target-like) part.

    Args:
        channels: input channels C.
        rank: number of singular directions kept.
        mode: ``lowrank`` returns the rank-k part, ``sparse`` the residual ``x - lowrank``, ``both``
            both concatenated (2C channels) before the optional projection.
        out_channels: channels of a 1x1 conv-norm-act projection; ``None`` returns the raw part(s).
        norm_layer: norm of the projection.
        act_layer: activation of the projection.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, out_channels or C or 2C, H, W)
    """

    def __init__(
        self,
        channels: int,
        *,
        rank: int = 4,
        mode: str = "sparse",
        out_channels: int | None = None,
        norm_layer: str | None = "bn",
        act_layer: str = "relu",
    ):
        super().__init__()
        if mode not in ("lowrank", "sparse", "both"):
            raise ValueError(f"LowRankBranch: mode must be 'lowrank', 'sparse' or 'both', got {mode!r}")
        if rank < 1:
            raise ValueError(f"LowRankBranch: rank must be >= 1, got {rank}")
        self.rank = rank
        self.mode = mode
        raw = 2 * channels if mode == "both" else channels
        self.out_channels = out_channels or raw
        self.proj = (
            ConvNormAct(raw, out_channels, 1, norm_layer=norm_layer, act_layer=act_layer)
            if out_channels is not None
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = low_rank_approx(x, self.rank)
        if self.mode == "lowrank":
            feats = low
        elif self.mode == "sparse":
            feats = x - low
        else:
            feats = torch.cat([low, x - low], dim=1)  # (B, 2C, H, W)
        return self.proj(feats)
