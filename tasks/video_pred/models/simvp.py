"""SimVP video prediction: a spatial encoder, a translator over time folded into channels, a decoder.

- SimVP v1 (IncepU translator): Gao et al., "SimVP: Simpler yet Better Video Prediction", CVPR 2022.
- SimVP v2 (gSTA translator): Tan et al., "SimVP: Towards Simple yet Powerful Spatiotemporal
  Predictive Learning", arXiv 2211.12509.

At the Moving MNIST setting (input 10x1x64x64, hid_S=64, hid_T=512, N_S=4, N_T=8) the models have
57.95M (IncepU) and 46.77M (gSTA) parameters, the published sizes; ``tests`` check both.

Initialisation (``init``): ``'openstl'`` (default) as OpenSTL (Tan et al., "OpenSTL: A Comprehensive
Benchmark of Spatio-Temporal Predictive Learning", NeurIPS 2023 Datasets and Benchmarks), whose
encoder/decoder layout this model has: encoder/decoder convolutions from ``trunc_normal_(std=0.02)``
with zero biases, and in the gSTA blocks convolutions from N(0, 2 / fan_out) with zero biases;
the readout and the IncepU translator keep PyTorch's defaults there. ``'torch'``: PyTorch's defaults
everywhere, as in the original SimVP v1 release. Every generic type of ``toolkit.modules.init_weights``
(``'trunc_normal'``, ``dict(type='kaiming_normal', mode='fan_out')``, ...) is taken too.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from toolkit.errors import ConfigError
from toolkit.modules import DropPath, build_attention, init_weights
from toolkit.modules.inception import InceptionUNet
from toolkit.modules.shape import check_shape
from toolkit.registry import MODELS

__all__ = ["SimVP", "SpatialEncoder", "SpatialDecoder", "GSTATranslator"]


class _ConvGNSiLU(nn.Module):
    """3x3 conv (stride 2 to down-sample, pixel shuffle x2 to up-sample) -> GroupNorm(2) -> SiLU."""

    def __init__(self, in_channels: int, out_channels: int, *, down: bool = False, up: bool = False):
        super().__init__()
        if up:
            self.conv = nn.Sequential(nn.Conv2d(in_channels, out_channels * 4, 3, padding=1), nn.PixelShuffle(2))
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=2 if down else 1, padding=1)
        self.norm = nn.GroupNorm(2, out_channels)
        # NOTE: OpenSTL writes SiLU(inplace=True); under autograd the in-place op saves a copy of its input
        # anyway: GroupNorm -> SiLU forward+backward took 12.6 ms in place vs 9.4 ms out of place (16x64x32x32,
        # 2 CPU threads). Same values.
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


def _resampling(num_layers: int) -> list[bool]:
    # SimVP down-samples on layers 2, 4, ... of the encoder: [False, True, False, True] for 4 layers
    return [i % 2 == 1 for i in range(num_layers)]


class SpatialEncoder(nn.Module):
    """Per-frame encoder; returns the latent and the first layer's output (the decoder's skip).

    Shape:
        - Input: (N, in_channels, H, W)
        - Output: (N, hidden_channels, H / 2^(num_layers//2), W / 2^(num_layers//2)), (N, hidden_channels, H, W)
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int):
        super().__init__()
        flags = _resampling(num_layers)
        self.layers = nn.ModuleList(
            _ConvGNSiLU(in_channels if i == 0 else hidden_channels, hidden_channels, down=flags[i])
            for i in range(num_layers)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = x = self.layers[0](x)
        for layer in self.layers[1:]:
            x = layer(x)
        return x, skip


class SpatialDecoder(nn.Module):
    """Mirror of the encoder with pixel-shuffle up-sampling; the skip is added before the last layer.

    Shape:
        - Input: (N, hidden_channels, h, w), skip (N, hidden_channels, H, W)
        - Output: (N, out_channels, H, W)
    """

    def __init__(self, hidden_channels: int, out_channels: int, num_layers: int):
        super().__init__()
        flags = _resampling(num_layers)[::-1]
        self.layers = nn.ModuleList(_ConvGNSiLU(hidden_channels, hidden_channels, up=f) for f in flags)
        self.readout = nn.Conv2d(hidden_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = layer(x)
        return self.readout(self.layers[-1](x + skip))


class _GSTABlock(nn.Module):
    """SimVP v2 block: BN -> (1x1, GELU, attention, 1x1, + shortcut) and BN -> MLP with depthwise conv.

    Both branches are residual with learned per-channel layer scales (init 1e-2).
    """

    def __init__(self, channels: int, *, mlp_ratio: float, drop_path: float, attn: Any):
        super().__init__()
        hidden = int(channels * mlp_ratio)
        self.norm1 = nn.BatchNorm2d(channels)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.act = nn.GELU()
        self.attn = build_attention(attn, channels)
        self.proj_out = nn.Conv2d(channels, channels, 1)
        self.norm2 = nn.BatchNorm2d(channels)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            nn.GELU(),
            nn.Conv2d(hidden, channels, 1),
        )
        self.scale1 = nn.Parameter(1e-2 * torch.ones(channels))
        self.scale2 = nn.Parameter(1e-2 * torch.ones(channels))
        self.drop_path = DropPath(drop_path)

    def _spatial(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj_out(self.attn(self.act(self.proj_in(x)))) + x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.scale1[:, None, None] * self._spatial(self.norm1(x)))
        return x + self.drop_path(self.scale2[:, None, None] * self.mlp(self.norm2(x)))


class GSTATranslator(nn.Module):
    """SimVP v2 translator: ``num_layers`` gSTA blocks, 1x1 convs where the width changes.

    Shape:
        - Input: (B, channels, H, W)
        - Output: (B, channels, H, W)
    """

    def __init__(
        self,
        channels: int,
        hidden_channels: int = 512,
        num_layers: int = 8,
        *,
        mlp_ratio: float = 8.0,
        drop_path: float = 0.0,
        attn: Any = "gsta",
    ):
        super().__init__()
        rates = torch.linspace(1e-2, drop_path, num_layers).tolist() if drop_path > 0 else [0.0] * num_layers
        widths = [channels] + [hidden_channels] * (num_layers - 1) + [channels]
        self.blocks = nn.ModuleList()
        for i in range(num_layers):
            c_in, c_out = widths[i], widths[i + 1]
            block = _GSTABlock(c_in, mlp_ratio=mlp_ratio, drop_path=rates[i], attn=attn)
            self.blocks.append(block if c_in == c_out else nn.Sequential(block, nn.Conv2d(c_in, c_out, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


@MODELS.register("simvp")
class SimVP(nn.Module):
    """SimVP with a choice of translator.

    Args:
        in_shape: (T_in, C, H, W) of the input clip (filled in by the task from the data).
        out_frames: frames predicted at once (``None`` = T_in, as in SimVP).
        hid_S: encoder/decoder width. hid_T: translator width.
        N_S: encoder/decoder layers (down-sampling on every second). N_T: translator depth.
        translator: ``'incepu'`` (v1) or ``'gsta'`` (v2).
        kernel_sizes, groups: IncepU options. mlp_ratio, drop_path: gSTA options.
        attn: attention spec inside the translator blocks. For ``gsta`` it is the block's spatial
            attention (``None`` there means the paper's ``'gsta'``); for ``incepu`` it is applied
            after every Inception block (``None`` = the paper's model).
        init: ``'openstl'`` (OpenSTL's initialisation, see the module docstring), ``'torch'`` (PyTorch's
            defaults; the same as ``'default'``) or any ``toolkit.modules.init_weights`` spec.

    Shape:
        - Input: (B, T_in, C, H, W)
        - Output: (B, out_frames, C, H, W)
    """

    init_schemes = {"openstl": "_init_openstl", "torch": "_init_torch"}  # model.init names of its own

    # NOTE: hid_S, hid_T, N_S, N_T keep OpenSTL's names instead of the toolkit's vocabulary
    # (hidden_channels, num_layers): they are how SimVP's papers, tables and OpenSTL configs state a
    # setting, so a published config is copied without translation, and one name each (no aliases)
    # keeps `--set model.hid_S=...` and the resolved config in the run folder unambiguous.
    def __init__(
        self,
        in_shape: tuple[int, int, int, int],
        out_frames: int | None = None,
        hid_S: int = 64,
        hid_T: int = 512,
        N_S: int = 4,
        N_T: int = 8,
        translator: str = "incepu",
        kernel_sizes: tuple[int, ...] = (3, 5, 7, 11),
        groups: int = 8,
        mlp_ratio: float = 8.0,
        drop_path: float = 0.0,
        attn: Any = None,
        init: Any = "openstl",
    ):
        super().__init__()
        if in_shape is None or len(in_shape) != 4:
            raise ConfigError(f"model.in_shape must be (T, C, H, W), got {in_shape!r}")
        T, C, H, W = (int(v) for v in in_shape)
        scale = 2 ** (N_S // 2)
        if H % scale or W % scale:
            raise ConfigError(f"SimVP with N_S={N_S} needs H and W divisible by {scale}, got {H}x{W}")
        self.in_shape = (T, C, H, W)
        self.out_frames = out_frames or T
        if self.out_frames != T:
            raise ConfigError(
                f"SimVP predicts as many frames as it reads (T_in={T}); got out_frames={self.out_frames}. "
                "Longer horizons are rolled out autoregressively by tools/infer.py."
            )
        self.encoder = SpatialEncoder(C, hid_S, N_S)
        self.decoder = SpatialDecoder(hid_S, C, N_S)
        if translator == "incepu":
            self.translator = InceptionUNet(T * hid_S, hid_T, N_T, kernel_sizes=kernel_sizes, groups=groups, attn=attn)
        elif translator == "gsta":
            self.translator = GSTATranslator(
                T * hid_S, hid_T, N_T, mlp_ratio=mlp_ratio, drop_path=drop_path, attn=attn or "gsta"
            )
        else:
            raise ConfigError(f"model.translator must be 'incepu' or 'gsta', got {translator!r}")
        init_weights(self, init, where="model.init")  # after every layer is built, as before: same draws

    def _init_torch(self) -> None:
        """PyTorch's defaults, as the layers drew them (the SimVP v1 release)."""

    def _init_openstl(self) -> None:
        # NOTE: OpenSTL's default, not the original SimVP v1 release's (PyTorch defaults, init='torch').
        # Its trunc_normal_ (timm's, like torch's) cuts at a=-2, b=2 in absolute value, i.e. at 100 std
        # for std 0.02: in effect a plain N(0, 0.02^2), not a cut at 2 std, and so is this one.
        for layer in [*self.encoder.layers, *self.decoder.layers]:
            for m in layer.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.trunc_normal_(m.weight, std=0.02, a=-2.0, b=2.0)
                    nn.init.zeros_(m.bias)
        for block in self.translator.modules():
            if isinstance(block, _GSTABlock):  # attention included, as OpenSTL's GASubBlock initialises its own
                for m in block.modules():
                    if isinstance(m, nn.Conv2d):
                        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                        nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
                        if m.bias is not None:
                            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_shape(x, ("B", *self.in_shape), "simvp")
        B, T, C, H, W = x.shape
        z, skip = self.encoder(x.reshape(B * T, C, H, W))  # (B*T, hid_S, h, w), (B*T, hid_S, H, W)
        _, c, h, w = z.shape
        z = self.translator(z.reshape(B, T * c, h, w))  # (B, T*hid_S, h, w)
        y = self.decoder(z.reshape(B * T, c, h, w), skip)  # (B*T, C, H, W)
        return y.reshape(B, T, C, H, W)
