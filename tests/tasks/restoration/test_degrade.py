"""On-the-fly degradations: noise protocol, blur kernels, bicubic down-scaling, JPEG, config checks."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from tasks.restoration.degrade import (
    Degradation,
    add_gaussian_noise,
    bicubic_downscale,
    blur,
    gaussian_kernel,
    jpeg_compress,
    motion_kernel,
)
from toolkit.data.imresize import imresize
from toolkit.errors import ConfigError, DataError


def test_noise_is_seeded_unclipped_and_has_the_right_sigma():
    img = np.full((200, 200, 3), 0.98, np.float32)
    a = add_gaussian_noise(img, 25, np.random.default_rng(7))
    b = add_gaussian_noise(img, 25, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert a.max() > 1.0  # not clipped
    assert np.std(a - img) == pytest.approx(25 / 255, rel=0.02)
    assert not np.allclose(a * 255, np.round(a * 255))  # not rounded


def test_kernels():
    g = gaussian_kernel(1.6)
    assert g.shape == (11, 11) and g.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(g, g.T, atol=1e-9)
    assert g[5, 5] == g.max()
    k = motion_kernel(9, 0.0)  # horizontal: only the middle row is lit
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    assert k[4].sum() == pytest.approx(1.0, abs=1e-6)
    kv = motion_kernel(9, 90.0)
    assert kv[:, 4].sum() == pytest.approx(1.0, abs=1e-6)


def test_bicubic_downscale_is_matlab_uint8_path():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (24, 36, 3), dtype=np.uint8)
    lr = bicubic_downscale(u8.astype(np.float32) / 255, 4)
    assert lr.shape == (6, 9, 3)
    np.testing.assert_array_equal(np.round(lr * 255).astype(np.uint8), imresize(u8, 1 / 4))


def test_jpeg_is_lossy_but_close():
    rng = np.random.default_rng(1)
    img = (rng.random((32, 32, 3)) * 0.2 + 0.4).astype(np.float32)
    out = jpeg_compress(img, 30)
    assert out.shape == img.shape and out.dtype == np.float32
    assert 0 < np.abs(out - img).mean() < 0.1


def test_chain_and_ranges():
    img = np.random.default_rng(2).random((32, 48, 3)).astype(np.float32)
    d = Degradation(scale=2, blur=dict(type="gaussian", sigma=[0.5, 2.0]), noise=dict(sigma=[5, 15]), jpeg=None)
    a, b = d(img, np.random.default_rng(3)), d(img, np.random.default_rng(3))
    assert a.shape == (16, 24, 3) and np.array_equal(a, b)
    assert not np.array_equal(a, d(img, np.random.default_rng(4)))
    assert Degradation(scale=1).is_identity


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scale=2.5), "positive integer"),
        (dict(noise=25), "data.noise must be None or a dict"),
        (dict(noise=dict(sgima=25)), "unknown key"),
        (dict(blur=dict(type="box")), "'gaussian' or 'motion'"),
        (dict(blur=dict(type="gaussian", sigma=1.0, size=8)), "data.blur.size must be an odd integer"),
        (dict(blur=dict(type="motion", length=8)), "data.blur.length must be an odd integer"),
        (dict(blur=dict(type="motion", length=[1, 9])), "low >= 3"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Degradation(**kwargs)


# ---------------------------------------------------------------- kornia kernels against the former OpenCV code


def _closed_form_gaussian(sigma: float, size: int) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    k = np.outer(g, g)
    return k / k.sum()


def _opencv_motion_kernel(length: int, angle: float) -> np.ndarray:
    """The former implementation: an anti-aliased OpenCV line, clockwise from the x axis."""
    k = np.zeros((length, length), np.float32)
    c, r = (length - 1) / 2, (length - 1) / 2
    dx, dy = math.cos(math.radians(angle)) * r, math.sin(math.radians(angle)) * r
    p0 = (round((c - dx) * 16), round((c - dy) * 16))  # 4 fractional bits
    p1 = (round((c + dx) * 16), round((c + dy) * 16))
    cv2.line(k, p0, p1, 1.0, thickness=1, lineType=cv2.LINE_AA, shift=4)
    return k / k.sum()


def _smooth_image() -> np.ndarray:
    """Seeded noise blurred with sigma 2 and stretched to [0, 1]: (96, 96, 3) float32."""
    img = cv2.GaussianBlur(np.random.default_rng(0).random((96, 96, 3)).astype(np.float32), (0, 0), 2.0)
    return (img - img.min()) / (img.max() - img.min())


@pytest.mark.parametrize("sigma, size", [(0.6, None), (1.6, None), (3.0, None), (1.2, 7)])
def test_gaussian_kernel_equals_the_closed_form(sigma, size):
    k = gaussian_kernel(sigma, size)
    n = size or 2 * math.ceil(3 * sigma) + 1
    assert k.shape == (n, n) and k.dtype == np.float32
    np.testing.assert_allclose(k, _closed_form_gaussian(sigma, n), rtol=0, atol=1e-7)


def test_blur_equals_opencv_with_reflect101_borders_and_the_former_code_inside():
    img = _smooth_image()
    kernel = gaussian_kernel(1.6)  # 11 x 11: borders of 5 px
    out = blur(img, kernel)
    assert out.shape == img.shape and out.dtype == np.float32
    ref = cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-6)
    former = cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)  # the edge pixel repeated
    np.testing.assert_allclose(out[5:-5, 5:-5], former[5:-5, 5:-5], rtol=0, atol=2e-6)
    assert np.abs(out - former).max() > 1e-3  # only the border changed
    # a hand-checkable case: a horizontal 3-px motion blur of one bright pixel spreads it over three
    dot = np.zeros((5, 5, 1), np.float32)
    dot[2, 2] = 3.0
    np.testing.assert_allclose(blur(dot, motion_kernel(3, 0.0))[2, 1:4, 0], [1.0, 1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("length, angle", [(9, 0.0), (15, 45.0), (9, 90.0), (15, 135.0)])
def test_motion_kernel_equals_the_former_one_on_axes_and_diagonals(length, angle):
    k = motion_kernel(length, angle)
    np.testing.assert_allclose(k, _opencv_motion_kernel(length, angle), rtol=0, atol=1e-6)
    if angle == 45.0:  # clockwise as displayed: top-left to bottom-right, 11 px of 1/11 (|i - 7| * sqrt 2 <= 7)
        np.testing.assert_allclose(np.diag(k)[2:13], np.full(11, 1 / 11), atol=1e-6)


@pytest.mark.parametrize("length, angle", [(9, 30.0), (15, 60.0), (15, 120.0), (25, 170.0)])
def test_motion_blur_stays_close_to_the_former_one_at_oblique_angles(length, angle):
    k = motion_kernel(length, angle)
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    ys, xs = np.nonzero(k)
    w = k[ys, xs]
    c = (length - 1) / 2
    assert np.average(xs, weights=w) == pytest.approx(c, abs=1e-6)  # centred
    assert np.average(ys, weights=w) == pytest.approx(c, abs=1e-6)
    cov = np.cov(np.stack([xs - c, ys - c]), aweights=w)
    vals, vecs = np.linalg.eigh(cov)
    axis = math.degrees(math.atan2(vecs[1, 1], vecs[0, 1])) % 180  # principal direction, clockwise as displayed
    assert min(abs(axis - angle), 180 - abs(axis - angle)) < 4.0
    img = _smooth_image()
    r = length // 2 + 1
    ours = blur(img, k)[r:-r, r:-r]
    former = cv2.filter2D(img, -1, _opencv_motion_kernel(length, angle), borderType=cv2.BORDER_REFLECT)[r:-r, r:-r]
    psnr = 10 * math.log10(1.0 / float(np.mean((ours - former) ** 2)))
    assert psnr > 33.0  # a different rasterisation of the same line (35.6-50.9 dB measured)


def test_blur_larger_than_the_image_is_a_data_error():
    with pytest.raises(DataError, match="4x4 px is too small for a 11x11 blur kernel"):
        blur(np.zeros((4, 4, 3), np.float32), gaussian_kernel(1.6))


def test_a_drawn_motion_length_is_rounded_to_an_odd_kernel():
    d = Degradation(blur=dict(type="motion", length=[4, 8], angle=0.0))
    img = np.zeros((32, 32, 3), np.float32)
    img[16, 16] = 1.0
    for seed in range(6):
        out = d(img, np.random.default_rng(seed))[16, :, 0]
        lit = int((out > 0).sum())
        assert lit in (5, 7, 9) and out.sum() == pytest.approx(1.0, abs=1e-5)
