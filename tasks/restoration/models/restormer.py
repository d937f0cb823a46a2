"""Restormer: an efficient transformer for high-resolution image restoration.

S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, "Restormer: Efficient
Transformer for High-Resolution Image Restoration", CVPR 2022.

A 3x3 convolution embeds the image into C channels; a 4-level encoder-decoder of transformer
blocks (``x + MDTA(LN(x))``, ``x + GDFN(LN(x))``) follows, halving resolution and doubling
channels between levels with a 3x3 convolution to C/2 and pixel-unshuffle, and going back with a
3x3 convolution to 2C and pixel-shuffle. Decoder levels 3 and 2 concatenate the encoder features
and reduce them with a 1x1 convolution; level 1 keeps the concatenated 2C channels, as do the
refinement blocks. A 3x3 convolution to the image and a global residual give the output.
The published model (C = 48, blocks [4, 6, 6, 8], heads [1, 2, 4, 8], 4 refinement blocks,
GDFN expansion factor 2.66, no biases, LayerNorm with bias) has 26.13M parameters.

The attention slot of every block is an ``attn`` config field (default ``'mdta'``); the host
passes each level's head count to any attention block that takes ``num_heads``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from toolkit.errors import ConfigError, DataError
from toolkit.modules.attention import ATTENTION, build_attention
from toolkit.modules.gdfn import GDFN
from toolkit.modules.layers import LayerNorm2d
from toolkit.modules.shape import check_shape
from toolkit.registry import MODELS

__all__ = ["Restormer", "RestormerBlock", "BiasFreeLayerNorm2d"]


class BiasFreeLayerNorm2d(nn.Module):
    """Restormer's bias-free LayerNorm over channels: ``x / sqrt(var(x) + eps) * weight`` (no centring).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.var(dim=1, keepdim=True, unbiased=False)  # (B, 1, H, W)
        return x / torch.sqrt(var + self.eps) * self.weight.view(1, -1, 1, 1)


def _norm(name: str, channels: int) -> nn.Module:
    if name == "ln2d":
        return LayerNorm2d(channels, eps=1e-5)  # Restormer's 'WithBias' LayerNorm
    if name == "ln2d_bias_free":
        return BiasFreeLayerNorm2d(channels)
    raise ConfigError(f"restormer: norm_layer must be 'ln2d' (with bias) or 'ln2d_bias_free', got {name!r}")


def _attention(spec: Any, channels: int, num_heads: int) -> nn.Module:
    """Build the attention slot, passing the level's head count to blocks that take ``num_heads``."""
    name = spec if isinstance(spec, str) else (spec or {}).get("type")
    if name not in (None, "none") and name in ATTENTION:
        spec = ATTENTION.resolve(spec, offer={"num_heads": num_heads})  # only blocks that take heads get them
    return build_attention(spec, channels)


