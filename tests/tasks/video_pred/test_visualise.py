"""Prediction pictures: strip layout and pixel values, the error row, the GIF writer."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tasks.video_pred.visualise import clip_animation, clip_strip, save_gif, save_png


def _clips():
    inputs = np.full((3, 1, 8, 8), 0.2, np.float32) + np.arange(3, dtype=np.float32)[:, None, None, None] / 10
    target = np.full((2, 1, 8, 8), 0.6, np.float32)
    pred = target.copy()
    pred[1, 0, 4, 4] = 1.0  # one wrong pixel: error 0.4
    return inputs, target, pred


def test_strip_layout_and_values():
    inputs, target, pred = _clips()
    plain = clip_strip(inputs, target, pred, labels=False)
    # 4 rows of 8 px with 2 px gaps; 3 columns of 8 px, each followed by a 2 px gap
    assert plain.shape == (4 * 8 + 3 * 2, 3 * 10, 3) and plain.dtype == np.uint8
    assert tuple(plain[0, 0]) == (51, 51, 51)  # input 0.2
    assert tuple(plain[10, 0]) == (153, 153, 153)  # target 0.6, row 2 starts at 8 + 2
    assert tuple(plain[20 + 4, 10 + 4]) == (255, 255, 255)  # prediction 1.0 in frame 1
    assert tuple(plain[10, 20]) == (255, 255, 255)  # no third target frame: white padding
    err = plain[30:38, :, 0]
    tiles = err[:, 0:8].astype(int).sum() + err[:, 10:18].astype(int).sum()
    assert err[4, 14] == 255 and tiles == 255  # one wrong pixel, stretched to white; the rest black
    labelled = clip_strip(inputs, target, pred)
    assert labelled.shape == (38, 52 + 30, 3)
    assert (labelled[:, :52] < 128).any()  # the labels are drawn
    np.testing.assert_array_equal(labelled[:, 52:], plain)
    assert clip_strip(inputs, target, pred, error=False, labels=False).shape == (3 * 8 + 2 * 2, 30, 3)


def test_rgb_and_value_range():
    frames = np.zeros((1, 3, 4, 4), np.float32)
    frames[:, 0] = 10.0  # red at the top of a (0, 10) range
    strip = clip_strip(frames, frames, frames, labels=False, value_range=(0.0, 10.0))
    assert tuple(strip[0, 0]) == (255, 0, 0)


def test_animation_and_files(tmp_path):
    inputs, target, pred = _clips()
    movie = clip_animation(inputs, target, pred)
    assert movie.shape == (5, 8, 3 * 8 + 2 * 2, 3)
    assert tuple(movie[0, 0, 0]) == tuple(movie[0, 0, 10]) == (51, 51, 51)  # input in both panels
    assert tuple(movie[4, 4, 10 + 4]) == (255, 255, 255) and tuple(movie[4, 4, 20 + 4]) == (255, 255, 255)
    gif = save_gif(movie, tmp_path / "a" / "clip.gif", fps=5)
    with Image.open(gif) as img:
        assert img.n_frames == 5 and img.size == (28, 8) and img.info["duration"] == 200
    png = save_png(clip_strip(inputs, target, pred), tmp_path / "b" / "strip.png")
    assert Image.open(png).size == (82, 38)
