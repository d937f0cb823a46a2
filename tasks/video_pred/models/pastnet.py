"""PastNet: a Fourier physics-guided branch plus a vector-quantised spatio-temporal branch.

Wu et al., "PastNet: Introducing Physical Inductive Biases for Spatio-temporal Video Prediction",
arXiv 2305.11421. Two branches see the same input clip and their outputs are summed in pixel space:

- FPG (Fourier-based physics-guided): every frame is cut into 16x16 patches embedded in 128
  channels, given a learned positional embedding, mixed by an adaptive Fourier neural operator
  block with an MLP (:class:`toolkit.modules.spectral.FourierBlock`), and projected back to pixels by
  transposed convolutions (x2, x2, x4 for patch 16, Tanh between them);
- DST (discrete spatio-temporal): a VQ-VAE convolutional encoder brings every frame to a 1/4
  resolution latent (16x16 at 64x64), a vector-quantised memory bank (512 codes of 64 dims, EMA
  updates) discretises it, the SimVP Inception U-Net translates the clip with time folded into
  channels, and the VQ-VAE decoder maps every predicted latent back to a frame.

At the Moving MNIST setting (input 10x1x64x64, the released defaults: hid_T=256, N_T=8, 128
encoder channels, 4 residual layers of 32 channels) the model has 16,432,790 trainable parameters;
the released model counts 16,498,326 (about 16.5M) because it keeps its codebook and EMA sums
(2 x 512 x 64 = 65,536 numbers) as ``nn.Parameter``s, which are buffers here.

VQ loss: ``PastNet.forward(x, return_aux=True)`` returns ``(prediction, {'vq': loss})``, the
quantiser's commitment loss times ``vq_loss_weight`` (an empty dict when the weight is 0); a plain
``forward(x)`` returns the prediction only. The class declares ``has_aux_loss = True``, so the video
task's ``train_step`` asks for the losses (through any DDP / ``torch.compile`` wrapper), adds them to
the objective and logs them as ``loss_aux``. The codebook perplexity and usage of the last batch are
kept in ``self.vq_stats`` (diagnostics only).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from toolkit.errors import ConfigError
from toolkit.modules.inception import InceptionUNet
from toolkit.modules.layers import LayerNorm2d
from toolkit.modules.quantize import VectorQuantizer
from toolkit.modules.shape import check_shape
from toolkit.modules.spectral import FourierBlock
from toolkit.registry import MODELS

__all__ = ["PastNet", "FourierBranch", "VQEncoder", "VQDecoder"]


def _upsample_factors(patch_size: int) -> list[int]:
    # 16 -> [2, 2, 4] as released; any power of two >= 4 -> [2, ..., 2, 4]; otherwise one step
    k = int(round(math.log2(patch_size))) if patch_size > 0 else 0
    if patch_size >= 4 and 2**k == patch_size:
        return [2] * (k - 2) + [4]
    return [patch_size]


class FourierBranch(nn.Module):
    """PastNet's FPG branch applied to every frame independently.

    Args:
        in_channels: frame channels C (also the output channels).
        image_size: (H, W) of the frames; both divisible by ``patch_size``.
        patch_size: patch side (16).
        embed_dim: token width (128).
        depth: Fourier blocks (1).
        mlp_ratio, num_blocks, softshrink: :class:`FourierBlock` options (2.0, 4, 0.0).

    Shape:
        - Input: (N, C, H, W)
        - Output: (N, C, H, W)
    """

    def __init__(
        self,
        in_channels: int,
        image_size: tuple[int, int],
        *,
        patch_size: int = 16,
        embed_dim: int = 128,
        depth: int = 1,
        mlp_ratio: float = 2.0,
        num_blocks: int = 4,
        softshrink: float = 0.0,
    ):
        super().__init__()
        H, W = image_size
        grid = (H // patch_size, W // patch_size)
        self.patch_embed = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *grid))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.Sequential(
            *[
                FourierBlock(embed_dim, mlp_ratio=mlp_ratio, num_blocks=num_blocks, softshrink=softshrink)
                for _ in range(depth)
            ]
        )
        self.norm = LayerNorm2d(embed_dim)
        factors = _upsample_factors(patch_size)
        widths = [in_channels * 4 ** (len(factors) - 1 - i) for i in range(len(factors))]  # 16C, 4C, C
        layers: list[nn.Module] = []
        c_in = embed_dim
        for i, (f, c_out) in enumerate(zip(factors, widths)):
            layers.append(nn.ConvTranspose2d(c_in, c_out, f, stride=f))
            if i < len(factors) - 1:
                layers.append(nn.Tanh())
            c_in = c_out
        self.head = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x) + self.pos_embed  # (N, embed, H/p, W/p)
        return self.head(self.norm(self.blocks(tokens)))  # (N, C, H, W)


class _Residual(nn.Module):
    """VQ-VAE residual unit: x + BN(1x1(ReLU(BN(3x3(ReLU(x))))))."""

    def __init__(self, channels: int, hidden_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, hidden_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(hidden_channels),
            nn.ReLU(),
            nn.Conv2d(hidden_channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)

    def zero_init_last(self) -> str:
        """``model.init.zero_last``: the last BatchNorm's scale to 0 (Goyal et al. 2017, section 5.1)."""
        nn.init.zeros_(self.body[-1].weight)
        return "VQ residual unit: the last BatchNorm's weight"


