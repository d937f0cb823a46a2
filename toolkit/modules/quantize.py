"""Vector quantiser with an exponential-moving-average codebook and straight-through gradients.

van den Oord et al., "Neural Discrete Representation Learning" (VQ-VAE), NeurIPS 2017, and its
appendix on EMA codebook updates; Razavi et al., "Generating Diverse High-Fidelity Images with
VQ-VAE-2", NeurIPS 2019. Used as the memory bank of PastNet (Wu et al., arXiv 2305.11421: 512
codes of 64 dimensions, decay 0.99, commitment weight 0.25).

Every vector z of the input is replaced by its nearest code e_k. The codebook is not trained by
gradients: in training mode, with n_k the number of vectors assigned to code k and s_k their sum,

    N_k <- decay * N_k + (1 - decay) * n_k
    m_k <- decay * m_k + (1 - decay) * s_k
    e_k  = m_k / ((N_k + eps) / (sum_j N_j + K * eps) * sum_j N_j)      (Laplace smoothing)

and the encoder receives the gradient of the commitment loss ``commitment_weight * mean((z - sg(e))^2)``
plus, through the straight-through estimator ``z + sg(e - z)``, the gradient of whatever consumes
the quantised tensor. Under DDP the counts and sums are all-reduced before the update, so every
rank holds the same codebook and it equals a single-process update on the whole batch.

Optional dead-code restarts (Dhariwal et al., "Jukebox: A Generative Model for Music", arXiv
2005.00341): after the update, every code whose EMA count is below ``restart_threshold`` is moved
to a random input vector of the batch (the same vectors on every DDP rank). Off by default, as
in VQ-VAE and PastNet; it prevents the codebook collapse that small models and budgets suffer.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["VectorQuantizer", "VQOutput"]


class VQOutput(NamedTuple):
    """What :class:`VectorQuantizer` returns.

    Attributes:
        quantized: (B, D, *S) nearest codes, with straight-through gradients to the input.
        loss: scalar commitment loss (already multiplied by ``commitment_weight``).
        indices: (B, *S) int64 code index of every vector.
        perplexity: scalar exp(entropy) of the code histogram of this batch (1 = one code used,
            K = all codes used equally).
        usage: scalar fraction of the K codes used at least once in this batch.
    """

    quantized: torch.Tensor
    loss: torch.Tensor
    indices: torch.Tensor
    perplexity: torch.Tensor
    usage: torch.Tensor


class VectorQuantizer(nn.Module):
    """Nearest-code quantiser of channels-first feature maps with an EMA codebook.

    Args:
        channels: code dimension D, the channel count of the input.
        num_codes: codebook entries K.
        decay: EMA decay of the code counts and sums (0.99).
        commitment_weight: weight of the commitment loss (0.25).
        eps: Laplace smoothing of the code counts (1e-5).
        restart_threshold: restart codes whose EMA count (vectors per batch) falls below this;
            0 disables restarts.

    The codebook and its EMA statistics are buffers (``embedding`` (K, D), ``ema_count`` (K,),
    ``ema_sum`` (K, D)): they are saved in checkpoints and are not seen by the optimiser.

    Shape:
        - Input: (B, D, *S), e.g. (B, D, H, W); any number of trailing axes
        - Output: :class:`VQOutput` with ``quantized`` (B, D, *S) and ``indices`` (B, *S)
    """

    def __init__(
        self,
        channels: int,
        num_codes: int = 512,
        *,
        decay: float = 0.99,
        commitment_weight: float = 0.25,
        eps: float = 1e-5,
        restart_threshold: float = 0.0,
    ):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"VectorQuantizer: decay must be in [0, 1), got {decay}")
        self.channels, self.num_codes = channels, num_codes
        self.decay, self.commitment_weight, self.eps = decay, commitment_weight, eps
        self.restart_threshold = float(restart_threshold)
        embedding = torch.randn(num_codes, channels)
        # NOTE: the released PastNet initialises the EMA sums and the codebook with two different
        # random draws and the counts with zeros, so the first update rescales every unused code by
        # ~1/eps. Counts of one and sums equal to the codebook make e_k = m_k / N_k hold from the
        # start and leave unused codes where they are.
        self.register_buffer("embedding", embedding)
        self.register_buffer("ema_count", torch.ones(num_codes))
        self.register_buffer("ema_sum", embedding.clone())

    def extra_repr(self) -> str:
        return f"channels={self.channels}, num_codes={self.num_codes}, decay={self.decay}"

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes of ``indices`` (B, *S) as a channels-first tensor (B, D, *S)."""
        return F.embedding(indices, self.embedding).movedim(-1, 1)

    def forward(self, z: torch.Tensor) -> VQOutput:
        if z.ndim < 2 or z.shape[1] != self.channels:
            raise ValueError(f"VectorQuantizer expects (B, {self.channels}, ...), got {tuple(z.shape)}")
        flat = z.movedim(1, -1).reshape(-1, self.channels)  # (N, D), N = B * prod(S)
        # distances in float32 even under autocast: argmin over nearly equal bf16 distances is noise
        with torch.no_grad(), torch.autocast(device_type=z.device.type, enabled=False):
            f, codes = flat.detach().float(), self.embedding.float()
            dist2 = f.pow(2).sum(1, keepdim=True) - 2 * f @ codes.t() + codes.pow(2).sum(1)  # (N, K)
            indices = dist2.argmin(dim=1)  # (N,)
            counts = torch.bincount(indices, minlength=self.num_codes).to(f.dtype)  # (K,)
        quantized = F.embedding(indices, self.embedding).to(z.dtype)  # (N, D), codebook before this update
        if self.training:
            self._ema_update(f, indices, counts)

        loss = self.commitment_weight * F.mse_loss(flat.float(), quantized.detach().float())
        quantized = flat + (quantized - flat).detach()  # straight-through estimator
        probs = counts / counts.sum()
        perplexity = torch.exp(-(probs * torch.log(probs.clamp_min(1e-10))).sum())
        usage = (counts > 0).float().mean()
        spatial = z.shape[2:]
        out = quantized.reshape(z.shape[0], *spatial, self.channels).movedim(-1, 1)  # (B, D, *S)
        return VQOutput(out, loss, indices.reshape(z.shape[0], *spatial), perplexity, usage)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor, counts: torch.Tensor) -> None:
        sums = torch.zeros_like(self.ema_sum).index_add_(0, indices, flat.to(self.ema_sum.dtype))  # (K, D)
        counts = counts.to(self.ema_count.dtype, copy=True)  # all-reduced below; the caller keeps its own
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        if self.restart_threshold > 0:
            self._restart_dead_codes(flat)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (total + self.num_codes * self.eps) * total  # (K,)
        self.embedding.copy_(self.ema_sum / smoothed[:, None])

    @torch.no_grad()
    def _restart_dead_codes(self, flat: torch.Tensor) -> None:
        dead = self.ema_count < self.restart_threshold  # (K,)
        if not bool(dead.any()):
            return
        picks = flat[torch.randint(len(flat), (self.num_codes,), device=flat.device)].to(self.ema_sum.dtype)  # (K, D)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.broadcast(picks, src=0)  # every rank restarts the same codes with the same vectors
        self.ema_count[dead] = self.restart_threshold
        self.ema_sum[dead] = picks[dead] * self.restart_threshold
