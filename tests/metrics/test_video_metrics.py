"""Video metrics against OpenSTL's values on the golden cases (tests/golden/video_*)."""

import json

import numpy as np
import pytest
import torch

from toolkit.errors import DataError
from toolkit.metrics.video import VideoMetrics

CASES = ["blur_noise", "out_of_range", "sparse_blurred"]


@pytest.fixture(scope="module")
def golden(request):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "golden"
    return np.load(root / "video_cases.npz"), json.loads((root / "video_expected.json").read_text())


@pytest.mark.parametrize("case", CASES)
def test_matches_openstl_golden_in_two_batches(golden, case):
    arrays, expected = golden
    pred = torch.from_numpy(arrays[f"{case}__pred"])
    true = torch.from_numpy(arrays[f"{case}__true"])
    metric = VideoMetrics()
    metric.update(pred[:1], true[:1])  # accumulation over batches must not change the result
    metric.update(pred[1:], true[1:])
    got = metric.compute()
    for key, want in expected["cases"][case]["expected"].items():
        assert got[key] == pytest.approx(want, rel=1e-6), key


@pytest.mark.parametrize("case", CASES)
def test_per_frame_golden_values(golden, case):
    arrays, expected = golden
    pred = torch.from_numpy(arrays[f"{case}__pred"])
    true = torch.from_numpy(arrays[f"{case}__true"])
    for frame in expected["cases"][case]["per_frame"]:
        b, t = frame["b"], frame["t"]
        metric = VideoMetrics()
        metric.update(pred[b : b + 1, t : t + 1], true[b : b + 1, t : t + 1])
        got = metric.compute()
        for key in ("mse", "mae", "ssim", "psnr"):
            assert got[key] == pytest.approx(frame[key], rel=1e-6, abs=1e-6), (b, t, key)


def test_hand_computed_values():
    target = torch.zeros(1, 1, 1, 8, 8)
    pred = torch.zeros(1, 1, 1, 8, 8)
    pred[..., 0, 0] = 0.5  # one pixel off by 0.5
    pred[..., 1, 1] = 1.5  # out of range: counts raw for MSE/MAE, clipped to 1 for PSNR
    m = VideoMetrics()
    m.update(pred, target)
    r = m.compute()
    assert r["mse"] == pytest.approx(0.25 + 2.25)  # summed over the frame's pixels
    assert r["mae"] == pytest.approx(2.0)
    assert r["psnr"] == pytest.approx(-10 * np.log10((0.25 + 1.0) / 64))


def test_identical_frames_give_ssim_one_and_infinite_psnr():
    x = torch.rand(2, 3, 1, 16, 16)
    m = VideoMetrics()
    m.update(x, x)
    r = m.compute()
    assert r["ssim"] == pytest.approx(1.0) and r["mse"] == 0.0 and r["psnr"] == float("inf")


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(DataError, match=r"same shape \(B, T, C, H, W\)"):
        VideoMetrics().update(torch.zeros(1, 2, 1, 8, 8), torch.zeros(1, 3, 1, 8, 8))
