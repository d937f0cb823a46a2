"""``data.batch_aug`` in the restoration Task: input and target moved alike in ``train_step``, state in checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from tasks.restoration.task import RestorationTask
from toolkit.config import load_config
from toolkit.errors import ConfigError
from toolkit.losses import build_loss

ROOT = Path(__file__).resolve().parents[3]
AUG = "data.batch_aug={'hflip': 0.5, 'vflip': 0.5, 'rot90': True}"


class _NearestUp(nn.Module):
    """A parameter-free x4 'model' that records what it was given."""

    upscale = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return x.repeat_interleave(4, -1).repeat_interleave(4, -2)


def _task(*sets: str) -> RestorationTask:
    return RestorationTask(load_config(ROOT / "tasks/restoration/safmn_tiny.py", list(sets)))


def test_train_step_augments_input_and_target_alike():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 16, 16)
    batch = {"input": x, "target": x.repeat_interleave(4, -1).repeat_interleave(4, -2), "meta": ["a"] * 8}
    model, loss = _NearestUp(), build_loss([dict(type="mse", weight=1.0)])
    task = _task(AUG, "data.augment=False")
    out = task.train_step(model, batch, loss)
    assert out["loss"].item() == 0.0  # target = up(input) still holds after the augmentation
    assert not torch.equal(model.seen, x)  # and the batch was augmented
    assert torch.equal(batch["input"], x)  # the caller's batch is left as it was
    assert task.state_dict() == {"batch_aug": {"step": 1}}
    plain = _task()
    plain.train_step(model, batch, loss)
    assert torch.equal(model.seen, x) and plain.state_dict() == {}


def test_resumed_task_continues_the_draws():
    x = torch.rand(4, 3, 16, 16)
    batch = {"input": x, "target": x.repeat_interleave(4, -1).repeat_interleave(4, -2)}
    model, loss = _NearestUp(), build_loss("mse")
    straight = _task(AUG, "data.augment=False")
    seen = []
    for _ in range(3):
        straight.train_step(model, batch, loss)
        seen.append(model.seen)
    resumed = _task(AUG, "data.augment=False")
    resumed.load_state_dict({"batch_aug": {"step": 2}})
    resumed.train_step(model, batch, loss)
    assert torch.equal(model.seen, seen[2])


def test_batch_aug_on_top_of_augment_is_an_error():
    with pytest.raises(ConfigError, match="data.batch_aug has no effect with data.augment=True"):
        _task(AUG)
    with pytest.raises(ConfigError, match="unknown key"):
        _task("data.batch_aug={'flip': 0.5}", "data.augment=False")
