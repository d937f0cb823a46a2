"""SIRST pictures: visible size with exact nearest blocks, titled panels, the overlay colours' legend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tasks.sirst.task import SIRSTTask
from tasks.sirst.visualise import COLOURS, legend_band, overlay, panel
from toolkit.config import load_config

ROOT = Path(__file__).resolve().parents[3]


def _scene(h: int = 101, w: int = 127):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 120, (h, w), dtype=np.uint8)
    mask = np.zeros((h, w))
    mask[20:23, 30:33] = 1  # detected
    mask[70:72, 90:92] = 1  # missed
    prob = np.zeros((h, w))
    prob[20:23, 30:33] = 0.9
    prob[50:53, 10:13] = 0.8  # a false alarm
    return image, prob, mask


def test_task_pictures_of_the_tiny_config_are_visible_and_exact():
    task = SIRSTTask(load_config(ROOT / "tasks/sirst/dnanet_tiny.py"))
    task.load_state_dict({"norm": {"mean": [0.25], "std": [0.125]}})
    image, prob, mask = _scene()  # 101 x 127: one of the generated test sizes
    x = torch.from_numpy((image / 255.0 - 0.25) / 0.125).float()[None, None]
    batch = {"input": x, "target": torch.from_numpy(mask).float()[None, None], "meta": {"names": ["a"]}}
    (picture,) = task.visualise(batch, torch.from_numpy(prob).float()[None, None], 4).values()
    k = 3  # 101 * 3 >= 256
    assert min(picture.shape[:2]) >= 256
    panel_w = 127 * k
    # below the 22 px titles: input | ground truth | probability | overlay, each pixel a k x k block
    reference = overlay(image, prob, mask)
    tile = picture[22 : 22 + 101 * k, 3 * (panel_w + 2) : 3 * (panel_w + 2) + panel_w]
    np.testing.assert_array_equal(tile, np.kron(reference, np.ones((k, k, 1), np.uint8)))
    first = picture[22 : 22 + 101 * k, :panel_w, 0]
    np.testing.assert_array_equal(first, np.kron(image, np.ones((k, k), np.uint8)))


def test_titles_and_legend_surround_the_untitled_panels():
    image, prob, mask = _scene(40, 50)
    plain = panel(image, prob, mask, labels=False)
    titled = panel(image, prob, mask)
    k = 7  # 40 * 7 >= 256
    assert plain.shape == (40 * k, 4 * 50 * k + 3 * 2, 3)
    band = legend_band(plain.shape[1])
    assert titled.shape == (22 + 40 * k + 2 + band.shape[0], plain.shape[1], 3)
    np.testing.assert_array_equal(titled[22 : 22 + 40 * k], plain)
    assert (titled[:22] < 128).any() and not np.array_equal(titled[:22], np.full_like(titled[:22], 255))
    np.testing.assert_array_equal(titled[-band.shape[0] :], band)
    for name in ("detected", "missed", "hit_pixels", "false_alarm", "false_alarm_box"):  # a swatch per colour
        assert (band == COLOURS[name]).all(axis=2).sum() >= 12 * 12, name
