"""Pictures people can see: exact nearest-neighbour enlargement, titles, legends, the run folder's safety net."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from toolkit.engine.pictures import column, enlarge, factor_for, legend, row, text_band, titled
from toolkit.engine.runlog import RunLog, save_picture


def test_factor_is_the_least_whole_factor_reaching_256():
    assert factor_for(32, 32) == 8 and factor_for(11, 40) == 24 and factor_for(100, 300) == 3
    assert factor_for(256, 999) == 1 and factor_for(600, 400) == 1
    assert factor_for(5, 5, min_side=128) == 26


def test_enlarge_repeats_every_pixel_as_a_block():
    img = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8)  # (1, 2, 3)
    big = enlarge(img, 3)
    assert big.shape == (3, 6, 3)
    assert (big[:, :3] == [1, 2, 3]).all() and (big[:, 3:] == [4, 5, 6]).all()
    frames = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)  # (F, H, W, 3)
    movie = enlarge(frames, 2)
    assert movie.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(movie[1, 2:, 2:], np.broadcast_to(frames[1, 1, 1], (2, 2, 3)))
    auto = enlarge(np.zeros((10, 20, 3), np.uint8))
    assert auto.shape == (260, 520, 3)  # factor 26: 10 * 26 >= 256
    same = np.zeros((300, 256, 3), np.uint8)
    assert enlarge(same) is same


def test_title_band_draws_text_above_and_leaves_the_picture():
    img = np.full((40, 120, 3), 200, np.uint8)
    out = titled(img, "prediction")
    assert out.shape == (22 + 40, 120, 3)
    np.testing.assert_array_equal(out[22:], img)
    assert (out[:22] < 128).any() and (out[:22] == 255).mean() > 0.8  # black text on white
    other = titled(img, "target")
    assert not np.array_equal(out[:22], other[:22])  # the text, not a fixed band
    long = text_band("a title far too long for a band only forty pixels wide", 40)
    assert long.shape == (22, 40, 3)  # cut to the width, never wider


def test_legend_shows_each_colour_with_its_label_and_wraps():
    red, green = (255, 0, 0), (0, 200, 0)
    band = legend([(red, "missed"), (green, "detected")], 300)
    assert band.shape == (22, 300, 3)
    assert (band == red).all(axis=2).sum() >= 12 * 12 and (band == green).all(axis=2).sum() >= 12 * 12
    narrow = legend([(red, "missed target"), (green, "detected target")], 130)
    assert narrow.shape == (44, 130, 3)  # one item per line


def test_row_and_column_pad_with_white():
    a, b = np.zeros((2, 3, 3), np.uint8), np.zeros((4, 1, 3), np.uint8)
    r = row([a, b], gap=2)
    assert r.shape == (4, 3 + 2 + 1, 3) and (r[2:, :3] == 255).all() and (r[:, 3:5] == 255).all()
    c = column([a, b], gap=1)
    assert c.shape == (2 + 1 + 4, 3, 3) and (c[3:, 1:] == 255).all()


@pytest.mark.parametrize("shape", [(40, 50, 3), (3, 20, 30, 3)])
def test_small_pictures_are_saved_enlarged(tmp_path, shape):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = save_picture(img, tmp_path / "pic")
    with Image.open(path) as saved:
        k = factor_for(*shape[-3:-1])
        assert saved.size == (shape[-2] * k, shape[-3] * k)
        first = np.asarray(saved.convert("RGB")) if len(shape) == 3 else None
    if first is not None:  # PNG is lossless: the exact blocks
        np.testing.assert_array_equal(first, np.kron(img, np.ones((k, k, 1), np.uint8)))


def test_runlog_images_are_at_least_256_px(tmp_path):
    log = RunLog(tmp_path, tensorboard=False)
    (path,) = log.images({"x": np.zeros((8, 16, 3), np.uint8)}, step=3)
    with Image.open(path) as saved:
        assert saved.size == (512, 256)
