"""``data.batch_aug`` in the video Task: every frame of input and target moved alike; a resumed run is exact."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from tasks.video_pred.task import VideoPredTask
from toolkit.config import load_config
from toolkit.losses import build_loss

ROOT = Path(__file__).resolve().parents[3]
AUG = "data.batch_aug={'hflip': 0.5, 'vflip': 0.5, 'rot90': True}"
D4 = [(flip, k) for flip in (False, True) for k in range(4)]


def _d4(x: torch.Tensor, flip: bool, k: int) -> torch.Tensor:
    return torch.rot90(x.flip(-1) if flip else x, k, dims=(-2, -1))


class _Reverse(nn.Module):
    """Predicts the context frames in reverse order; records its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return x.flip(1)


def test_train_step_moves_every_frame_alike():
    torch.manual_seed(0)
    clip = torch.rand(6, 5, 1, 8, 8)  # (B, T, C, H, W)
    batch = {"input": clip, "target": clip.flip(1)}
    task = VideoPredTask(load_config(ROOT / "tasks/video_pred/simvp_tiny.py", [AUG]))
    model = _Reverse()
    out = task.train_step(model, batch, build_loss("mse"))
    assert out["loss"].item() == 0.0  # the target is still the reversed input, frame by frame
    assert not torch.equal(model.seen, clip)
    for i in range(6):  # one transform for all frames of a sample
        moved = [e for e in D4 if torch.equal(_d4(clip[i, 0], *e), model.seen[i, 0])]
        assert len(moved) == 1
        assert torch.equal(_d4(clip[i], *moved[0]), model.seen[i])
    assert task.state_dict()["batch_aug"] == {"step": 1}


@pytest.mark.slow
def test_resume_with_batch_aug_equals_uninterrupted_run(tmp_path):
    """2 iterations + checkpoint + resume + 2 equals 4 straight, with the batch augmentation on (about 25 s)."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "engine"))
    from test_trainer import interrupt_after, tiny_cfg, weights

    from toolkit.engine import Trainer

    straight = Trainer(tiny_cfg(AUG), work_dir=tmp_path / "a")
    straight.train()
    expected = weights(straight.model)
    interrupted = Trainer(tiny_cfg(AUG), work_dir=tmp_path / "b")
    interrupt_after(interrupted, 2)
    resumed = Trainer(tiny_cfg(AUG), work_dir=tmp_path / "b", resume="auto")
    assert resumed.iter == 2 and resumed.task.batch_aug.step == 2
    resumed.train()
    got = weights(resumed.model)
    for key in expected:
        assert torch.equal(got[key], expected[key]), key
    # and the augmentation mattered: without it the weights differ
    plain = Trainer(tiny_cfg(), work_dir=tmp_path / "c")
    plain.train()
    assert any(not torch.equal(weights(plain.model)[k], expected[k]) for k in expected)
