"""Tiled inference: equal to whole-image inference for local models, padding to size multiples."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tasks.restoration.tiling import blend_weights, forward_padded, tile_starts, tiled_forward
from toolkit.errors import ConfigError


class _LocalSR(nn.Module):
    """Three 3x3 convolutions (receptive radius 3 input px) and a x2 pixel shuffle."""

    def __init__(self, size_multiple: int = 1):
        super().__init__()
        self.size_multiple = size_multiple
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(8, 12, 3, padding=1),
            nn.PixelShuffle(2),
        )

    def forward(self, x):
        if x.shape[-1] % self.size_multiple or x.shape[-2] % self.size_multiple:
            raise AssertionError("input not padded to the size multiple")
        return self.body(x)


def test_tile_starts_cover_with_overlap():
    assert tile_starts(10, 16, 4) == [0]
    starts = tile_starts(100, 32, 8)
    assert starts[0] == 0 and starts[-1] == 68
    assert all(b - a <= 24 for a, b in zip(starts, starts[1:]))


def test_weights_vanish_near_shared_edges_only():
    w = blend_weights((64, 64), (16, 0), (32, 32), overlap=16, scale=1, device="cpu", dtype=torch.float64)
    assert w[:4].abs().max() == 0 and w[-4:].abs().max() == 0  # shared top and bottom edges: 4 px margins
    assert w[16, 0] == 1  # the left edge is the image border: full weight


@pytest.mark.parametrize("multiple", [1, 8])
def test_tiled_equals_whole_image_for_local_model(multiple):
    torch.manual_seed(0)
    model = _LocalSR(multiple).eval()
    x = torch.rand(2, 3, 45, 61)
    with torch.no_grad():
        whole = forward_padded(model, x)
    tiled = tiled_forward(model, x, tile=24, overlap=16, batch_size=3)  # margin 4 >= receptive radius 3
    assert tiled.shape == whole.shape == (2, 3, 90, 122)
    if multiple == 1:
        torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)
    else:  # padding changes the content near the padded image border only
        torch.testing.assert_close(tiled[..., :80, :112], whole[..., :80, :112], atol=1e-5, rtol=0)


def test_too_small_overlap_shows_seams():
    torch.manual_seed(0)
    model = _LocalSR().eval()
    x = torch.rand(1, 3, 45, 61)
    with torch.no_grad():
        whole = model(x)
    tiled = tiled_forward(model, x, tile=24, overlap=4)  # margin 1 < radius 3
    assert (tiled - whole).abs().max() > 1e-3


def test_overlap_must_be_smaller_than_tile():
    # a ConfigError (one line from the tools), naming both values; the tile is rounded to the size multiple first
    with pytest.raises(ConfigError, match="overlap 16 must be smaller than tile 16"):
        tiled_forward(_LocalSR(), torch.rand(1, 3, 40, 40), tile=16, overlap=16)
    with pytest.raises(ConfigError, match=r"overlap 16 must be smaller than tile 16 \(20 rounded down to .* 8\)"):
        tiled_forward(_LocalSR(), torch.rand(1, 3, 40, 40), tile=20, overlap=16, multiple=8)
    with pytest.raises(ConfigError, match="the tile must be positive, the overlap >= 0"):
        tiled_forward(_LocalSR(), torch.rand(1, 3, 40, 40), tile=16, overlap=-1)
