"""Restormer: the published 26.13M size, MDTA / GDFN sizes, padding needs, attention swap."""

from __future__ import annotations

import pytest
import torch

from tasks.restoration.models.restormer import Restormer
from tasks.restoration.tiling import forward_padded
from toolkit.errors import DataError
from toolkit.modules.attention.mdta import MDTA
from toolkit.modules.gdfn import GDFN


def _n(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_published_parameter_count():
    # Zamir et al., CVPR 2022: dim 48, blocks [4, 6, 6, 8], heads [1, 2, 4, 8], 4 refinement, 2.66, no bias
    n = _n(Restormer())
    assert n == 26_126_644
    assert round(n / 1e6, 2) == 26.13
    # the bias-free LayerNorm (the authors' denoising setting) drops one bias vector per norm
    assert _n(Restormer(norm_layer="ln2d_bias_free")) == 26_111_668


def test_block_sizes():
    c = 48
    assert _n(MDTA(c, num_heads=2)) == 3 * c * c + 27 * c + c * c + 2
    assert _n(MDTA(c, num_heads=1, bias=True)) == 3 * c * c + 27 * c + c * c + 1 + 7 * c
    hidden = int(48 * 2.66)  # 127
    assert GDFN(c).hidden_channels == hidden
    assert _n(GDFN(c)) == c * 2 * hidden + 9 * 2 * hidden + hidden * c


def test_mdta_equals_channel_attention_by_hand():
    # identity projections make q = k = v = x: per head, out = softmax(t * n(x) n(x)^T) x with rows of x
    # L2-normalised over the pixels, an attention map of C/h x C/h
    c, heads = 4, 2
    m = MDTA(c, num_heads=heads)
    with torch.no_grad():
        m.qkv.weight.copy_(torch.eye(c).repeat(3, 1).view(3 * c, c, 1, 1))
        m.qkv_dwconv.weight.zero_()
        m.qkv_dwconv.weight[:, 0, 1, 1] = 1.0
        m.project_out.weight.copy_(torch.eye(c).view(c, c, 1, 1))
        m.temperature.fill_(2.0)
    x = torch.randn(1, c, 5, 6)
    xs = x.reshape(1, heads, c // heads, 30)  # (B, heads, C/heads, HW)
    n = xs / xs.norm(dim=-1, keepdim=True)
    expected = (torch.softmax(2.0 * n @ n.transpose(-2, -1), dim=-1) @ xs).reshape(1, c, 5, 6)
    torch.testing.assert_close(m(x), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="must divide"):
        MDTA(6, num_heads=4)


def _tiny(**kw) -> Restormer:
    return Restormer(channels=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, num_heads=(1, 2, 2, 4), **kw)


def test_tiny_forward_backward_and_residual():
    torch.manual_seed(0)
    m = _tiny()
    x = torch.rand(2, 3, 16, 24, requires_grad=True)
    y = m(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None]
    assert not missing
    with torch.no_grad():  # zero output convolution: the global residual returns the input
        m.output.weight.zero_()
        assert torch.equal(m(x), x)


def test_size_multiple_and_padding():
    m = _tiny().eval()
    with pytest.raises(DataError, match="divisible by 8"):
        m(torch.rand(1, 3, 13, 19))
    with torch.no_grad():
        y = forward_padded(m, torch.rand(1, 3, 13, 19))
    assert y.shape == (1, 3, 13, 19)


def test_attention_slot_swaps_and_heads_follow_levels():
    m = _tiny()
    assert isinstance(m.encoder1[0].attn, MDTA) and m.latent[0].attn.num_heads == 4
    se = _tiny(attn=dict(type="se", reduction=4))
    assert type(se.encoder2[0].attn).__name__ != "MDTA"
    assert se(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)
