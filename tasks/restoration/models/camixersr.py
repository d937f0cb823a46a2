"""CAMixerSR: content-aware mixing for large-image and lightweight super-resolution.

Y. Wang, Y. Liu, S. Zhao, J. Li, L. Zhang, "CAMixerSR: Only Details Need More 'Attention'",
CVPR 2024 (arXiv 2402.19289). The layout follows the authors' released code (github
icandle/CAMixerSR, ``CAMixerSR_arch.py``), read and re-written here:

- the image is padded at the bottom and right (mirrored) to a multiple of the window (16);
- a 3x3 convolution makes C features; a global predictor (1x1 to 8, LeakyReLU 0.1, 3x3 to 2,
  LeakyReLU 0.1) turns them into a 2-channel condition map that every mixer reads;
- groups of blocks, each group ``x + conv1x1(blocks(x))``; each block is post-norm:
  ``x = LN(x + CAMixer(x)); x = LN(x + GDFN(x))`` (channels-first LayerNorm, eps 1e-6; the gated
  feed-forward with hidden width C and no biases);
- a 3x3 convolution plus the shallow features, a 3x3 convolution to ``3 s^2`` channels, pixel
  shuffle, and the crop back to ``(H s, W s)``.

Variants (window 16, blocks per group (4, 4, 6, 6), ratio 0.5): C = 60 is the lightweight-SR model
(765K parameters at x4 in the paper); C = 36 is the released large-image "S" model
(``pretrained_models/LargeSR/CAMixerSR_S.pth``, 351,238 parameters at x4, tested).

Training returns the ratio loss through ``forward(x, return_aux=True) -> (pred, {'ratio': loss})``
(the restoration Task adds it to the objective): ``2 ratio (mean(m) - 1/2)^2`` over the hard masks
``m`` of every block and image, as the released code computes it.

Released weights load with ``tools/eval.py CFG --checkpoint CAMixerSR_S.pth`` (or ``tools/train.py
--load-from``): :meth:`CAMixerSR.from_release` maps the authors' parameter names onto these.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn

from toolkit.data import pad_to_multiple
from toolkit.engine.checkpoint import rename_keys
from toolkit.errors import ConfigError
from toolkit.modules.attention.camixer import CAMixer
from toolkit.modules.gdfn import GDFN
from toolkit.modules.layers import LayerNorm2d
from toolkit.modules.shape import check_shape
from toolkit.registry import MODELS

__all__ = ["CAMixerSR", "CAMixerBlock", "CAMixerGroup"]

# the authors' parameter names (left) and the ones here (right); every released key must match one
_BLOCK = r"body\.(\d+)\.body\.(\d+)\."  # block b of group g: groups.g.blocks.b. here
_MIXER = r"groups.\1.blocks.\2.mixer."
_RELEASE_NAMES = [
    (r"head\.(weight|bias)", r"to_feat.\1"),
    (r"global_predictor\.([02])\.(weight|bias)", r"global_cond.\1.\2"),
    (r"body_tail\.(weight|bias)", r"body_conv.\1"),
    (r"tail\.0\.(weight|bias)", r"to_img.0.\1"),
    (r"body\.(\d+)\.body_tail\.(weight|bias)", r"groups.\1.conv.\2"),
    (_BLOCK + r"(norm[12])\.(weight|bias)", r"groups.\1.blocks.\2.\3.\4"),
    (_BLOCK + r"ffn\.(project_in|dwconv|project_out)\.weight", r"groups.\1.blocks.\2.ffn.\3.weight"),
    (_BLOCK + r"mixer\.project_([vqk]|out)\.(weight|bias)", _MIXER + r"proj_\3.\4"),
    (_BLOCK + r"mixer\.conv_sptial\.([01])\.(weight|bias)", _MIXER + r"conv.\3.\4"),
    (_BLOCK + r"mixer\.route\.in_conv\.([01])\.(weight|bias)", _MIXER + r"predictor.in_conv.\3.\4"),
    (_BLOCK + r"mixer\.route\.out_offsets\.([02])\.(weight|bias)", _MIXER + r"predictor.offsets.\3.\4"),
    (_BLOCK + r"mixer\.route\.out_mask\.([02])\.(weight|bias)", _MIXER + r"predictor.mask.\3.\4"),
    (_BLOCK + r"mixer\.route\.out_CA\.1\.(weight|bias)", _MIXER + r"predictor.channel_attn.1.\3"),
    (_BLOCK + r"mixer\.route\.out_SA\.0\.(weight|bias)", _MIXER + r"predictor.spatial_attn.0.\3"),
]


class CAMixerBlock(nn.Module):
    """``x = LN(x + CAMixer(x, cond)); x = LN(x + GDFN(x))`` (post-norm, as released).

    Shape:
        - Input: x (B, C, H, W), cond (B, 2, H, W); H, W multiples of the window
        - Output: (B, C, H, W) and the block's decision (B,) (see :class:`CAMixer`)
    """

    def __init__(self, channels: int, *, window: int, ratio: float, count: str):
        super().__init__()
        self.norm1 = LayerNorm2d(channels)  # NOTE: eps 1e-6 as released (the toolkit's default too)
        self.mixer = CAMixer(channels, window=window, ratio=ratio, cond_channels=2, count=count)
        self.norm2 = LayerNorm2d(channels)
        self.ffn = GDFN(channels, mlp_ratio=1.0, bias=False)  # the released GatedFeedForward (mult 1, no bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mixed, decision = self.mixer(x, cond, return_decision=True)
        x = self.norm1(x + mixed)
        return self.norm2(x + self.ffn(x)), decision


class CAMixerGroup(nn.Module):
    """``x + conv1x1(blocks(x))``.

    Shape:
        - Input: x (B, C, H, W), cond (B, 2, H, W)
        - Output: (B, C, H, W) and the blocks' decisions (B, num_blocks)
    """

    def __init__(self, channels: int, num_blocks: int, *, window: int, ratio: float, count: str):
        super().__init__()
        self.blocks = nn.ModuleList(
            CAMixerBlock(channels, window=window, ratio=ratio, count=count) for _ in range(num_blocks)
        )
        self.conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, decisions = x, []
        for block in self.blocks:
            out, d = block(out, cond)
            decisions.append(d)
        return self.conv(out) + x, torch.stack(decisions, dim=1)


@MODELS.register("camixersr")
class CAMixerSR(nn.Module):
    """CAMixerSR super-resolution network.

    Args:
        in_channels: image channels of the input (3).
        out_channels: image channels of the output (``None``: the input's).
        channels: feature width C (lightweight model 60, released large-image S model 36).
        num_blocks: blocks per group, one entry per group (paper: (4, 4, 6, 6)).
        upscale: super-resolution factor s.
        window: attention window side (paper: 16).
        ratio: share of windows given attention at inference, and the ratio loss weight's factor (paper: 0.5).
        count: the mixers' inference count rule, ``'expected'`` or ``'sampled'`` (see ``CAMixer``).

    Shape:
        - Input: (B, in_channels, H, W), any H, W
        - Output: (B, out_channels, H * upscale, W * upscale); with ``return_aux=True`` also
          ``{'ratio': loss}`` in training mode (``{}`` in evaluation mode)
    """

    has_aux_loss = True  # forward(x, return_aux=True) -> (pred, {'ratio': loss}) while training

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int | None = None,
        channels: int = 60,
        num_blocks: Sequence[int] = (4, 4, 6, 6),
        upscale: int = 4,
        window: int = 16,
        ratio: float = 0.5,
        count: str = "expected",
    ):
        super().__init__()
        if not num_blocks or any(int(n) < 1 for n in num_blocks):
            raise ConfigError(f"camixersr: model.num_blocks lists blocks per group (each >= 1), got {num_blocks!r}")
        out_channels = out_channels or in_channels
        self.in_channels, self.upscale, self.window, self.ratio = in_channels, upscale, window, float(ratio)
        self.size_multiple = window  # forward_padded pads (mirrored) as the model itself would
        self.to_feat = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.global_cond = nn.Sequential(
            nn.Conv2d(channels, 8, 1), nn.LeakyReLU(0.1), nn.Conv2d(8, 2, 3, padding=1), nn.LeakyReLU(0.1)
        )
        self.groups = nn.ModuleList(
            CAMixerGroup(channels, int(n), window=window, ratio=ratio, count=count) for n in num_blocks
        )
        self.body_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.to_img = nn.Sequential(
            nn.Conv2d(channels, out_channels * upscale**2, 3, padding=1),
            nn.PixelShuffle(upscale),  # (B, out, H*s, W*s)
        )

    def forward(
        self, x: torch.Tensor, return_aux: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        check_shape(x, ("B", self.in_channels, "H", "W"), "camixersr")
        h, w = x.shape[-2:]
        x, _ = pad_to_multiple(x, self.window, mode="reflect")  # (B, 3, H', W'), H', W' multiples of the window
        feat = self.to_feat(x)  # (B, C, H', W')
        cond = self.global_cond(feat)  # (B, 2, H', W')
        out, decisions = feat, []
        for group in self.groups:
            out, d = group(out, cond)
            decisions.append(d)
        out = self.to_img(self.body_conv(out) + feat)[..., : h * self.upscale, : w * self.upscale]
        if not return_aux:
            return out
        if not self.training:
            return out, {}
        share = torch.cat(decisions, dim=1).mean()  # mean hard mask over images and blocks
        return out, {"ratio": 2 * self.ratio * (share - 0.5) ** 2}

    @classmethod
    def from_release(cls, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The authors' state dict (``params`` / ``params_ema`` of their ``.pth``) under this model's names.

        Raises:
            CheckpointError: a key no rule maps (names the key).
        """
        return rename_keys(state, [(re.compile(p), r) for p, r in _RELEASE_NAMES], "CAMixerSR.from_release")
