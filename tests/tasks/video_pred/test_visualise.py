"""Prediction pictures: strip layout and pixel values, the error row, titles, visible sizes, the GIF writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tasks.video_pred.visualise import clip_animation, clip_strip, save_gif, save_png
from toolkit.config import load_config
from toolkit.engine import build_task

ROOT = Path(__file__).resolve().parents[3]


def _clips():
    inputs = np.full((3, 1, 8, 8), 0.2, np.float32) + np.arange(3, dtype=np.float32)[:, None, None, None] / 10
    target = np.full((2, 1, 8, 8), 0.6, np.float32)
    pred = target.copy()
    pred[1, 0, 4, 4] = 1.0  # one wrong pixel: error 0.4
    return inputs, target, pred


def test_strip_layout_and_values():
    inputs, target, pred = _clips()
    plain = clip_strip(inputs, target, pred, labels=False, scale=1)
    # 4 rows of 8 px with 2 px gaps; 3 columns of 8 px, each followed by a 2 px gap
    assert plain.shape == (4 * 8 + 3 * 2, 3 * 10, 3) and plain.dtype == np.uint8
    assert tuple(plain[0, 0]) == (51, 51, 51)  # input 0.2
    assert tuple(plain[10, 0]) == (153, 153, 153)  # target 0.6, row 2 starts at 8 + 2
    assert tuple(plain[20 + 4, 10 + 4]) == (255, 255, 255)  # prediction 1.0 in frame 1
    assert tuple(plain[10, 20]) == (255, 255, 255)  # no third target frame: white padding
    err = plain[30:38, :, 0]
    tiles = err[:, 0:8].astype(int).sum() + err[:, 10:18].astype(int).sum()
    assert err[4, 14] == 255 and tiles == 255  # one wrong pixel, stretched to white; the rest black
    assert clip_strip(inputs, target, pred, error=False, labels=False, scale=1).shape == (3 * 8 + 2 * 2, 30, 3)
    big = clip_strip(inputs, target, pred, labels=False)  # 8 px frames enlarged 16 times: 128 px
    assert big.shape == (4 * 128 + 3 * 2, 3 * 130, 3)
    np.testing.assert_array_equal(big[256 + 4 : 384 + 4, 130:258], np.kron(plain[20:28, 10:18], np.ones((16, 16, 1))))


def test_labels_caption_rows_and_frames():
    inputs, target, pred = _clips()
    plain = clip_strip(inputs, target, pred, labels=False, scale=1)
    labelled = clip_strip(inputs, target, pred, scale=1)
    # each row gets a 22 px caption band above its frames (t-2, t-1, t; t+1, t+2) and a left margin with its name
    margin = labelled.shape[1] - 30
    assert labelled.shape == (4 * (22 + 8) + 3 * 2, margin + 30, 3) and margin > 40
    assert (labelled[:, :margin] < 128).any()  # the row names are drawn
    for r in range(4):
        top = r * 32 + 22
        np.testing.assert_array_equal(labelled[top : top + 8, margin:], plain[r * 10 : r * 10 + 8])
        assert (labelled[top - 22 : top, margin : margin + 10] < 128).any()  # the frame's time
    assert not np.array_equal(labelled[0:22, margin:], labelled[32:54, margin:])  # t-2 .. t is not t+1 ..


def test_rgb_and_value_range():
    frames = np.zeros((1, 3, 4, 4), np.float32)
    frames[:, 0] = 10.0  # red at the top of a (0, 10) range
    strip = clip_strip(frames, frames, frames, labels=False, value_range=(0.0, 10.0))
    assert tuple(strip[0, 0]) == (255, 0, 0)


def test_animation_and_files(tmp_path):
    inputs, target, pred = _clips()
    movie = clip_animation(inputs, target, pred, labels=False, scale=1)
    assert movie.shape == (5, 8, 3 * 8 + 2 * 2, 3)
    assert tuple(movie[0, 0, 0]) == tuple(movie[0, 0, 10]) == (51, 51, 51)  # input in both panels
    assert tuple(movie[4, 4, 10 + 4]) == (255, 255, 255) and tuple(movie[4, 4, 20 + 4]) == (255, 255, 255)
    gif = save_gif(movie, tmp_path / "a" / "clip.gif", fps=5)
    with Image.open(gif) as img:
        assert img.n_frames == 5 and img.size == (28, 8) and img.info["duration"] == 200
    png = save_png(clip_strip(inputs, target, pred, labels=False, scale=1), tmp_path / "b" / "strip.png")
    assert Image.open(png).size == (30, 38)


def test_animation_frames_are_visible_and_titled():
    inputs, target, pred = _clips()
    plain = clip_animation(inputs, target, pred, labels=False, scale=1)
    movie = clip_animation(inputs, target, pred)  # 8 px frames: 32 times, 256 px panels
    assert movie.shape == (5, 44 + 256, 3 * 256 + 2 * 2, 3)
    np.testing.assert_array_equal(movie[:, 44:, 258:514], np.kron(plain[:, :, 10:18], np.ones((1, 32, 32, 1))))
    assert (movie[:, :44] < 128).any(axis=(1, 2, 3)).all()  # the frame's name and the panel titles
    assert not np.array_equal(movie[0, :22], movie[4, :22])  # "input t-2" is not "forecast t+2"


def test_task_pictures_of_the_tiny_config_are_visible_and_exact():
    cfg = load_config(ROOT / "tasks/video_pred/simvp_tiny.py")
    task = build_task(cfg)
    g = torch.Generator().manual_seed(0)
    clip = torch.rand(2, 10, 1, 32, 32, generator=g)  # the tiny config's 5 + 5 frames of 32 x 32
    batch = {"input": clip[:, :5], "target": clip[:, 5:]}
    pred = torch.rand(2, 5, 1, 32, 32, generator=g)
    pictures = task.visualise(batch, pred, 2)
    assert set(pictures) == {"sample0", "sample1", "sample0_anim", "sample1_anim"}
    strip, movie = pictures["sample1"], pictures["sample1_anim"]
    assert min(strip.shape[:2]) >= 256 and min(movie.shape[1:3]) >= 256
    # the strip's prediction row, frame t+1: each of the 32 x 32 pixels a 4 x 4 block (128 px frames)
    margin = strip.shape[1] - 5 * (128 + 2)
    top = 2 * (22 + 128 + 2) + 22
    expected = np.kron((pred[1, 0, 0].numpy() * 255).round().astype(np.uint8), np.ones((4, 4), np.uint8))
    np.testing.assert_array_equal(strip[top : top + 128, margin : margin + 128, 0], expected)
    # the GIF's prediction panel at the last frame: 8 x 8 blocks, 256 px
    expected = np.kron((pred[1, -1, 0].numpy() * 255).round().astype(np.uint8), np.ones((8, 8), np.uint8))
    np.testing.assert_array_equal(movie[-1, 44:, 258 : 258 + 256, 0], expected)
