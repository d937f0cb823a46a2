"""HSI patch strips: visible size, exact nearest blocks, titles with 1-based classes, a legend naming the colours."""

from __future__ import annotations

import numpy as np

from tasks.hsi.visualise import class_colors, patch_strip


def _patches():
    # the tiny config's patches: window 11, 15 PCA components; classes 0-based as the model gives them
    rng = np.random.default_rng(0)
    return rng.normal(size=(3, 15, 11, 11)).astype(np.float32), np.array([0, 2, 4]), np.array([0, 3, 4])


def test_tiles_are_visible_and_exact():
    x, t, p = _patches()
    plain = patch_strip(x, t, p, 5, labels=False)
    k = 24  # 11 * 24 = 264 >= 256
    side = 11 * k + 2 * 4 + 2 * 4  # two 4 px frames on each side
    assert plain.shape == (side, 3 * side + 2 * 4, 3)
    colours = class_colors(5)
    second = plain[:, side + 4 : 2 * side + 4]
    assert (second[:4] == colours[3]).all() and (second[4:8, 4:-4] == colours[4]).all()  # outer truth 3, inner pred 4
    inner = second[8:-8, 8:-8]
    blocks = inner.reshape(11, k, 11, k, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()  # every patch pixel is one k x k block of one colour
    # the false colour: components 1-3 stretched between their 2nd and 98th percentiles
    rgb = x[1, :3]
    lo, hi = np.percentile(rgb, 2), np.percentile(rgb, 98)
    expected = (np.clip((rgb - lo) / (hi - lo + 1e-8), 0, 1).transpose(1, 2, 0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(blocks[:, 0, :, 0], expected)


def test_titles_and_class_legend():
    x, t, p = _patches()
    names = ["corn", "grass", "hay", "oats", "soy"]
    plain = patch_strip(x, t, p, 5, labels=False)
    picture = patch_strip(x, t, p, 5, class_names=names)
    assert min(picture.shape[:2]) >= 256 and picture.shape[1] == plain.shape[1]
    np.testing.assert_array_equal(picture[22 : 22 + plain.shape[0]], plain)  # titles above, data untouched
    assert (picture[:22] < 128).any()
    below = picture[22 + plain.shape[0] :]
    colours = class_colors(5)
    for c in (1, 3, 4, 5):  # the classes the tiles show, 1-based, each with a swatch in the legend
        assert (below == colours[c]).all(axis=2).sum() >= 12 * 12, c
    assert (below == colours[2]).all(axis=2).sum() == 0  # class 2 is in no tile
    other = patch_strip(x, t, p, 5, class_names=["a", "b", "c", "d", "e"])
    assert not np.array_equal(other[22 + plain.shape[0] :], below)  # the names are written
