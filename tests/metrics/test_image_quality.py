"""BasicSR-exact PSNR / SSIM against the golden values (tests/golden/restoration_*), in RGB order."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from toolkit.errors import DataError
from toolkit.metrics import build_metrics
from toolkit.metrics.image_quality import (
    PSNR,
    SSIM,
    psnr_exact,
    psnr_tensor,
    quantize_uint8,
    rgb_to_y,
    ssim_exact,
    ssim_tensor,
)

ENTRIES = ("crop0_bgr", "crop0_y", "crop4_bgr", "crop4_y")


@pytest.fixture(scope="module")
def golden():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "golden"
    arrays = np.load(root / "restoration_cases.npz")
    expected = json.loads((root / "restoration_expected.json").read_text())["cases"]
    cases = {}
    for name, case in expected.items():
        gt = np.ascontiguousarray(arrays[case["gt_key"]][..., ::-1])  # BGR -> RGB, as the toolkit holds images
        deg = np.ascontiguousarray(arrays[case["deg_key"]][..., ::-1])
        cases[name] = (deg, gt, case)
    return cases


def _tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0  # (1, 3, H, W)


def test_exact_path_reproduces_basicsr(golden):
    assert len(golden) == 6
    for name, (deg, gt, case) in golden.items():
        for entry in ENTRIES:
            e = case[entry]
            psnr = psnr_exact(deg, gt, e["crop_border"], e["test_y_channel"])
            ssim = ssim_exact(deg, gt, e["crop_border"], e["test_y_channel"])
            assert psnr == pytest.approx(e["psnr"], abs=1e-9), f"{name} {entry}"
            assert ssim == pytest.approx(e["ssim"], abs=1e-7), f"{name} {entry}"


def test_channel_order_probe(golden):
    # noise on B only: feeding RGB data to BGR luma weights would give the diagnostic value
    deg, gt, case = golden["channel0_only_noise_48x160"]
    e = case["crop4_y"]
    assert psnr_exact(deg, gt, 4, True) == pytest.approx(42.862628967503525, abs=1e-9)
    assert abs(psnr_exact(deg, gt, 4, True) - e["diagnostic_psnr_if_fed_rgb_order"]) > 8


def test_metric_classes_and_tensor_path_agree_with_golden(golden):
    for crop in (0, 4):
        for y in (False, True):
            exact = build_metrics(
                [
                    dict(type="psnr", crop_border=crop, test_y_channel=y),
                    dict(type="ssim", crop_border=crop, test_y_channel=y),
                ]
            )
            fast = build_metrics(
                [
                    dict(type="psnr", crop_border=crop, test_y_channel=y, fast=True),
                    dict(type="ssim", crop_border=crop, test_y_channel=y, fast=True),
                ]
            )
            ref_p, ref_s = [], []
            for deg, gt, case in golden.values():
                e = case[f"crop{crop}_{'y' if y else 'bgr'}"]
                ref_p.append(e["psnr"])
                ref_s.append(e["ssim"])
                exact.update(_tensor(deg), _tensor(gt))
                fast.update(_tensor(deg), _tensor(gt))
            key = "_y" if y else ""
            r_exact, r_fast = exact.compute(), fast.compute()
            assert r_exact[f"psnr{key}"] == pytest.approx(np.mean(ref_p), abs=1e-9)
            assert r_exact[f"ssim{key}"] == pytest.approx(np.mean(ref_s), abs=1e-7)
            assert r_fast[f"psnr{key}"] == pytest.approx(r_exact[f"psnr{key}"], abs=1e-3)
            assert r_fast[f"ssim{key}"] == pytest.approx(r_exact[f"ssim{key}"], abs=1e-7)


def test_tensor_path_matches_exact_on_random_floats():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(3, 3, 40, 37, generator=g)
    pred = target + 0.05 * torch.randn(3, 3, 40, 37, generator=g)  # leaves [0, 1]: the metrics clamp
    a = quantize_uint8(pred).permute(0, 2, 3, 1).numpy()
    b = quantize_uint8(target).permute(0, 2, 3, 1).numpy()
    for y in (False, True):
        p_fast = psnr_tensor(pred, target, 4, y)
        s_fast = ssim_tensor(pred, target, 4, y)
        for i in range(3):
            assert float(p_fast[i]) == pytest.approx(psnr_exact(a[i], b[i], 4, y), abs=1e-9)
            assert float(s_fast[i]) == pytest.approx(ssim_exact(a[i], b[i], 4, y), abs=1e-9)


def test_quantisation_rounds_half_to_even_and_clamps():
    x = torch.tensor([-0.2, 0.0, 0.5, 1.0, 1.7]).float()
    assert quantize_uint8(x).tolist() == [0, 0, 128, 255, 255]  # 127.5 rounds to the even 128
    y = torch.tensor([2.5, 3.5]) / 255.0
    # float32 x * 255 lands exactly on .5 here; half to even gives 2 and 4
    assert (y.float() * 255.0).tolist() == [2.5, 3.5]
    assert quantize_uint8(y).tolist() == [2, 4]


def test_hand_computed_psnr_and_luma():
    a = np.zeros((8, 8, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 16  # one value off by 16: MSE = 256 / 192
    assert psnr_exact(a, b) == pytest.approx(10 * np.log10(255**2 / (256 / 192)), abs=1e-12)
    assert psnr_exact(a, a) == float("inf")
    white = np.full((1, 1, 3), 255, np.uint8)
    assert rgb_to_y(white)[0, 0] == pytest.approx(235.0, abs=1e-4)  # BT.601 studio-swing white
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 255
    assert rgb_to_y(red)[0, 0] == pytest.approx(16 + 65.481, abs=1e-4)


def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (45, 52, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    ref = metrics.structural_similarity(
        a, b, data_range=255, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim_exact(a, b) == pytest.approx(ref, abs=1e-9)
    assert psnr_exact(a, b) == pytest.approx(metrics.peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)


def test_metric_keys_registry_and_bad_shapes():
    m = build_metrics(["psnr", "ssim", "psnr_y", dict(type="ssim_y", crop_border=2)])
    x = torch.rand(2, 3, 24, 24)
    m.update(x, x.clamp(0.1, 0.9))
    out = m.compute()
    assert set(out) == {"psnr", "ssim", "psnr_y", "ssim_y"}
    assert m.higher_is_better("psnr_y") is True
    assert len(m["psnr"].per_image()) == 2
    with pytest.raises(DataError, match="same shape"):
        PSNR().update(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(DataError, match="11x11"):
        SSIM(crop_border=4).update(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
