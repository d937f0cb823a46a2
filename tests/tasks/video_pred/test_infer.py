"""Inference on user clips: autoregressive roll-out against hand-computed values, normalisation
statistics, uint8 input, the file-level entry point and its bad-input messages."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import tasks.video_pred  # noqa: F401  registers the models, datasets and task
from tasks.video_pred.infer import predict_clips, run
from toolkit.config import Config, load_config
from toolkit.engine import build_task
from toolkit.errors import DataError

ROOT = Path(__file__).resolve().parents[3]


class MeanPlus(nn.Module):
    """Predicts ``k`` frames: the mean of all input frames plus 1, 2, ..., k."""

    def __init__(self, in_shape=(3, 1, 2, 2), k: int = 2):
        super().__init__()
        self.in_shape, self.k = in_shape, k
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        steps = torch.arange(1, self.k + 1, dtype=x.dtype).reshape(1, -1, 1, 1, 1)
        return x.mean(dim=1, keepdim=True) + steps + 0 * self.dummy  # (B, k, C, H, W)


def _ramp(n=5, t=6, hw=2) -> np.ndarray:
    # clip frames 0, 1, ..., t-1 (constant images), (N, T, H, W)
    return np.broadcast_to(np.arange(t, dtype=np.float32)[None, :, None, None], (n, t, hw, hw)).copy()


def test_rollout_feeds_back_the_newest_frames():
    # context (3, 4, 5): mean 4 -> 5, 6; window (5, 5, 6): mean 16/3 -> 19/3, 22/3;
    # window (6, 19/3, 22/3): mean 59/9 -> 68/9 (the 6th frame, 77/9, is dropped)
    preds = predict_clips(MeanPlus(), _ramp(), 3, 5, batch_size=2, progress=False)
    assert preds.shape == (5, 5, 1, 2, 2) and preds.dtype == np.float32
    expected = np.array([5, 6, 19 / 3, 22 / 3, 68 / 9], dtype=np.float32)
    np.testing.assert_allclose(preds[:, :, 0, 0, 0], np.tile(expected, (5, 1)), rtol=1e-6)


def test_one_step_when_few_frames_are_asked():
    preds = predict_clips(MeanPlus(k=4), _ramp(n=3), 3, 2, batch_size=8, progress=False)
    np.testing.assert_allclose(preds[:, :, 0, 0, 0], [[5, 6]] * 3)


def test_statistics_normalise_inputs_and_denormalise_predictions():
    # normalised context (3, 4, 5) -> (-3.5, -3, -2.5), mean -3 -> -2, -1 -> data 6, 8
    preds = predict_clips(MeanPlus(), _ramp(n=2), 3, 2, stats=dict(mean=[10.0], std=[2.0]), progress=False)
    np.testing.assert_allclose(preds[:, :, 0, 0, 0], [[6, 8]] * 2)


def test_uint8_clips_are_read_in_unit_scale():
    clips = (_ramp(n=2) * 10).astype(np.uint8)  # frames 0, 10, ..., 50
    preds = predict_clips(MeanPlus(k=1), clips, 3, 1, progress=False)
    np.testing.assert_allclose(preds[:, 0, 0, 0, 0], [40 / 255 + 1] * 2, rtol=1e-6)


def _fake_task(stats=None):
    cfg = Config(data=dict(input_frames=3, output_frames=2), eval=dict(batch_size=4))
    return Namespace(cfg=cfg, stats=stats)


def test_run_reads_a_file_and_writes_predictions(tmp_path):
    np.save(tmp_path / "clips.npy", _ramp(n=3, t=4))
    args = Namespace(input=str(tmp_path / "clips.npy"), out=str(tmp_path / "out" / "preds.npy"), frames=3, batch_size=2)
    run(_fake_task(), MeanPlus(), args, torch.device("cpu"))
    preds = np.load(tmp_path / "out" / "preds.npy")
    # context (1, 2, 3): mean 2 -> 3, 4; window (3, 3, 4): mean 10/3 -> 13/3
    np.testing.assert_allclose(preds[:, :, 0, 0, 0], [[3, 4, 13 / 3]] * 3, rtol=1e-6)


def test_run_reports_bad_input(tmp_path):
    device = torch.device("cpu")
    np.save(tmp_path / "big.npy", np.zeros((2, 4, 1, 3, 3), np.float32))
    args = Namespace(input=str(tmp_path / "big.npy"), out=str(tmp_path / "p.npy"), frames=None, batch_size=None)
    with pytest.raises(DataError, match=r"big\.npy: clips of frames \(1, 3, 3\) .* \(N, T>=3, 1, 2, 2\)"):
        run(_fake_task(), MeanPlus(), args, device)
    np.save(tmp_path / "short.npy", np.zeros((2, 2, 2, 2), np.float32))
    args.input = str(tmp_path / "short.npy")
    with pytest.raises(DataError, match=r"clips have 2 frames but the model reads 3"):
        run(_fake_task(), MeanPlus(), args, device)
    bad = _ramp(n=3)
    bad[1, 2, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    args.input = str(tmp_path / "nan.npy")
    with pytest.raises(DataError, match=r"nan\.npy: clip 1 holds NaN"):
        run(_fake_task(), MeanPlus(), args, device)


def test_rollout_with_a_real_model_through_the_task(tmp_path):
    cfg = load_config(ROOT / "tasks/video_pred/simvp_tiny.py")
    cfg.data.splits.val.num_clips = 2
    task = build_task(cfg)
    task.build_dataset("val")
    model = task.build_model()
    np.save(tmp_path / "c.npy", np.random.default_rng(0).integers(0, 256, (3, 7, 32, 32), dtype=np.uint8))
    args = Namespace(input=str(tmp_path / "c.npy"), out=str(tmp_path / "p.npy"), frames=12, batch_size=2)
    task.infer(model, args, torch.device("cpu"))
    preds = np.load(tmp_path / "p.npy")
    assert preds.shape == (3, 12, 1, 32, 32) and np.isfinite(preds).all()


def test_run_resizes_like_the_training_data(tmp_path):
    task = _fake_task()
    task.cfg.data.update(type="clips", image_size=(2, 2))
    np.save(tmp_path / "big.npy", _ramp(n=2, t=4, hw=6))  # constant frames survive area resizing
    args = Namespace(input=str(tmp_path / "big.npy"), out=str(tmp_path / "p.npy"), frames=2, batch_size=None)
    preds = run(task, MeanPlus(), args, torch.device("cpu"))
    assert preds.shape == (2, 2, 1, 2, 2)
    np.testing.assert_allclose(preds[:, :, 0, 0, 0], [[3, 4]] * 2, rtol=1e-6)
