"""The video Task's contract: the data-derived ``in_shape`` reaches the model and the saved configs,
a disagreeing config is refused, unknown data keys are named, the copy-last-frame baseline is a
metric of the evaluation, and auxiliary losses pass through DDP and ``torch.compile`` wrappers."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

import tasks.video_pred  # noqa: F401  registers the models, datasets and task
from tasks.video_pred.models.pastnet import PastNet
from tasks.video_pred.task import CopyLastFrame
from toolkit.config import load_config
from toolkit.engine import Trainer, build_task, eval_loader, evaluate
from toolkit.engine.checkpoint import load_checkpoint
from toolkit.errors import RegistryError
from toolkit.metrics.video import VideoMetrics

ROOT = Path(__file__).resolve().parents[3]
SMALL = [
    "data.input_frames=2",
    "data.output_frames=2",
    "data.image_size=16",
    "data.digit_size=7",
    "data.splits.train.num_clips=8",
    "data.splits.val.num_clips=2",
    "data.splits.test.num_clips=2",
    "model.hid_S=4",
    "model.hid_T=8",
    "model.N_T=2",
    "train.batch_size=4",
    "train.max_iters=1",
    "train.val_interval=1",
    "train.num_workers=0",
    "eval.batch_size=2",
    "eval.num_workers=0",
]
TINY_PASTNET = dict(
    patch_size=8,
    embed_dim=32,
    hid_S=32,
    res_layers=1,
    res_channels=16,
    num_codes=64,
    code_dim=16,
    hid_T=64,
    N_T=2,
    kernel_sizes=(3, 5),
    groups=4,
)


def _small_cfg(*extra: str):
    return load_config(ROOT / "tasks/video_pred/simvp_tiny.py", [*SMALL, *extra])


def test_saved_configs_hold_the_data_derived_in_shape(tmp_path):
    cfg = _small_cfg(f"work_dir={tmp_path}")
    assert cfg.model.in_shape is None  # the config leaves it to the data
    trainer = Trainer(cfg)
    trainer.train()
    assert trainer.model.in_shape == (2, 1, 16, 16)
    saved = load_config(trainer.run_dir / "config.py")
    assert tuple(saved.model.in_shape) == (2, 1, 16, 16)
    state = load_checkpoint(trainer.run_dir / "checkpoints" / "last.pt")
    assert tuple(state["config"]["model"]["in_shape"]) == (2, 1, 16, 16)
    assert None not in state["config"]["model"]["in_shape"]


def test_in_shape_comes_from_the_data_and_a_disagreeing_value_is_refused():
    task = build_task(_small_cfg())
    assert task.context() == {}  # nothing known before a dataset is built
    task.build_dataset("val")
    assert task.context() == {"in_shape": (2, 1, 16, 16)}
    assert task.build_model().in_shape == (2, 1, 16, 16)
    task = build_task(_small_cfg("model.in_shape=[2, 1, 32, 32]"))
    task.build_dataset("val")
    with pytest.raises(RegistryError, match=r"in_shape=\[2, 1, 32, 32\] but the data gives \(2, 1, 16, 16\)"):
        task.build_model()


def test_unknown_data_key_is_an_error_naming_it():
    task = build_task(_small_cfg("+data.num_digit=3"))
    with pytest.raises(RegistryError, match=r"cannot build 'moving_mnist': unknown argument\(s\) \['num_digit'\]"):
        task.build_dataset("train")


def test_per_split_overrides_reach_the_dataset():
    task = build_task(_small_cfg("data.splits.val.num_clips=3"))
    assert len(task.build_dataset("val")) == 3 and len(task.build_dataset("train")) == 8


def test_copy_last_frame_baseline_is_a_metric_of_the_evaluation():
    stats = dict(mean=[0.5], std=[2.0])
    metric = CopyLastFrame(lambda x: x * 2.0 + 0.5)
    inputs = torch.rand(2, 3, 1, 8, 8)
    target = torch.rand(2, 3, 1, 8, 8)
    metric.update(torch.zeros_like(target), target, {"input": inputs, "target": target})
    by_hand = VideoMetrics()
    by_hand.update(inputs[:, -1:].expand(-1, 3, -1, -1, -1) * stats["std"][0] + stats["mean"][0], target)
    got = metric.compute()
    assert got.pop("copy_last_exact_frames") == 0  # random frames: none copied exactly
    assert got == {f"copy_last_{k}": v for k, v in by_hand.compute().items()}

    cfg = _small_cfg()
    task = build_task(cfg)
    dataset = task.build_dataset("val")
    model = task.build_model()
    ev = evaluate(model, task, eval_loader(dataset, cfg, None))
    assert {"mse", "copy_last_mse", "copy_last_ssim"} <= set(ev.results)
    assert "copy-last-frame" in task.format_results(ev.results, ev.metrics)
    off = build_task(_small_cfg("+eval.baseline=False"))
    assert "copy_last" not in off.build_metrics().metrics


def test_copy_last_psnr_leaves_out_exact_frames_and_counts_them():
    # one clip, 2 frames out of 8x8: the copied (all-zero) last input equals target frame 0 exactly and misses
    # one pixel of frame 1 by 0.5, so frame 1's MSE is 0.25 / 64 and its PSNR 10 log10(256) = 24.0824 dB
    inputs = torch.zeros(1, 2, 1, 8, 8)
    target = torch.zeros(1, 2, 1, 8, 8)
    target[0, 1, 0, 3, 4] = 0.5
    metric = CopyLastFrame()
    metric.update(target, target, {"input": inputs, "target": target})
    got = metric.compute()
    assert got["copy_last_psnr"] == pytest.approx(24.082399653118497, abs=1e-9)
    assert got["copy_last_exact_frames"] == 1
    assert got["copy_last_mse"] == pytest.approx(0.25 / 2)  # summed over a frame's pixels, averaged over 2 frames
    plain = VideoMetrics()  # the model's metric keeps OpenSTL's definition: one exact frame makes the mean +inf
    plain.update(inputs[:, -1:].expand(-1, 2, -1, -1, -1), target)
    assert plain.compute()["psnr"] == float("inf")

    every = CopyLastFrame()  # every copied frame exact: no PSNR to report, only the count
    every.update(inputs, inputs, {"input": inputs, "target": inputs})
    got = every.compute()
    assert "copy_last_psnr" not in got and got["copy_last_exact_frames"] == 2
    assert "2 copied frame(s) equal their target exactly" in build_task(_small_cfg()).format_results(
        {"mse": 1.0, "psnr": 20.0, **got}
    )


def _pastnet_task_and_batch():
    cfg = load_config(ROOT / "tasks/video_pred/pastnet_tiny.py")
    cfg.data.splits.val.num_clips = 2
    task = build_task(cfg)
    ds = task.build_dataset("val")
    batch = {k: torch.stack([ds[i][k] for i in range(2)]) for k in ("input", "target")}
    torch.manual_seed(0)
    model = PastNet((5, 1, 32, 32), **TINY_PASTNET)
    return task, batch, model


def _step(task, model, batch):
    torch.manual_seed(1)  # dead-code restarts of the quantiser draw random vectors
    return task.train_step(model, batch, task.build_loss())


def test_aux_loss_reaches_the_objective_through_torch_compile():
    task, batch, model = _pastnet_task_and_batch()
    plain = _step(task, copy.deepcopy(model), batch)
    compiled = _step(task, torch.compile(copy.deepcopy(model), backend="eager"), batch)
    assert plain["loss_aux"].item() > 0
    assert compiled["loss_aux"].item() == pytest.approx(plain["loss_aux"].item(), rel=1e-5)
    assert compiled["loss"].item() == pytest.approx(plain["loss"].item(), rel=1e-5)


def test_aux_loss_reaches_the_objective_through_ddp(tmp_path):
    task, batch, model = _pastnet_task_and_batch()
    plain = _step(task, copy.deepcopy(model), batch)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        wrapped = torch.nn.parallel.DistributedDataParallel(copy.deepcopy(model))
        out = _step(task, wrapped, batch)
        assert out["loss_aux"].item() == pytest.approx(plain["loss_aux"].item(), rel=1e-5)
        assert out["loss"].item() == pytest.approx(plain["loss"].item(), rel=1e-5)
        assert out["loss"].item() == pytest.approx(out["loss_mse"].item() + out["loss_aux"].item(), rel=1e-5)
        out["loss"].backward()  # DDP's reducer sees the graph of the (pred, aux) output
        assert all(p.grad is not None for p in wrapped.module.encoder.parameters())
    finally:
        dist.destroy_process_group()
