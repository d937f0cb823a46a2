"""On-the-fly degradations: noise protocol, blur kernels, bicubic down-scaling, JPEG, config checks."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.restoration.degrade import (
    Degradation,
    add_gaussian_noise,
    bicubic_downscale,
    gaussian_kernel,
    jpeg_compress,
    motion_kernel,
)
from toolkit.data.imresize import imresize
from toolkit.errors import ConfigError


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
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Degradation(**kwargs)
