"""Vector quantiser: nearest codes, EMA update against a hand computation, straight-through
gradients, commitment loss, codebook usage and perplexity, buffers and eval mode."""

from __future__ import annotations

import math

import pytest
import torch

from toolkit.modules.quantize import VectorQuantizer

CODES = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
# four 2-D vectors as a (B=1, D=2, H=2, W=2) map: nearest codes 0, 1, 1, 2
VECTORS = torch.tensor([[0.1, 0.0], [0.9, 0.2], [1.1, -0.2], [0.0, 0.8]])


def _quantizer(num_codes: int = 3, **kw) -> VectorQuantizer:
    vq = VectorQuantizer(2, num_codes, **kw)
    codes = torch.cat([CODES, torch.full((num_codes - 3, 2), 5.0)]) if num_codes > 3 else CODES
    vq.embedding.copy_(codes)
    vq.ema_sum.copy_(codes)
    return vq


def _as_map(v: torch.Tensor) -> torch.Tensor:
    return v.reshape(1, 2, 2, 2).permute(0, 3, 1, 2).contiguous()  # (1, D=2, 2, 2); vector i at (i // 2, i % 2)


def test_nearest_codes_usage_and_perplexity():
    vq = _quantizer(num_codes=4).eval()  # code 3 is never the nearest
    out = vq(_as_map(VECTORS))
    assert out.indices.tolist() == [[[0, 1], [1, 2]]]
    torch.testing.assert_close(out.quantized, _as_map(CODES[[0, 1, 1, 2]]))
    # histogram (1/4, 1/2, 1/4, 0): entropy 1.5 ln 2, perplexity 2^1.5
    assert out.perplexity.item() == pytest.approx(2**1.5, rel=1e-6)
    assert out.usage.item() == pytest.approx(0.75)
    # commitment loss 0.25 * mean squared distance to the chosen codes
    sq = (VECTORS - CODES[[0, 1, 1, 2]]).pow(2).sum().item()  # 0.01 + 0.05 + 0.05 + 0.04
    assert out.loss.item() == pytest.approx(0.25 * sq / 8, rel=1e-6)
    torch.testing.assert_close(vq.lookup(out.indices), out.quantized)


@pytest.mark.parametrize(
    "decay, expected",
    [
        # decay 0.5: counts N = 0.5 * 1 + 0.5 * (1, 2, 1) = (1, 1.5, 1); sums
        # m0 = 0.5*(0,0) + 0.5*(0.1,0) = (0.05, 0); m1 = 0.5*(1,0) + 0.5*(2.0, 0) = (1.5, 0); m2 = (0, 0.9)
        (0.5, [[0.05, 0.0], [1.0, 0.0], [0.0, 0.9]]),
        # decay 0.99: N = (1, 1.01, 1); m0 = 0.01*(0.1, 0); m1 = (0.99 + 0.02, 0); m2 = (0, 0.99 + 0.008)
        (0.99, [[0.001, 0.0], [1.0, 0.0], [0.0, 0.998]]),
    ],
)
def test_ema_update_matches_hand_computation(decay, expected):
    vq = _quantizer(decay=decay, eps=0.0).train()
    out = vq(_as_map(VECTORS))
    torch.testing.assert_close(out.quantized, _as_map(CODES[[0, 1, 1, 2]]))  # quantised with the old codes
    torch.testing.assert_close(vq.embedding, torch.tensor(expected), rtol=0, atol=1e-6)
    counts = torch.tensor([1.0, 2.0, 1.0])
    torch.testing.assert_close(vq.ema_count, decay + (1 - decay) * counts)


def test_unused_codes_stay_put():
    # counts start at one and sums at the codes, so an unused code decays in count and sum alike
    # and keeps its value (a zero-count start would divide it by ~eps on the first update)
    vq = _quantizer(num_codes=4, decay=0.99, eps=1e-5).train()
    for _ in range(20):
        vq(_as_map(VECTORS))
    torch.testing.assert_close(vq.ema_count[3], torch.tensor(0.99**20))
    torch.testing.assert_close(vq.embedding[3], torch.tensor([5.0, 5.0]), rtol=1e-4, atol=0)


def test_dead_codes_restart_on_batch_vectors():
    # decay 0.5: counts become (1, 1.5, 1, 0.5); only code 3 falls below the threshold 1.0
    vq = _quantizer(num_codes=4, decay=0.5, eps=0.0, restart_threshold=1.0).train()
    torch.manual_seed(0)
    vq(_as_map(VECTORS))
    assert any(torch.equal(vq.embedding[3], v) for v in VECTORS)
    torch.testing.assert_close(vq.ema_count, torch.tensor([1.0, 1.5, 1.0, 1.0]))
    torch.testing.assert_close(vq.embedding[:3], torch.tensor([[0.05, 0.0], [1.0, 0.0], [0.0, 0.9]]))


def test_eval_mode_leaves_the_codebook_alone():
    vq = _quantizer().eval()
    before = {k: v.clone() for k, v in vq.state_dict().items()}
    vq(_as_map(VECTORS))
    for k, v in vq.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_straight_through_gradient_and_commitment_gradient():
    vq = _quantizer().train()
    z = _as_map(VECTORS).requires_grad_(True)
    w = torch.randn(1, 2, 2, 2)
    out = vq(z)
    (out.quantized * w).sum().backward()
    torch.testing.assert_close(z.grad, w)  # identity through the quantiser
    z.grad = None
    out = vq.eval()(z)
    out.loss.backward()  # d/dz 0.25 * mean((z - e)^2) = 0.5 * (z - e) / numel
    codes = vq.lookup(out.indices).detach()
    torch.testing.assert_close(z.grad, 0.5 * (z.detach() - codes) / z.numel())


def test_codebook_is_buffers_not_parameters():
    vq = VectorQuantizer(64, 512)
    assert list(vq.parameters()) == []
    assert {k: tuple(v.shape) for k, v in vq.state_dict().items()} == {
        "embedding": (512, 64),
        "ema_count": (512,),
        "ema_sum": (512, 64),
    }


def test_works_on_any_trailing_axes_and_under_autocast():
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 16)
    z = torch.randn(3, 4, 5)  # (B, D, L)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = vq(z)
    assert out.quantized.shape == z.shape and out.indices.shape == (3, 5)
    assert 1.0 <= out.perplexity.item() <= 15 and 0 < out.usage.item() <= 15 / 16
    assert math.isfinite(out.loss.item())


def test_wrong_channel_count_is_reported():
    with pytest.raises(ValueError, match=r"\(B, 2, \.\.\.\)"):
        _quantizer()(torch.randn(1, 3, 2, 2))
