"""Swin-style (shifted) window self-attention block and patch merging, on channels-first feature maps.

Z. Liu, Y. Lin, Y. Cao, H. Hu, Y. Wei, Z. Zhang, S. Lin, B. Guo, "Swin Transformer: Hierarchical
Vision Transformer using Shifted Windows", ICCV 2021.

Multi-head self-attention inside non-overlapping M x M windows with a learned relative position
bias ``B`` indexed by the (2M - 1)^2 relative offsets (Eq. 4); every second block shifts the
windows by M / 2 with a cyclic roll and masks pairs of tokens that were not neighbours before the
roll (Sec. 3.2). Patch merging concatenates each 2 x 2 neighbourhood (4C), normalises it and maps
it linearly to 2C.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.modules.layers import DropPath

__all__ = ["WindowAttention", "SwinBlock", "PatchMerging"]

# NOTE: Swin works on (B, H*W, C) token sequences; these modules take and return (B, C, H, W) so
# they drop into the convolutional hosts of this toolkit, and pad H, W up to multiples of the
# window instead of requiring divisible sizes. Unlike the reference, padded tokens are masked
# out as keys, so the output at real positions does not depend on the amount of padding.

_MASKED = -100.0  # added to masked logits; exp(-100) is 0 in float32 and bf16 alike


def _relative_position_index(window: int) -> torch.Tensor:
    """(M*M, M*M) index into the (2M-1)^2 bias table for every pair of positions in a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :] + (window - 1)  # (2, M*M, M*M), offsets shifted to >= 0
    return rel[0] * (2 * window - 1) + rel[1]


