"""SAFMN: published parameter counts, shapes, the swappable attention slot, SAFM's contract."""

from __future__ import annotations

import pytest
import torch

from tasks.restoration.models.safmn import SAFMN
from toolkit.errors import DataError
from toolkit.modules.attention import build_attention
from toolkit.modules.attention.safm import SAFM
from toolkit.registry import MODELS


def _n(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("scale, expected", [(2, 227_820), (3, 232_695), (4, 239_520)])
def test_published_parameter_counts(scale, expected):
    # Sun et al., ICCV 2023, C = 36, N = 8
    assert _n(SAFMN(channels=36, num_blocks=8, upscale=scale)) == expected


def test_safm_block_size_and_levels():
    assert _n(SAFM(36)) == 4 * (9 * 9 + 9) + 36 * 36 + 36  # 1,692
    m = SAFM(10)  # 10 channels over 4 levels: 3, 3, 2, 2
    assert m.splits == [3, 3, 2, 2]
    for shape in [(1, 10, 1, 1), (2, 10, 7, 9), (1, 10, 3, 64)]:
        x = torch.randn(shape)
        assert m(x).shape == x.shape


def test_safm_modulates_its_input():
    # the block multiplies its input: a zero input gives a zero output whatever the weights
    m = SAFM(8)
    assert m(torch.zeros(1, 8, 9, 9)).abs().max() == 0


def test_forward_shapes_and_backward():
    m = MODELS.build(dict(type="safmn", channels=16, num_blocks=2, upscale=3))
    x = torch.rand(2, 3, 11, 13, requires_grad=True)
    y = m(x)
    assert y.shape == (2, 3, 33, 39)
    y.mean().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_attention_slot_is_swappable():
    base = SAFMN(channels=16, num_blocks=2)
    assert isinstance(base.feats[0].attn, SAFM)
    se = SAFMN(channels=16, num_blocks=2, attn=dict(type="se", reduction=4))
    assert type(se.feats[0].attn).__name__ == type(build_attention("se", 16)).__name__
    none = SAFMN(channels=16, num_blocks=2, attn=None)
    assert _n(none) == _n(base) - 2 * _n(SAFM(16))
    assert se(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)


def test_bad_input_is_named():
    with pytest.raises(DataError, match=r"\(B, 3, H, W\)"):
        SAFMN(channels=8, num_blocks=1)(torch.rand(1, 1, 8, 8))