def _residual_stack(channels: int, hidden_channels: int, num_layers: int) -> nn.Sequential:
    return nn.Sequential(*[_Residual(channels, hidden_channels) for _ in range(num_layers)], nn.ReLU())


class VQEncoder(nn.Module):
    """VQ-VAE encoder: two stride-2 4x4 convs, a 3x3 conv, residual units, then a 1x1 conv to the code dim.

    Shape:
        - Input: (N, in_channels, H, W)
        - Output: (N, out_channels, H/4, W/4)
    """

    def __init__(
        self, in_channels: int, hidden_channels: int, out_channels: int, *, res_layers: int, res_channels: int
    ):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels // 2, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden_channels // 2, hidden_channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1),
            _residual_stack(hidden_channels, res_channels, res_layers),
            nn.Conv2d(hidden_channels, out_channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class VQDecoder(nn.Module):
    """VQ-VAE decoder: a 3x3 conv, residual units, two stride-2 4x4 transposed convs.

    Shape:
        - Input: (N, in_channels, h, w)
        - Output: (N, out_channels, 4h, 4w)
    """

    def __init__(
        self, in_channels: int, hidden_channels: int, out_channels: int, *, res_layers: int, res_channels: int
    ):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels, 3, padding=1),
            _residual_stack(hidden_channels, res_channels, res_layers),
            nn.ConvTranspose2d(hidden_channels, hidden_channels // 2, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(hidden_channels // 2, out_channels, 4, stride=2, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@MODELS.register("pastnet")
class PastNet(nn.Module):
    """PastNet video prediction model (see the module docstring for the two branches).

    Args:
        in_shape: (T_in, C, H, W) of the input clip (filled in by the task from the data); H and W
            divisible by ``patch_size`` and by 4.
        out_frames: frames predicted at once (``None`` = T_in, the only value PastNet supports).
        patch_size, embed_dim, fpg_depth, mlp_ratio, num_blocks, softshrink: FPG branch
            (16, 128, 1, 2.0, 4, 0.0).
        hid_S: DST encoder/decoder width (128). res_layers, res_channels: its residual units (4, 32).
        num_codes, code_dim: codebook size K x D (512 x 64). decay, commitment_weight: EMA decay
            (0.99) and commitment weight (0.25) of the quantiser. restart_threshold: restart
            codes used by fewer vectors per batch than this (0 = off, as released).
        hid_T, N_T: Inception U-Net width and blocks per side (256, 8). kernel_sizes, groups:
            its Inception kernels and groups ((3, 5, 7, 11), 8).
        attn: attention spec applied after every Inception block (``None`` = the paper's model).
        vq_loss_weight: weight of the quantiser loss returned by ``forward(x, return_aux=True)``;
            0 drops it, as the released code does.

    Shape:
        - Input: (B, T_in, C, H, W)
        - Output: (B, T_in, C, H, W)
    """

    has_aux_loss = True  # forward(x, return_aux=True) -> (pred, {'vq': loss}); see the module docstring

    # NOTE: hid_T, N_T keep the names of PastNet's released code (from SimVP / OpenSTL) and hid_S, its
    # `num_hiddens`, SimVP's, instead of the toolkit's vocabulary (hidden_channels, num_layers): as in
    # SimVP, published settings are copied without translation and each option has one name.
    # NOTE: no OpenSTL initialisation here (OpenSTL has no PastNet). The released FPG branch draws its
    # Linear layers (the Fourier block's MLP) from trunc_normal_(std=0.02) with zero biases; the MLP
    # here is two 1x1 convolutions with PyTorch's default initialisation.
    def __init__(
        self,
        in_shape: tuple[int, int, int, int],
        out_frames: int | None = None,
        *,
        patch_size: int = 16,
        embed_dim: int = 128,
        fpg_depth: int = 1,
        mlp_ratio: float = 2.0,
        num_blocks: int = 4,
        softshrink: float = 0.0,
        hid_S: int = 128,
        res_layers: int = 4,
        res_channels: int = 32,
        num_codes: int = 512,
        code_dim: int = 64,
        decay: float = 0.99,
        commitment_weight: float = 0.25,
        restart_threshold: float = 0.0,
        hid_T: int = 256,
        N_T: int = 8,
        kernel_sizes: tuple[int, ...] = (3, 5, 7, 11),
        groups: int = 8,
        attn: Any = None,
        vq_loss_weight: float = 1.0,
    ):
        super().__init__()
        if in_shape is None or len(in_shape) != 4:
            raise ConfigError(f"model.in_shape must be (T, C, H, W), got {in_shape!r}")
        T, C, H, W = (int(v) for v in in_shape)
        if H % patch_size or W % patch_size or H % 4 or W % 4:
            raise ConfigError(f"PastNet needs H and W divisible by model.patch_size={patch_size} and by 4, got {H}x{W}")
        if embed_dim % num_blocks:
            raise ConfigError(f"model.embed_dim={embed_dim} must be divisible by model.num_blocks={num_blocks}")
        self.in_shape = (T, C, H, W)
        self.out_frames = out_frames or T
        if self.out_frames != T:
            raise ConfigError(
                f"PastNet predicts as many frames as it reads (T_in={T}); got out_frames={self.out_frames}. "
                "Longer horizons are rolled out autoregressively by tools/infer.py."
            )
        self.vq_loss_weight = float(vq_loss_weight)
        self.fpg = FourierBranch(
            C,
            (H, W),
            patch_size=patch_size,
            embed_dim=embed_dim,
            depth=fpg_depth,
            mlp_ratio=mlp_ratio,
            num_blocks=num_blocks,
            softshrink=softshrink,
        )
        self.encoder = VQEncoder(C, hid_S, code_dim, res_layers=res_layers, res_channels=res_channels)
        self.quantizer = VectorQuantizer(
            code_dim, num_codes, decay=decay, commitment_weight=commitment_weight, restart_threshold=restart_threshold
        )
        self.translator = InceptionUNet(T * code_dim, hid_T, N_T, kernel_sizes=kernel_sizes, groups=groups, attn=attn)
        self.decoder = VQDecoder(code_dim, hid_S, C, res_layers=res_layers, res_channels=res_channels)
        self.vq_stats: dict[str, torch.Tensor] = {}

    def forward(
        self, x: torch.Tensor, return_aux: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        check_shape(x, ("B", *self.in_shape), "pastnet")
        B, T, C, H, W = x.shape
        frames = x.reshape(B * T, C, H, W)  # (B*T, C, H, W)
        physics = self.fpg(frames)  # (B*T, C, H, W)
        vq = self.quantizer(self.encoder(frames))  # quantized (B*T, D, H/4, W/4)
        _, D, h, w = vq.quantized.shape
        z = self.translator(vq.quantized.reshape(B, T * D, h, w))  # (B, T*D, h, w)
        y = self.decoder(z.reshape(B * T, D, h, w)) + physics  # (B*T, C, H, W)
        self.vq_stats = {"perplexity": vq.perplexity.detach(), "usage": vq.usage.detach()}
        y = y.reshape(B, T, C, H, W)
        if not return_aux:
            return y
        # NOTE: the released code computes the commitment loss and drops it, so its encoder is
        # trained only through the straight-through gradient; here it joins the objective by default.
        return y, ({"vq": self.vq_loss_weight * vq.loss} if self.vq_loss_weight > 0 else {})
