"""Adaptive Fourier neural operator (AFNO): a token mixer in the Fourier domain of a 2-D token grid.

Guibas et al., "Adaptive Fourier Neural Operators: Efficient Token Mixers for Transformers",
ICLR 2022 (arXiv 2111.13587); used as the physics-guided branch of PastNet (Wu et al., arXiv
2305.11421) and of FourCastNet (Pathak et al., arXiv 2202.11214).

The operator takes the 2-D real FFT of a (B, C, H, W) token grid, applies to every frequency the
same two-layer complex MLP whose weights are block-diagonal over channels (``num_blocks`` blocks),
optionally soft-shrinks the result (sparsity in frequency), and transforms back. Its cost is
O(H W log(H W) C + H W C^2 / num_blocks) and every output token depends on every input token.
Works for any H, W (odd sizes and 1x1 included).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.modules.layers import DropPath, make_act, make_norm

__all__ = ["AFNO2d", "FourierBlock"]


class AFNO2d(nn.Module):
    """Adaptive Fourier neural operator over the (H, W) axes of a channels-first token grid.

    Args:
        channels: token width C; must be divisible by ``num_blocks``.
        num_blocks: blocks of the block-diagonal complex weights (4 in PastNet, 8 in the AFNO paper).
        mlp_ratio: width multiplier of the hidden layer of the complex MLP (``hidden_size_factor``, 1 in both papers).
        softshrink: soft-shrink threshold on the real and imaginary parts of the output spectrum;
            0 disables it (PastNet's default; the AFNO paper uses 0.01).
        bias: add a 1x1 convolution of the input to the output (the released PastNet's
            ``fno_bias`` option, off by default there).
        init_scale: std of the normal initialisation of the spectral weights (0.02).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(
        self,
        channels: int,
        *,
        num_blocks: int = 4,
        mlp_ratio: float = 1.0,
        softshrink: float = 0.0,
        bias: bool = False,
        init_scale: float = 0.02,
    ):
        super().__init__()
        if channels % num_blocks:
            raise ValueError(f"AFNO2d: channels={channels} is not divisible by num_blocks={num_blocks}")
        self.channels, self.num_blocks = channels, num_blocks
        self.softshrink = float(softshrink)
        block = channels // num_blocks
        hidden = int(block * mlp_ratio)
        # index 0 holds the real part, index 1 the imaginary part of each complex weight
        self.w1 = nn.Parameter(init_scale * torch.randn(2, num_blocks, block, hidden))
        self.b1 = nn.Parameter(init_scale * torch.randn(2, num_blocks, hidden))
        self.w2 = nn.Parameter(init_scale * torch.randn(2, num_blocks, hidden, block))
        self.b2 = nn.Parameter(init_scale * torch.randn(2, num_blocks, block))
        self.bypass = nn.Conv2d(channels, channels, 1) if bias else None

    @staticmethod
    def _complex_linear(re, im, w, b):
        # (B, k, i, H, Wf) x (k, i, o) -> (B, k, o, H, Wf), complex product written on real pairs
        def mm(x, weight):
            return torch.einsum("bkihw,kio->bkohw", x, weight)

        out_re = mm(re, w[0]) - mm(im, w[1]) + b[0][None, :, :, None, None]
        out_im = mm(re, w[1]) + mm(im, w[0]) + b[1][None, :, :, None, None]
        return out_re, out_im

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"AFNO2d expects (B, {self.channels}, H, W), got {tuple(x.shape)}")
        B, C, H, W = x.shape
        # The FFT and the spectral MLP run in float32 even under autocast: CPU FFTs have no bf16
        # kernels and half-precision spectra lose the small high-frequency coefficients.
        with torch.autocast(device_type=x.device.type, enabled=False):
            spec = torch.fft.rfft2(x.float(), dim=(2, 3), norm="ortho")  # (B, C, H, W//2+1) complex
            wf = spec.shape[-1]
            spec = spec.reshape(B, self.num_blocks, C // self.num_blocks, H, wf)  # (B, k, C/k, H, Wf)
            re, im = self._complex_linear(spec.real, spec.imag, self.w1, self.b1)
            re, im = F.relu(re), F.relu(im)
            # NOTE: the released PastNet/AFNO code computes the second layer's imaginary part from
            # the already-updated real part (a variable is overwritten); this is the true complex product.
            re, im = self._complex_linear(re, im, self.w2, self.b2)
            if self.softshrink > 0:
                re, im = F.softshrink(re, self.softshrink), F.softshrink(im, self.softshrink)
            spec = torch.complex(re, im).reshape(B, C, H, wf)  # (B, C, H, W//2+1)
            y = torch.fft.irfft2(spec, s=(H, W), dim=(2, 3), norm="ortho")  # (B, C, H, W)
        y = y.to(x.dtype)
        if self.bypass is not None:
            y = y + self.bypass(x)
        return y


class FourierBlock(nn.Module):
    """Transformer-style block with an AFNO token mixer: x + AFNO(norm(x)), then x + MLP(norm(x)).

    The MLP is two 1x1 convolutions (a per-token linear layer) with an activation between them.

    Args:
        channels: token width C.
        mlp_ratio: hidden width of the MLP as a multiple of C (2 in PastNet, 4 in AFNO).
        num_blocks, softshrink, bias: options of :class:`AFNO2d`.
        act_layer: activation of the MLP (``'gelu'``).
        norm_layer: norm before the mixer and the MLP (``'ln2d'``, LayerNorm over channels).
        drop_path: stochastic depth rate of both residual branches.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(
        self,
        channels: int,
        *,
        mlp_ratio: float = 2.0,
        num_blocks: int = 4,
        softshrink: float = 0.0,
        bias: bool = False,
        act_layer: str = "gelu",
        norm_layer: str = "ln2d",
        drop_path: float = 0.0,
    ):
        super().__init__()
        hidden = int(channels * mlp_ratio)
        self.norm1 = make_norm(norm_layer, channels)
        self.mixer = AFNO2d(channels, num_blocks=num_blocks, softshrink=softshrink, bias=bias)
        self.norm2 = make_norm(norm_layer, channels)
        # NOTE: the released PastNet MLP projects back with an adaptive average pool over the
        # hidden channels and leaves its second linear layer unused; this is the usual two-layer MLP
        # (same parameter count).
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), make_act(act_layer), nn.Conv2d(hidden, channels, 1))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.mixer(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))
