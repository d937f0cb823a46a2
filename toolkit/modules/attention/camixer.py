"""Content-aware mixer (CAMixer): convolution everywhere, deformable window attention where it pays.

Y. Wang, Y. Liu, S. Zhao, J. Li, L. Zhang, "CAMixerSR: Only Details Need More 'Attention'",
CVPR 2024 (arXiv 2402.19289), Sec. 3.2. Operation order as in the authors' released code
(github icandle/CAMixerSR, ``codes/basicsr/archs/CAMixerSR_arch.py``), read and re-written here.

The input is cut into non-overlapping ``window x window`` windows. A predictor reads the value
projection ``v = W_v x`` (plus, in CAMixerSR, the network's global condition map) and each
pixel's position inside its window, and returns

- offsets ``(dx, dy) = 8 tanh(.)`` per pixel: keys are ``k = x + warp(x, offsets)`` (bilinear,
  border padding, ``align_corners=True``, pixel offsets normalised by ``W - 1`` and ``H - 1``, as
  BasicSR's ``flow_warp``);
- a score per window (a two-way softmax over an MLP of the window's channel-mean map): the mask
  that routes the window to attention (class 0) or to convolution only;
- a spatial attention ``sa`` (3x3 convolution, sigmoid) and a channel attention ``ca`` (global
  average pool, 1x1 convolution, sigmoid).

Routed windows get self-attention ``softmax(W_q x (W_k k)^T) v`` among their ``window^2`` pixels
(no 1/sqrt(d) scaling, as released); the others keep ``v * sa``. Then, on the whole map,
``out = GELU(dw3x3_dilated2(dw3x3(a))) * ca + a`` and a 1x1 projection.

Training (``module.train()``): every window is computed; a hard Gumbel-softmax sample of the
scores (straight-through gradients) multiplies the attention inputs, so the forward equals hard
routing while the predictor receives gradients. Inference (``module.eval()``): the windows are
ranked by score and only the first ``K`` go through attention. The released code takes
``K = min(int(N * r * 2 * ratio), N)`` (``K = N`` at ratio 1) for ``N`` windows, where ``r`` is the
fraction of windows a Gumbel draw routes to attention; here ``r`` is that draw's expectation and
the count is rounded (:func:`window_count`). CAMixerSR trains with the ratio loss
``2 ratio (mean(m) - 1/2)^2``, which holds that fraction near 1/2, so ``K`` is about ``ratio * N``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.errors import ConfigError
from toolkit.modules.layers import LayerNorm2d
from toolkit.registry import ATTENTION

__all__ = ["CAMixer", "MixerPredictor", "flow_warp", "to_windows", "from_windows", "window_count"]

COUNTS = ("expected", "sampled")


def to_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """Cut (B, C, H, W) into windows, row-major over windows and over the pixels inside each.

    Shape:
        - Input: (B, C, H, W) with H, W multiples of ``window``
        - Output: (B, N, window^2, C), N = (H / window) (W / window)
    """
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // window, window, w // window, window)  # (B, C, h, wh, w, ww)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // window) * (w // window), window * window, c)


def from_windows(x: torch.Tensor, window: int, size: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`to_windows`.

    Shape:
        - Input: (B, N, window^2, C)
        - Output: (B, C, H, W) with ``size = (H, W)``
    """
    b, _, _, c = x.shape
    h, w = size[0] // window, size[1] // window
    x = x.reshape(b, h, w, window, window, c)  # (B, h, w, wh, ww, C)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, c, size[0], size[1])