class RestormerBlock(nn.Module):
    """Transformer block ``x + attn(LN(x))``, ``x + GDFN(LN(x))``.

    Args:
        channels: feature width C.
        num_heads: heads passed to the attention block when it takes them.
        mlp_ratio: GDFN hidden width factor (the paper's expansion factor).
        bias: biases in the GDFN convolutions.
        norm_layer: ``'ln2d'`` (with bias) or ``'ln2d_bias_free'``.
        attn: attention spec (default MDTA).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(
        self,
        channels: int,
        *,
        num_heads: int = 1,
        mlp_ratio: float = 2.66,
        bias: bool = False,
        norm_layer: str = "ln2d",
        attn: Any = "mdta",
    ):
        super().__init__()
        self.norm1 = _norm(norm_layer, channels)
        self.attn = _attention(attn, channels, num_heads)
        self.norm2 = _norm(norm_layer, channels)
        self.ffn = GDFN(channels, mlp_ratio=mlp_ratio, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def _down(channels: int) -> nn.Module:
    # (B, C, H, W) -> (B, C/2, H, W) -> (B, 2C, H/2, W/2)
    return nn.Sequential(nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))


def _up(channels: int) -> nn.Module:
    # (B, C, H, W) -> (B, 2C, H, W) -> (B, C/2, 2H, 2W)
    return nn.Sequential(nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))


@MODELS.register("restormer")
class Restormer(nn.Module):
    """Restormer encoder-decoder for same-size restoration (denoising, deblurring, deraining).

    Args:
        in_channels: image channels of the input.
        out_channels: image channels of the output (``None``: same as the input).
        channels: width C of level 1 (levels 2-4 use 2C, 4C, 8C).
        num_blocks: transformer blocks of levels 1-4 (the latent level is the 4th).
        num_refinement_blocks: blocks after decoder level 1.
        num_heads: attention heads of levels 1-4 (refinement uses level 1's).
        mlp_ratio: GDFN hidden width factor (the paper's expansion factor, 2.66).
        bias: biases in the 1x1 reduction, attention, GDFN and output convolutions.
        norm_layer: ``'ln2d'`` (the paper's 'WithBias') or ``'ln2d_bias_free'``.
        attn: attention spec of every block (default ``'mdta'``).

    Shape:
        - Input: (B, in_channels, H, W) with H and W multiples of 8 (``size_multiple``)
        - Output: (B, out_channels, H, W)
    """

    size_multiple = 8  # three pixel-unshuffle steps

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int | None = None,
        channels: int = 48,
        num_blocks: Sequence[int] = (4, 6, 6, 8),
        num_refinement_blocks: int = 4,
        num_heads: Sequence[int] = (1, 2, 4, 8),
        mlp_ratio: float = 2.66,
        bias: bool = False,
        norm_layer: str = "ln2d",
        attn: Any = "mdta",
    ):
        super().__init__()
        if len(num_blocks) != 4 or len(num_heads) != 4:
            raise ConfigError(f"restormer: num_blocks and num_heads need 4 entries, got {num_blocks} and {num_heads}")
        out_channels = out_channels or in_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        c = channels

        def stage(width: int, n: int, h: int) -> nn.Sequential:
            kw = dict(num_heads=h, mlp_ratio=mlp_ratio, bias=bias, norm_layer=norm_layer, attn=attn)
            return nn.Sequential(*[RestormerBlock(width, **kw) for _ in range(n)])

        self.patch_embed = nn.Conv2d(in_channels, c, 3, padding=1, bias=False)
        self.encoder1 = stage(c, num_blocks[0], num_heads[0])
        self.down1_2 = _down(c)
        self.encoder2 = stage(2 * c, num_blocks[1], num_heads[1])
        self.down2_3 = _down(2 * c)
        self.encoder3 = stage(4 * c, num_blocks[2], num_heads[2])
        self.down3_4 = _down(4 * c)
        self.latent = stage(8 * c, num_blocks[3], num_heads[3])
        self.up4_3 = _up(8 * c)
        self.reduce3 = nn.Conv2d(8 * c, 4 * c, 1, bias=bias)
        self.decoder3 = stage(4 * c, num_blocks[2], num_heads[2])
        self.up3_2 = _up(4 * c)
        self.reduce2 = nn.Conv2d(4 * c, 2 * c, 1, bias=bias)
        self.decoder2 = stage(2 * c, num_blocks[1], num_heads[1])
        self.up2_1 = _up(2 * c)
        self.decoder1 = stage(2 * c, num_blocks[0], num_heads[0])
        self.refinement = stage(2 * c, num_refinement_blocks, num_heads[0])
        self.output = nn.Conv2d(2 * c, out_channels, 3, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_shape(x, ("B", self.in_channels, "H", "W"), "restormer")
        if x.shape[-2] % self.size_multiple or x.shape[-1] % self.size_multiple:
            raise DataError(
                f"Restormer needs H and W divisible by {self.size_multiple}, got {tuple(x.shape[-2:])}; "
                "pad the input (tasks.restoration.tiling.forward_padded does)"
            )
        e1 = self.encoder1(self.patch_embed(x))  # (B, C, H, W)
        e2 = self.encoder2(self.down1_2(e1))  # (B, 2C, H/2, W/2)
        e3 = self.encoder3(self.down2_3(e2))  # (B, 4C, H/4, W/4)
        lat = self.latent(self.down3_4(e3))  # (B, 8C, H/8, W/8)
        d3 = self.decoder3(self.reduce3(torch.cat([self.up4_3(lat), e3], dim=1)))  # (B, 4C, H/4, W/4)
        d2 = self.decoder2(self.reduce2(torch.cat([self.up3_2(d3), e2], dim=1)))  # (B, 2C, H/2, W/2)
        d1 = self.decoder1(torch.cat([self.up2_1(d2), e1], dim=1))  # (B, 2C, H, W)
        out = self.output(self.refinement(d1))  # (B, out, H, W)
        if self.out_channels == self.in_channels:
            out = out + x
        return out