class WindowAttention(nn.Module):
    """Multi-head self-attention over the tokens of each window, with relative position bias.

    Args:
        channels: token width C.
        num_heads: attention heads (C must be divisible by it).
        window_size: window side M.
        qkv_bias: learn biases in the query / key / value projection.

    Shape:
        - Input: (B*nW, M*M, C) windows of tokens; optional mask (nW, M*M, M*M) of 0 / -100
        - Output: (B*nW, M*M, C)
    """

    def __init__(self, channels: int, num_heads: int, window_size: int, *, qkv_bias: bool = True):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"WindowAttention: channels {channels} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.window_size = window_size
        self.scale = (channels // num_heads) ** -0.5
        self.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.proj = nn.Linear(channels, channels)
        self.bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", _relative_position_index(window_size), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B*nW, heads, N, C/heads) each
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B*nW, heads, N, N)
        bias = self.bias_table[self.bias_index.flatten()].reshape(n, n, -1).permute(2, 0, 1)  # (heads, N, N)
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.reshape(bw // nw, nw, self.num_heads, n, n) + mask[None, :, None]  # (B, nW, heads, N, N)
            attn = attn.reshape(bw, self.num_heads, n, n)
        attn = attn.softmax(dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(bw, n, c)  # (B*nW, N, C)
        return self.proj(y)


def _window_partition(x: torch.Tensor, m: int) -> torch.Tensor:
    b, h, w, c = x.shape
    x = x.reshape(b, h // m, m, w // m, m, c)  # (B, H/M, M, W/M, M, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, m * m, c)  # (B*nW, M*M, C)


def _window_reverse(windows: torch.Tensor, m: int, b: int, h: int, w: int) -> torch.Tensor:
    x = windows.reshape(b, h // m, w // m, m, m, -1)  # (B, H/M, W/M, M, M, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, -1)  # (B, H, W, C)


class SwinBlock(nn.Module):
    """Swin Transformer block: LN, (shifted) window attention, residual; LN, MLP, residual.

    Args:
        channels: feature channels C.
        num_heads: attention heads.
        window_size: window side M.
        shift: shift the windows by M // 2 (use ``True`` on every second block).
        mlp_ratio: hidden width of the MLP relative to C (paper: 4).
        qkv_bias: learn biases in the query / key / value projection.
        drop_path: stochastic-depth probability of both residual branches.

    Shape:
        - Input: (B, C, H, W), any H, W (padded internally to multiples of M)
        - Output: (B, C, H, W)
    """

    def __init__(
        self,
        channels: int,
        num_heads: int,
        *,
        window_size: int = 7,
        shift: bool = False,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.norm1 = nn.LayerNorm(channels)
        self.attn = WindowAttention(channels, num_heads, window_size, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(channels)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(), nn.Linear(hidden, channels))
        self.drop_path = DropPath(drop_path)

    def _mask(self, h: int, w: int, hp: int, wp: int, device: torch.device) -> torch.Tensor | None:
        """(nW, M*M, M*M) additive mask for the shifted and/or padded window layout, or None."""
        m, s = self.window_size, self.shift_size
        if s == 0 and hp == h and wp == w:
            return None
        # label every position of the (rolled) padded map by its region; tokens attend only within a label
        region = torch.zeros(hp, wp, device=device)
        if s > 0:
            bands = (slice(0, hp - m), slice(hp - m, hp - s), slice(hp - s, hp))
            cols = (slice(0, wp - m), slice(wp - m, wp - s), slice(wp - s, wp))
            for i, rs in enumerate(bands):
                for j, cs in enumerate(cols):
                    region[rs, cs] = 3 * i + j
        pad = torch.zeros(hp, wp, device=device)
        pad[h:, :] = 1.0
        pad[:, w:] = 1.0
        if s > 0:
            pad = torch.roll(pad, shifts=(-s, -s), dims=(0, 1))  # into the rolled frame
        label = region + 9.0 * pad  # padded positions get labels of their own
        windows = _window_partition(label[None, :, :, None], m).squeeze(-1)  # (nW, M*M)
        diff = windows[:, :, None] != windows[:, None, :]  # (nW, M*M, M*M)
        return diff.float() * _MASKED

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        m, s = self.window_size, self.shift_size
        t = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        y = self.norm1(t)
        pad_h, pad_w = (m - h % m) % m, (m - w % m) % m
        y = F.pad(y, (0, 0, 0, pad_w, 0, pad_h))  # (B, Hp, Wp, C)
        hp, wp = h + pad_h, w + pad_w
        if s > 0:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        mask = self._mask(h, w, hp, wp, x.device)
        y = self.attn(_window_partition(y, m), None if mask is None else mask.to(y.dtype))  # (B*nW, M*M, C)
        y = _window_reverse(y, m, b, hp, wp)  # (B, Hp, Wp, C)
        if s > 0:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        t = t + self.drop_path(y[:, :h, :w])
        t = t + self.drop_path(self.mlp(self.norm2(t)))
        return t.permute(0, 3, 1, 2)  # (B, C, H, W)


class PatchMerging(nn.Module):
    """Halve the resolution: concatenate each 2 x 2 neighbourhood, LayerNorm, linear 4C -> out_channels.

    Odd sizes are zero-padded on the bottom / right first.

    Args:
        in_channels: input channels C.
        out_channels: output channels (paper: 2C).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, out_channels, ceil(H / 2), ceil(W / 2))
    """

    def __init__(self, in_channels: int, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or 2 * in_channels
        self.norm = nn.LayerNorm(4 * in_channels)
        self.reduction = nn.Linear(4 * in_channels, out_channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, x.shape[3] % 2, 0, x.shape[2] % 2))
        t = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        # the four neighbours in the order (0,0), (1,0), (0,1), (1,1)
        parts = [t[:, 0::2, 0::2], t[:, 1::2, 0::2], t[:, 0::2, 1::2], t[:, 1::2, 1::2]]
        t = torch.cat(parts, dim=-1)  # (B, H/2, W/2, 4C)
        return self.reduction(self.norm(t)).permute(0, 3, 1, 2)  # (B, out_channels, H/2, W/2)
