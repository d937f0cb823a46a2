"""The video prediction Task: clips in, future frames out.

Datasets come from ``DATASETS`` by ``data.type`` (``moving_mnist`` generated on the fly, ``clips``
for user data). A dataset may return normalised clips and expose ``stats = dict(mean=..., std=...)``
computed on its training split; the Task stores those statistics with the checkpoint and
de-normalises predictions and targets before metrics and pictures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from toolkit.engine import Task
from toolkit.errors import ConfigError
from toolkit.metrics.video import VideoMetrics
from toolkit.registry import DATASETS, MODELS, TASKS

__all__ = ["VideoPredTask"]


@TASKS.register("video_pred")
class VideoPredTask(Task):
    """Predict ``data.output_frames`` frames from ``data.input_frames`` frames.

    Primary metric: MSE (OpenSTL definition, lower is better).
    """

    primary_metric = "mse"
    default_configs = ("tasks/video_pred/simvp.py", "tasks/video_pred/simvp_tiny.py")

    def __init__(self, cfg):
        super().__init__(cfg)
        self.stats: dict | None = None
        self.sample_shape: tuple[int, ...] | None = None

    # ------------------------------------------------------------------ data
    def build_dataset(self, split: str):
        data = dict(self.cfg.data)
        for key in ("input_frames", "output_frames"):
            if key not in data:
                raise ConfigError(f"config key data.{key} is required for video prediction")
        if data["input_frames"] != data["output_frames"]:
            # SimVP and PastNet fold time into channels and emit as many frames as they read
            raise ConfigError(
                f"data.output_frames={data['output_frames']} must equal data.input_frames={data['input_frames']}: "
                "the models predict as many frames as they read. Longer horizons: train with equal lengths, "
                "then roll out with tools/infer.py --frames N"
            )
        splits = data.pop("splits", None) or {}
        data.update(splits.get(split, {}))  # per-split overrides, e.g. splits=dict(test=dict(num_clips=200))
        kwargs: dict[str, Any] = {"split": split}
        if split != "train" and self.stats is not None:
            kwargs["stats"] = self.stats
        ds = DATASETS.build(data, **kwargs)
        if split == "train" and getattr(ds, "stats", None) is not None:
            self.stats = {k: np.asarray(v, dtype=np.float32).tolist() for k, v in ds.stats.items()}
        if self.sample_shape is None and len(ds) > 0:
            self.sample_shape = tuple(ds[0]["input"].shape)  # (T_in, C, H, W)
        return ds

    def build_model(self) -> nn.Module:
        if self.cfg.model.get("in_shape") is None:
            if self.sample_shape is None:
                raise ConfigError("model.in_shape is not set and no dataset was built to infer it from")
            self.cfg.model["in_shape"] = self.sample_shape  # written back: the saved config shows it
        elif self.sample_shape is not None and tuple(self.cfg.model.in_shape) != self.sample_shape:
            raise ConfigError(
                f"model.in_shape={tuple(self.cfg.model.in_shape)} but the data gives clips of {self.sample_shape} "
                "(T_in, C, H, W); set model.in_shape=None to take it from the data"
            )
        return MODELS.build(self.cfg.model)

    # ------------------------------------------------------------------ steps
    def train_step(self, model: nn.Module, batch: dict, loss_fn: nn.Module) -> dict[str, torch.Tensor]:
        pred = model(batch["input"])
        out = loss_fn(pred, batch["target"])
        aux = getattr(_unwrap(model), "aux_loss", None)  # e.g. PastNet's vector-quantiser loss
        if aux is not None:
            out["loss_aux"] = aux.detach()
            out["loss"] = out["loss"] + aux
        return out

    def eval_step(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        pred = model(batch["input"])
        target = self.denormalise(batch["target"].float())
        if getattr(self, "_baseline", None) is not None:
            self._baseline.add(self.baseline_prediction(batch), target)
        return self.denormalise(pred.float()), target

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """Map a normalised (B, T, C, H, W) clip back to the data scale (identity without stats)."""
        if self.stats is None:
            return x
        shape = (1, 1, -1, 1, 1)
        mean = torch.as_tensor(self.stats["mean"], dtype=x.dtype, device=x.device).reshape(shape)
        std = torch.as_tensor(self.stats["std"], dtype=x.dtype, device=x.device).reshape(shape)
        return x * std + mean

    # ------------------------------------------------------------------ outputs
    def visualise(self, batch: dict, pred: torch.Tensor, max_items: int = 4) -> dict[str, np.ndarray]:
        from tasks.video_pred.visualise import clip_animation, clip_strip

        inputs = self.denormalise(batch["input"].float()).cpu().numpy()
        target = self.denormalise(batch["target"].float()).cpu().numpy()
        pred = pred.detach().float().cpu().numpy()  # eval_step already de-normalised it
        pictures = {}
        for i in range(min(max_items, len(pred))):
            pictures[f"sample{i}"] = clip_strip(inputs[i], target[i], pred[i])
            if i < 2:  # an animated GIF (truth | prediction | error) for the first samples
                pictures[f"sample{i}_anim"] = clip_animation(inputs[i], target[i], pred[i])
        return pictures

    def build_metrics(self):
        metrics = super().build_metrics()
        self._baseline = _CopyLastFrame() if self.cfg.get_path("eval.baseline", True) else None
        if self._baseline is not None:
            metrics.metrics["copy_last"] = self._baseline
        return metrics

    def baseline_prediction(self, batch: dict) -> torch.Tensor:
        """The trivial forecast every model must beat: the last input frame repeated, de-normalised."""
        last = batch["input"][:, -1:]
        return self.denormalise(last.expand(-1, batch["target"].shape[1], -1, -1, -1).float())

    def format_results(self, results: dict[str, float]) -> str:
        rows = ["metric   model        copy-last-frame"]
        for key in ("mse", "mae", "ssim", "psnr"):
            if key in results:
                base = results.get(f"copy_last_{key}")
                rows.append(f"{key:<8} {results[key]:<12.4f} {'' if base is None else f'{base:.4f}'}")
        rows.append("(MSE/MAE summed over a frame's pixels and averaged over frames, as in OpenSTL's tables)")
        return "\n".join(rows)

    # ------------------------------------------------------------------ inference and state
    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        from tasks.video_pred.infer import run

        run(self, model, args, device)

    def state_dict(self) -> dict:
        return {"stats": self.stats} if self.stats is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if state.get("stats") is not None:
            self.stats = state["stats"]


class _CopyLastFrame(VideoMetrics):
    """Video metrics of the copy-last-input-frame forecast, reported as ``copy_last_<metric>``.

    The Task feeds it in ``eval_step`` (it needs the inputs), so the collection's ``update`` is a no-op.
    """

    higher_is_better = {f"copy_last_{k}": v for k, v in VideoMetrics.higher_is_better.items()}

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        pass

    def add(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        super().update(pred, target)

    def _compute(self) -> dict[str, float]:
        return {f"copy_last_{k}": v for k, v in super()._compute().items()}


def _unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)
