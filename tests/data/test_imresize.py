"""MATLAB-compatible bicubic imresize: kernel values, a hand-computed pass, MATLAB's own LR files, Set5 bicubic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from toolkit.data.imresize import cubic, imresize, imresize_tensor, resize_weights

SET5 = ("baby", "bird", "butterfly", "head", "woman")


def test_cubic_kernel_values():
    x = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5])
    expected = [1.0, 0.8671875, 0.5625, 0.2265625, 0.0, -0.0703125, -0.0625, -0.0234375, 0.0, 0.0]
    np.testing.assert_allclose(cubic(x), expected, atol=1e-15)
    np.testing.assert_allclose(cubic(-x), expected, atol=1e-15)


def test_upscale_first_pixel_by_hand():
    # x2 up-scaling, output pixel 1 samples u = 0.75: taps at input 0, -1 mirror to pixels 1, 2
    # weights h(1.75) + h(1.25) on pixel 2 and h(0.75) + h(0.25) on pixel 1: 1.09375 a - 0.09375 b
    row = np.array([[10.0, 2.0, 7.0, 4.0]])
    out = imresize(row, output_shape=(1, 8))
    assert out.shape == (1, 8)
    assert out[0, 0] == pytest.approx(1.09375 * 10 - 0.09375 * 2, abs=1e-12)


def test_weights_rows_sum_to_one_and_constants_are_kept():
    for n_in, n_out in [(17, 5), (5, 20), (100, 25), (7, 7)]:
        w = resize_weights(n_in, n_out, n_out / n_in)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    img = np.full((33, 47, 3), 0.3)
    np.testing.assert_allclose(imresize(img, 1 / 3), 0.3, atol=1e-12)


def test_output_size_is_ceil_and_antialias_widens_kernel():
    img = np.random.default_rng(0).random((10, 13))
    assert imresize(img, 1 / 4).shape == (math.ceil(10 / 4), math.ceil(13 / 4))
    assert imresize(img, 3).shape == (30, 39)
    # down-scaling by 4 with antialiasing touches 4 * 4 + 2 = 18 taps per output pixel
    assert (resize_weights(64, 16, 0.25) != 0).sum(axis=1).max() > 10
    assert (resize_weights(64, 16, 0.25, antialiasing=False) != 0).sum(axis=1).max() <= 4


def test_torch_matches_numpy():
    img = np.random.default_rng(1).random((3, 21, 30))
    ref = np.stack([imresize(c, 1 / 3) for c in img])
    out = imresize_tensor(torch.from_numpy(img), 1 / 3).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-12)
    up = imresize_tensor(torch.from_numpy(img).float()[None], 2)
    assert up.shape == (1, 3, 42, 60) and up.dtype == torch.float32


def _read(path) -> np.ndarray:
    cv2 = pytest.importorskip("cv2")
    return np.ascontiguousarray(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1])


@pytest.fixture
def set5(shared_dir):
    root = shared_dir / "data" / "restoration" / "Set5"
    if not root.is_dir():
        pytest.skip("../shared/data/restoration/Set5 is not present")
    return root


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_reproduces_matlab_lr_files_bit_exactly(set5, scale):
    for name in SET5:
        hr = _read(set5 / "HR" / f"{name}.png")
        lr = _read(set5 / "LR_bicubic" / f"X{scale}" / f"{name}x{scale}.png")
        h, w = lr.shape[:2]
        mine = imresize(np.ascontiguousarray(hr[: h * scale, : w * scale]), 1 / scale)
        assert mine.dtype == np.uint8 and mine.shape == lr.shape
        assert np.array_equal(mine, lr), f"{name} x{scale}: {(mine != lr).sum()} pixels differ"


def test_set5_bicubic_x4_y_psnr(set5):
    from toolkit.metrics.image_quality import psnr_exact

    own, shipped = [], []
    for name in SET5:
        hr = _read(set5 / "HR" / f"{name}.png")
        hr = np.ascontiguousarray(hr[: hr.shape[0] // 4 * 4, : hr.shape[1] // 4 * 4])
        own.append(psnr_exact(imresize(imresize(hr, 1 / 4), 4), hr, 4, True))
        lr = _read(set5 / "LR_bicubic" / "X4" / f"{name}x4.png")
        shipped.append(psnr_exact(imresize(lr, 4), hr, 4, True))
    # published bicubic x4 on Set5: 28.42 dB
    assert 28.42 <= np.mean(own) <= 28.43
    assert 28.42 <= np.mean(shipped) <= 28.43
    assert np.mean(own) == pytest.approx(28.429016836314986, abs=1e-9)
