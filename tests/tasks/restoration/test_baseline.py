"""The input baseline beside the model's metrics: bicubic for super-resolution, the input for denoising.

Also the tiny configs' promise (slow): their quick-start training ends above that baseline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import tasks.restoration  # noqa: F401  (registers the task)
from tasks.restoration.baseline import bicubic_upscale
from tasks.restoration.task import RestorationTask
from toolkit.config import load_config
from toolkit.data.imresize import imresize
from toolkit.metrics.image_quality import psnr_exact, quantize_uint8, ssim_exact

ROOT = Path(__file__).resolve().parents[3]
QUALITY = ("psnr", "ssim", "psnr_y", "ssim_y")


def _task(name: str, *overrides: str) -> RestorationTask:
    return RestorationTask(load_config(ROOT / "tasks" / "restoration" / f"{name}.py", list(overrides)))


def _u8(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).numpy()  # (H, W, 3)


def _independent(guess: np.ndarray, hr: np.ndarray, border: int) -> dict[str, float]:
    return {
        "psnr": psnr_exact(guess, hr, border),
        "ssim": ssim_exact(guess, hr, border),
        "psnr_y": psnr_exact(guess, hr, border, test_y_channel=True),
        "ssim_y": ssim_exact(guess, hr, border, test_y_channel=True),
    }


def test_bicubic_baseline_equals_imresize_then_psnr():
    rng = np.random.default_rng(0)
    hr = [rng.integers(0, 256, (32, 40, 3), dtype=np.uint8) for _ in range(2)]
    hr[1] = np.clip(hr[1].astype(int) // 2 + 60, 0, 255).astype(np.uint8)  # a second, different image
    lr = [imresize(h, 1 / 4) for h in hr]  # (8, 10, 3) uint8, MATLAB's LR files
    batch = {
        "input": torch.from_numpy(np.stack(lr)).permute(0, 3, 1, 2).float() / 255.0,  # (2, 3, 8, 10)
        "target": torch.from_numpy(np.stack(hr)).permute(0, 3, 1, 2).float() / 255.0,  # (2, 3, 32, 40)
    }
    metrics = _task("safmn_tiny").build_metrics()
    pred = torch.rand_like(batch["target"])
    metrics.update(pred, batch["target"], batch)
    res = metrics.compute()

    per_image = [_independent(imresize(lo, 4), h, 4) for lo, h in zip(lr, hr)]  # uint8 in, uint8 out
    for key in QUALITY:
        assert res[f"bicubic_{key}"] == pytest.approx(np.mean([p[key] for p in per_image]), abs=1e-12), key
    # the model's own values are untouched by the baseline
    model = _independent(_u8(quantize_uint8(pred[0])), hr[0], 4)["psnr"]
    assert res["psnr"] == pytest.approx((model + _independent(_u8(quantize_uint8(pred[1])), hr[1], 4)["psnr"]) / 2)
    # the up-scaling itself is MATLAB's imresize of the 8-bit input
    up = bicubic_upscale(batch["input"], 4)
    assert up.shape == (2, 3, 32, 40)
    np.testing.assert_array_equal(_u8(quantize_uint8(up[0])), imresize(lr[0], 4))


def test_denoising_baseline_is_the_noisy_input():
    rng = np.random.default_rng(1)
    clean = torch.from_numpy(rng.random((1, 3, 24, 20), dtype=np.float32))
    noisy = clean + 0.1 * torch.from_numpy(rng.standard_normal((1, 3, 24, 20), dtype=np.float32))  # leaves [0, 1]
    task = _task("restormer_tiny")
    metrics = task.build_metrics()
    metrics.update(clean, clean, {"input": noisy, "target": clean})
    res = metrics.compute()
    border = task.metric_options()["crop_border"]  # the model's metrics' border (data.scale = 1)
    want = _independent(_u8(quantize_uint8(noisy[0])), _u8(quantize_uint8(clean[0])), border)
    assert {k: res[f"input_{k}"] for k in QUALITY} == pytest.approx(want, abs=1e-12)
    assert res["psnr"] == float("inf") and not any(k.startswith("bicubic_") for k in res)


def test_baseline_switch_removes_the_keys_and_the_column():
    on, off = _task("safmn_tiny"), _task("safmn_tiny", "eval.baseline=False")
    batch = {"input": torch.rand(1, 3, 6, 6), "target": torch.rand(1, 3, 24, 24)}
    results = {}
    for name, task in (("on", on), ("off", off)):
        metrics = task.build_metrics()
        metrics.update(torch.rand(1, 3, 24, 24), batch["target"], batch)
        results[name] = metrics.compute()
    assert {f"bicubic_{k}" for k in QUALITY} <= set(results["on"])
    assert set(results["off"]) == set(QUALITY)
    assert "bicubic" not in off.format_results(results["off"])
    # the primary metric stays the model's PSNR, its direction read from the model's metric
    assert on.primary_metric == "psnr" and on.build_metrics().higher_is_better("bicubic_psnr")


def test_table_shows_the_baseline_column_and_warns_below_it():
    task = _task("safmn_tiny")
    below = {"psnr": 14.6504, "ssim": 0.0724, "psnr_y": 18.5463, "ssim_y": 0.1797}
    below.update(bicubic_psnr=25.3610, bicubic_ssim=0.6247, bicubic_psnr_y=26.9584, bicubic_ssim_y=0.6460)
    lines = task.format_results(below).splitlines()
    assert "bicubic PSNR" in lines[0]
    assert lines[1].split() == ["RGB", "14.6504", "0.0724", "25.3610", "0.6247"]
    assert lines[2].split() == ["Y", "18.5463", "0.1797", "26.9584", "0.6460"]
    assert lines[3] == "model - bicubic: -10.71 dB RGB PSNR"
    assert lines[4].startswith("warning: the model scores below the bicubic up-scaled input (14.65 < 25.36 dB)")
    above = dict(below, psnr=25.9)
    table = task.format_results(above)
    assert "model - bicubic: +0.54 dB RGB PSNR" in table and "warning" not in table
    denoise = _task("restormer_tiny").format_results({"psnr": 28.2, "input_psnr": 20.97})
    assert "input PSNR" in denoise and "model - input: +7.23 dB" in denoise


@pytest.mark.slow
@pytest.mark.parametrize("name, margin", [("safmn_tiny", 0.3), ("restormer_tiny", 5.0)])
def test_tiny_config_beats_its_input_baseline(name, margin, tmp_path):
    # the quick start (about 45 s and 30 s on one core): measured +0.54 / +0.58 dB and +7.2 / +6.9 dB (seeds 42 / 1)
    from toolkit.engine import Trainer

    torch.set_num_threads(1)
    cfg = load_config(ROOT / "tasks" / "restoration" / f"{name}.py", ["device='cpu'"])
    trainer = Trainer(cfg, work_dir=tmp_path)
    res = trainer.train()
    base = "bicubic_psnr" if cfg.data.scale > 1 else "input_psnr"
    assert res["psnr"] > res[base] + margin, (res["psnr"], res[base])
