"""Padding to a size or size multiple: bottom/right only, the next multiple, exact inverse by cropping."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from toolkit.data.padding import PAD_MODES, crop_to, pad_to, pad_to_multiple


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize(("h", "w", "m"), [(13, 19, 8), (16, 16, 8), (1, 1, 4), (5, 3, 32), (7, 9, 1)])
def test_pad_then_crop_is_exact_and_size_is_next_multiple(mode, h, w, m):
    x = torch.randn(2, 3, h, w)
    xp, size = pad_to_multiple(x, m, mode=mode)
    assert size == (h, w)
    assert xp.shape[-2:] == (-(-h // m) * m, -(-w // m) * m)  # ceil to the multiple
    assert xp.shape[-2] - h < m and xp.shape[-1] - w < m
    assert torch.equal(xp[..., :h, :w], x)  # padding only at the bottom and right
    assert torch.equal(crop_to(xp, size), x)


def test_no_padding_returns_the_input_itself():
    x = torch.randn(1, 1, 16, 24)
    assert pad_to_multiple(x, 8)[0] is x and pad_to(x, (16, 24)) is x


def test_pad_values_per_mode():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    zeros, _ = pad_to_multiple(x, 3, mode="constant")  # (1, 1, 3, 6)
    assert torch.equal(zeros[..., 4:], torch.zeros(1, 1, 3, 2))
    reflect, _ = pad_to_multiple(x, 3, mode="reflect")
    assert torch.equal(reflect[..., 4:], x[..., [2, 1]])  # mirrored about the last column
    replicate, _ = pad_to_multiple(x, 3, mode="replicate")
    assert torch.equal(replicate[..., 4:], x[..., [3, 3]])


def test_reflect_falls_back_to_replicate_when_too_small():
    x = torch.randn(1, 2, 2, 5)
    xp, _ = pad_to_multiple(x, 8, mode="reflect")  # a pad of 6 rows cannot mirror 2 rows
    assert torch.equal(xp, F.pad(x, (0, 3, 0, 6), mode="replicate"))


def test_crop_at_output_scale():
    x = torch.randn(1, 3, 5, 7)
    xp, size = pad_to_multiple(x, 4)
    up = torch.repeat_interleave(torch.repeat_interleave(xp, 3, dim=-2), 3, dim=-1)  # a x3 "model"
    assert torch.equal(crop_to(up, size, scale=3), torch.repeat_interleave(torch.repeat_interleave(x, 3, -2), 3, -1))


def test_pad_to_a_size_for_unbatched_items():
    t = torch.ones(1, 50, 60)
    out = pad_to(t, (70, 90))
    assert out.shape == (1, 70, 90) and out.sum() == 50 * 60 and torch.equal(out[:, :50, :60], t)


def test_bad_arguments():
    x = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="pad mode must be one of"):
        pad_to_multiple(x, 2, mode="zeros")
    with pytest.raises(ValueError, match="positive integer"):
        pad_to_multiple(x, 0)
    with pytest.raises(ValueError, match="cannot pad 4x4 to the smaller size 3x4"):
        pad_to(x, (3, 4))