def flow_warp(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` at every pixel moved by ``offsets`` (dx, dy in pixels); bilinear, border padding.

    Pixel centres are at integer positions and ``(0, W - 1)`` maps to ``(-1, 1)`` (``align_corners=True``),
    so zero offsets return ``x`` itself.

    Shape:
        - Input: x (B, C, H, W); offsets (B, 2, H, W), channel 0 along W, channel 1 along H
        - Output: (B, C, H, W)
    """
    _, _, h, w = x.shape
    # NOTE: the sampling grid is built and used in float32 also under autocast: positions of a large
    # image are not representable in bf16 (8-bit mantissa), and grid_sample needs one dtype.
    offsets = offsets.float()
    gx = torch.arange(w, device=x.device, dtype=torch.float32).view(1, 1, w) + offsets[:, 0]  # (B, H, W)
    gy = torch.arange(h, device=x.device, dtype=torch.float32).view(1, h, 1) + offsets[:, 1]  # (B, H, W)
    grid = torch.stack((2.0 * gx / max(w - 1, 1) - 1.0, 2.0 * gy / max(h - 1, 1) - 1.0), dim=3)  # (B, H, W, 2)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.to(x.dtype)


def window_count(scores: torch.Tensor, ratio: float, count: str = "expected") -> torch.Tensor:
    """How many windows of each image get attention at inference (the ``K`` of the module docstring).

    Args:
        scores: (B, N, 2) two-way softmax per window; class 0 is attention.
        ratio: the target share of attention windows (1 routes every window).
        count: ``'expected'``: ``round(N * mean(sigmoid(p0 - p1)) * 2 * ratio)``, the probability that
            the Gumbel draw routes a window to attention, averaged; ``'sampled'``: the released test-time
            rule, ``int(N * r * 2 * ratio)`` with ``r`` the share a fresh draw routes (random).

    Returns:
        (B,) long tensor of counts in [0, N].
    """
    n = scores.shape[1]
    if ratio >= 1:
        return torch.full((scores.shape[0],), n, dtype=torch.long, device=scores.device)
    scores = scores.float()
    if count == "sampled":
        # the released code passes the softmax output to gumbel_softmax as if it were logits
        r = F.gumbel_softmax(scores, hard=True, dim=-1)[..., 0].mean(dim=1)  # (B,)
        k = (n * r * 2 * ratio).floor()
    else:
        # NOTE: the released code draws r (above) at test time, so its outputs vary from run to run. One
        # deterministic function instead: r's expectation, P(class 0) = softmax((p0, p1))[0], and the count
        # rounded, not floored: n r is a whole number in the draw, so at ratio 1/2 the released count
        # averages n E[r] exactly; flooring it would attend half a window fewer per block on average.
        r = torch.sigmoid(scores[..., 0] - scores[..., 1]).mean(dim=1)  # (B,)
        k = (n * r * 2 * ratio + 0.5).floor()
    # NOTE: the released code takes one count for the whole batch (r averaged over the batch); per
    # image here, so that an image's output does not depend on its batch-mates (equal at batch 1).
    return k.long().clamp(max=n)


class MixerPredictor(nn.Module):
    """The predictor of CAMixer: offsets, window scores, spatial and channel attention.

    Args:
        channels: channels C of the mixer (the channel attention's width).
        in_channels: channels of the condition it reads (C + extra condition + 2 window coordinates).
        window: window side (the score MLP reads ``window^2`` values per window).

    Shape:
        - Input: (B, in_channels, H, W), H and W multiples of ``window``
        - Output: scores (B, N, 2), offsets (B, 2, H, W) in pixels, ca (B, C, 1, 1), sa (B, 1, H, W)
    """

    def __init__(self, channels: int, in_channels: int, window: int):
        super().__init__()
        # NOTE: widths in_channels // 4 and // 8 as released, floored at 1 so that narrow hosts (a few
        # channels in an attention slot) still build; the published sizes are not affected.
        hidden, small = max(1, in_channels // 4), max(1, in_channels // 8)
        self.window = window
        self.in_conv = nn.Sequential(nn.Conv2d(in_channels, hidden, 1), LayerNorm2d(hidden), nn.LeakyReLU(0.1))
        self.offsets = nn.Sequential(nn.Conv2d(hidden, small, 1), nn.LeakyReLU(0.1), nn.Conv2d(small, 2, 1))
        self.mask = nn.Sequential(
            nn.Linear(window * window, window), nn.LeakyReLU(0.1), nn.Linear(window, 2), nn.Softmax(dim=-1)
        )
        self.channel_attn = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(hidden, channels, 1), nn.Sigmoid())
        self.spatial_attn = nn.Sequential(nn.Conv2d(hidden, 1, 3, padding=1), nn.Sigmoid())

    def forward(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.in_conv(cond)  # (B, hidden, H, W)
        offsets = self.offsets(x).tanh() * 8.0  # (B, 2, H, W)
        ca = self.channel_attn(x)  # (B, C, 1, 1)
        sa = self.spatial_attn(x)  # (B, 1, H, W)
        pooled = to_windows(x.mean(dim=1, keepdim=True), self.window)[..., 0]  # (B, N, window^2)
        return self.mask(pooled), offsets, ca, sa


@ATTENTION.register("camixer")
class CAMixer(nn.Module):
    """Content-aware mixer: window attention for the highest-scoring windows, convolution for all.

    Args:
        channels: channels C.
        window: window side: 8 as the released CAMixer class (CAMixerSR passes 16); an attention slot sees
            smaller maps than an image (SimVP's translator: 16x16), where 8 still leaves windows to route.
        ratio: share of windows routed to attention at inference (0 routes none, 1 all; paper: 0.5).
        cond_channels: channels of an extra condition map given to ``forward`` (CAMixerSR: 2, its
            global predictor's output); 0 in an attention slot.
        count: how the inference count ``K`` is taken (:func:`window_count`): ``'expected'``
            (deterministic) or ``'sampled'`` (random, as the released test code).

    Inputs whose sides are not multiples of ``window`` are padded at the bottom and right (mirrored,
    or repeated when smaller than the pad) and the output is cropped back; CAMixerSR pads its
    input image once instead.

    Shape:
        - Input: (B, C, H, W); ``cond`` (B, cond_channels, H, W)
        - Output: (B, C, H, W); with ``return_decision`` also (B,): the share of windows routed to
          attention (the mean hard mask in training, K / N at inference)
    """

    paper = "CAMixerSR: Only Details Need More 'Attention' (Wang et al., CVPR 2024)"

    def __init__(
        self, channels: int, *, window: int = 8, ratio: float = 0.5, cond_channels: int = 0, count: str = "expected"
    ):
        super().__init__()
        if window < 1:
            raise ConfigError(f"camixer: window must be a positive number of pixels, got {window}")
        if not 0.0 <= ratio <= 1.0:
            raise ConfigError(f"camixer: ratio is the share of windows given attention, in [0, 1]; got {ratio}")
        if count not in COUNTS:
            raise ConfigError(f"camixer: count must be one of {COUNTS}, got {count!r}")
        self.channels, self.window, self.ratio, self.count = channels, window, float(ratio), count
        self.cond_channels = cond_channels
        self.proj_v = nn.Conv2d(channels, channels, 1)
        self.proj_q = nn.Linear(channels, channels)
        self.proj_k = nn.Linear(channels, channels)
        self.conv = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
            nn.Conv2d(channels, channels, 3, padding=2, dilation=2, groups=channels),
        )
        self.act = nn.GELU()
        self.proj_out = nn.Conv2d(channels, channels, 1)
        self.predictor = MixerPredictor(channels, channels + cond_channels + 2, window)
        # each pixel's (row, column) position inside its window, in [-1, 1]
        ramp = torch.linspace(-1, 1, window)
        coords = torch.stack(torch.meshgrid(ramp, ramp, indexing="ij"))[None]  # (1, 2, window, window)
        self.register_buffer("coords", coords, persistent=False)

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor | None = None, return_decision: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if (cond is None) != (self.cond_channels == 0):
            raise ConfigError(
                f"camixer: built with cond_channels={self.cond_channels} but called "
                f"{'without' if cond is None else 'with'} a condition map"
            )
        h, w = x.shape[-2:]
        ph, pw = -h % self.window, -w % self.window
        if ph or pw:
            x = _pad(x, ph, pw)
            cond = _pad(cond, ph, pw) if cond is not None else None
        out, decision = self._mix(x, cond)
        out = out[..., :h, :w]
        return (out, decision) if return_decision else out

    def _mix(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = x.shape
        ws = self.window
        v = self.proj_v(x)  # (B, C, H, W)
        coords = self.coords.to(x.dtype).repeat(b, 1, h // ws, w // ws)  # (B, 2, H, W)
        parts = [v] if cond is None else [v, cond.to(v.dtype)]
        scores, offsets, ca, sa = self.predictor(torch.cat([*parts, coords], dim=1))
        k = x + flow_warp(x, offsets)  # deformed keys (B, C, H, W)
        q_w, k_w = to_windows(x, ws), to_windows(k, ws)  # (B, N, T, C), T = window^2
        v_w, vs_w = to_windows(v, ws), to_windows(v * sa, ws)  # (B, N, T, C)
        n = q_w.shape[1]
        if self.training:
            # hard sample in the forward, softmax gradients in the backward (straight-through)
            mask = F.gumbel_softmax(scores.float(), hard=True, dim=-1)[..., :1].to(v.dtype)  # (B, N, 1)
            m = mask[..., None]  # (B, N, 1, 1)
            attended = _attend(self.proj_q(q_w * m), self.proj_k(k_w * m), v_w * m)  # (B, N, T, C)
            out_w = attended + vs_w * (1 - m)
            decision = mask[..., 0].mean(dim=1)  # (B,)
        else:
            keep = window_count(scores, self.ratio, self.count)  # (B,)
            order = scores[..., 0].argsort(dim=1, descending=True)  # (B, N), highest attention score first
            rank = torch.empty_like(order).scatter_(1, order, torch.arange(n, device=x.device).expand(b, n))
            chosen = (rank < keep[:, None]).reshape(-1)  # (B*N,)
            out_w = vs_w.reshape(b * n, ws * ws, c).clone()  # (B*N, T, C)
            idx = chosen.nonzero()[:, 0]
            if idx.numel():
                q_s = q_w.reshape(b * n, ws * ws, c)[idx]  # (K_total, T, C)
                k_s = k_w.reshape(b * n, ws * ws, c)[idx]
                v_s = v_w.reshape(b * n, ws * ws, c)[idx]
                out_w[idx] = _attend(self.proj_q(q_s), self.proj_k(k_s), v_s).to(out_w.dtype)
            out_w = out_w.reshape(b, n, ws * ws, c)
            decision = keep.to(v.dtype) / n
        mixed = from_windows(out_w, ws, (h, w))  # (B, C, H, W)
        mixed = self.act(self.conv(mixed)) * ca + mixed
        return self.proj_out(mixed), decision


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # NOTE: no 1/sqrt(C) scaling of the logits, as in the released model (its weights expect none)
    return (q @ k.transpose(-2, -1)).softmax(dim=-1) @ v  # (..., T, C)


def _pad(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """Bottom/right padding: mirrored, or repeated when a side is not longer than its pad."""
    mode = "reflect" if ph < x.shape[-2] and pw < x.shape[-1] else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
