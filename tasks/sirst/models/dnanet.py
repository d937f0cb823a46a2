"""DNANet: dense nested attention network for infrared small targets.

B. Li, C. Xiao, L. Wang, Y. Wang, Z. Lin, M. Li, W. An, Y. Guo, "Dense Nested Attention Network for
Infrared Small Target Detection", IEEE TIP 32, 2023 (arXiv 2106.00487).

- Dense nested interactive module (DNIM): a UNet++-style grid of nodes X(i, j) (level i, column j).
  Node X(i, 0) is the encoder; for j >= 1 node X(i, j) fuses every earlier node of its level, the
  up-sampled node X(i+1, j-1) below it and, for i >= 1, the down-sampled node X(i-1, j) above it.
- Channel and spatial attention (CSAM): every node is a stack of residual blocks whose residual branch
  is re-weighted by channel then spatial attention; here that slot is the ``attn`` config field.
- Feature pyramid fusion: the last node of every level is projected to ``channels[0]`` by a 1x1
  convolution, up-sampled to full size, concatenated and fused by one more block.
- Deep supervision: a 1x1 head on X(0, 1), ..., X(0, L-2) and on the fused map; training returns all of
  them (a list of logits), evaluation only the fused one.

The standard setting (channels 16-256, two blocks per level, 3 input channels) has 4.70M parameters in
the paper's comparison tables; ``tests/tasks/sirst/test_sirst_models.py`` pins the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from tasks.sirst.models.blocks import check_input, make_stage, resize_to
from toolkit.registry import MODELS

__all__ = ["DNANet"]

# DNANet's released block uses CBAM without biases in the attention convolutions: the shared 'cbam'
# entry with bias=False is that block (4,696,888 parameters at the paper setting, tested).
_PAPER_ATTN = {"type": "cbam", "reduction": 16, "spatial_kernel": 7, "bias": False}


@MODELS.register("dnanet")
class DNANet(nn.Module):
    """Dense nested U-shaped network with attention blocks and deep supervision.

    Args:
        in_channels: image channels (filled in by the task: 1 for grey, 3 for RGB input).
        num_classes: output maps (1 for target / background logits).
        channels: widths of the L levels (paper: 16, 32, 64, 128, 256).
        num_blocks: residual blocks per node on levels 1..L-1 (paper: 2, 2, 2, 2); level 0 nodes have one.
        attn: attention re-weighting inside every residual block (paper: channel + spatial, ``cbam``).
        deep_supervision: return one logit map per supervised node in training.
        bias: give the convolutions of the blocks a bias, as the released code does.

    Shape:
        - Input: (B, in_channels, H, W), any H, W (multiples of 2^(L-1) avoid border effects)
        - Output: logits (B, num_classes, H, W); in training with deep supervision a list of L - 1 of them,
          the fused map last
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        num_blocks: Sequence[int] = (2, 2, 2, 2),
        attn: Any = _PAPER_ATTN,
        deep_supervision: bool = True,
        bias: bool = True,
    ):
        super().__init__()
        channels, num_blocks = list(channels), list(num_blocks)
        if len(num_blocks) != len(channels) - 1 or len(channels) < 3:
            raise ValueError(
                f"DNANet needs >= 3 levels and len(num_blocks) == len(channels) - 1, got {channels}, {num_blocks}"
            )
        self.in_channels = in_channels
        self.levels = levels = len(channels)
        self.deep_supervision = deep_supervision
        kw = dict(attn=attn, bias=bias)
        self.pool = nn.MaxPool2d(2, 2)

        def blocks(level: int) -> int:
            return 1 if level == 0 else num_blocks[level - 1]

        nodes: dict[str, nn.Module] = {"0_0": make_stage(in_channels, channels[0], 1, **kw)}
        for i in range(1, levels):
            nodes[f"{i}_0"] = make_stage(channels[i - 1], channels[i], blocks(i), **kw)
        for j in range(1, levels):
            for i in range(levels - j):
                cin = j * channels[i] + channels[i + 1] + (channels[i - 1] if i > 0 else 0)
                nodes[f"{i}_{j}"] = make_stage(cin, channels[i], blocks(i), **kw)
        self.nodes = nn.ModuleDict(nodes)
        # feature pyramid fusion of the last node of every level
        self.project = nn.ModuleList(nn.Conv2d(channels[i], channels[0], 1) for i in range(1, levels))
        self.fuse = make_stage(levels * channels[0], channels[0], 1, **kw)
        n_heads = levels - 1 if deep_supervision else 1
        self.heads = nn.ModuleList(nn.Conv2d(channels[0], num_classes, 1) for _ in range(n_heads))

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        check_input(self, x, self.in_channels)
        L = self.levels
        X: dict[tuple[int, int], torch.Tensor] = {(0, 0): self.nodes["0_0"](x)}
        # nodes on the anti-diagonal d = i + j only need nodes of diagonals < d
        for d in range(1, L):
            X[(d, 0)] = self.nodes[f"{d}_0"](self.pool(X[(d - 1, 0)]))
            for i in range(d - 1, -1, -1):
                j = d - i
                ref = X[(i, 0)]
                parts = [X[(i, k)] for k in range(j)] + [resize_to(X[(i + 1, j - 1)], ref)]
                if i > 0:
                    parts.append(resize_to(X[(i - 1, j)], ref))  # bilinear down-sampling, as the paper
                X[(i, j)] = self.nodes[f"{i}_{j}"](torch.cat(parts, dim=1))  # (B, sum of parts, H_i, W_i)
        top = X[(0, 0)]
        pyramid = [resize_to(self.project[i - 1](X[(i, L - 1 - i)]), top) for i in range(L - 1, 0, -1)]
        fused = self.fuse(torch.cat(pyramid + [X[(0, L - 1)]], dim=1))  # (B, L*C0, H, W) -> (B, C0, H, W)
        if not (self.deep_supervision and self.training):
            return self.heads[-1](fused)
        side = [self.heads[j - 1](X[(0, j)]) for j in range(1, L - 1)]
        return side + [self.heads[-1](fused)]
