"""Swin window attention: locality of windows, shift regions, padding masks, patch merging."""

from __future__ import annotations

import torch

from toolkit.modules.window_attention import PatchMerging, SwinBlock, _relative_position_index


def test_relative_position_index():
    idx = _relative_position_index(3)
    assert idx.shape == (9, 9)
    assert idx.min() == 0 and idx.max() == 24  # (2M - 1)^2 - 1
    assert (idx.diagonal() == 2 * 5 + 2).all()  # zero offset sits at the table's centre
    assert idx[0, 8] == 0 and idx[8, 0] == 24  # offsets (-2, -2) and (+2, +2)


def test_unshifted_windows_do_not_interact():
    torch.manual_seed(0)
    m = SwinBlock(8, 2, window_size=4).eval()
    x = torch.randn(1, 8, 8, 8)
    x2 = x.clone()
    x2[:, :, 0, 0] += torch.randn(8)  # not a constant: LayerNorm would remove that
    changed = (m(x2) - m(x)).abs().sum(1)[0] > 1e-6  # (H, W)
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[:4, :4] = True
    assert torch.equal(changed, expected)


def test_shifted_window_masks_wrapped_regions():
    torch.manual_seed(0)
    m = SwinBlock(8, 2, window_size=8, shift=True).eval()  # one window; the roll wraps quadrants together
    x = torch.randn(1, 8, 8, 8)
    x2 = x.clone()
    x2[:, :, 0, 0] += torch.randn(8)  # not a constant: LayerNorm would remove that
    changed = (m(x2) - m(x)).abs().sum(1)[0] > 1e-6
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[:4, :4] = True  # only the original neighbours of (0, 0) in its quadrant
    assert torch.equal(changed, expected)


def test_padding_tokens_are_masked():
    torch.manual_seed(0)
    m = SwinBlock(8, 2, window_size=4).eval()
    x = torch.randn(1, 8, 5, 5)  # padded to 8x8; pixel (4, 4) shares its window with 15 padding tokens only
    t = x[0, :, 4, 4]
    v = m.attn.qkv(m.norm1(t))[16:]  # a token attending only to itself returns its own value
    t = t + m.attn.proj(v)
    expected = t + m.mlp(m.norm2(t))
    torch.testing.assert_close(m(x)[0, :, 4, 4], expected)


def test_swin_block_odd_sizes_and_gradients():
    m = SwinBlock(16, 4, window_size=4, shift=True)
    x = torch.randn(2, 16, 7, 9, requires_grad=True)
    y = m(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


def test_patch_merging():
    m = PatchMerging(4)
    assert m(torch.randn(2, 4, 7, 9)).shape == (2, 8, 4, 5)
    assert sum(p.numel() for p in m.parameters()) == 2 * 16 + 16 * 8  # LayerNorm(4C) + Linear(4C, 2C) no bias
    torch.nn.init.eye_(m.reduction.weight)  # (8, 16): output keeps the first 8 of the 16 concatenated channels
    m.norm = torch.nn.Identity()
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(1, 4, 1, 1)
    y = m(x)[0, :, 0, 0]  # neighbours (0,0), (1,0) of channels 0..3
    assert y.tolist() == [0.0] * 4 + [4.0] * 4
