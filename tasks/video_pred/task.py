"""The video prediction Task: clips in, future frames out.

Datasets come from ``DATASETS`` by ``data.type`` (``moving_mnist`` generated on the fly, ``clips``
for user data), with the keys of ``data.splits.<split>`` overriding the shared ones for that split.
A dataset may return normalised clips and expose ``stats = dict(mean=..., std=...)`` computed on its
training split; the Task stores those statistics with the checkpoint and de-normalises predictions
and targets before metrics and pictures.

Data-derived context: ``in_shape`` = (T_in, C, H, W) of a sample, offered to the model.

Auxiliary losses: a model whose class sets ``has_aux_loss = True`` (PastNet) is called as
``model(x, return_aux=True)`` in training and returns ``(pred, {name: scalar loss})``; their sum joins
the objective and is logged as ``loss_aux``. The call goes through the wrapper's forward, so it holds
under DDP and ``torch.compile``.

With ``data.batch_aug`` (e.g. ``dict(hflip=0.5, vflip=0.5, rot90=True)``) ``train_step`` flips and rotates
every frame of a clip's input and target alike on the batch's device with kornia
(``toolkit/data/batch_augment.py``); its draw counter is task state, so a resumed run stays exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from toolkit.data.batch_augment import build_batch_augment
from toolkit.engine import Task
from toolkit.engine.task import add_aux_losses, has_aux_loss
from toolkit.errors import ConfigError
from toolkit.metrics import MetricCollection
from toolkit.metrics.video import VideoMetrics
from toolkit.registry import DATASETS, TASKS

__all__ = ["VideoPredTask", "CopyLastFrame"]


@TASKS.register("video_pred")
class VideoPredTask(Task):
    """Predict ``data.output_frames`` frames from ``data.input_frames`` frames.

    Primary metric: MSE (OpenSTL definition, lower is better). With ``eval.baseline`` (default on)
    the copy-last-frame forecast is scored too, as ``copy_last_<metric>``.
    """

    primary_metric = "mse"
    default_configs = ("tasks/video_pred/simvp.py", "tasks/video_pred/simvp_tiny.py")

    def __init__(self, cfg):
        super().__init__(cfg)
        self.stats: dict | None = None  # per-channel mean/std of the training clips (saved with checkpoints)
        self.sample_shape: tuple[int, ...] | None = None  # (T_in, C, H, W) of the first dataset built
        # data.batch_aug: the same flips / rotations of a clip's input and target frames on the device (kornia)
        self.batch_aug = build_batch_augment((cfg.get("data") or {}).get("batch_aug"), seed=cfg.get("seed", 0))

    # ------------------------------------------------------------------ data
    def build_dataset(self, split: str):
        data = self.cfg.data
        if data.get("input_frames") != data.get("output_frames"):
            # SimVP and PastNet fold time into channels and emit as many frames as they read
            raise ConfigError(
                f"data.output_frames={data.get('output_frames')} must equal data.input_frames="
                f"{data.get('input_frames')}: the models predict as many frames as they read. Longer horizons: "
                "train with equal lengths, then roll out with tools/infer.py --frames N"
            )
        spec = {k: v for k, v in data.items() if k not in ("splits", "batch_aug")}  # batch_aug: the Task's
        spec.update((data.get("splits") or {}).get(split) or {})  # e.g. splits=dict(test=dict(num_clips=200))
        # the training statistics normalise the other splits (user clips only; Moving MNIST has none)
        stats = {"stats": self.stats} if split != "train" and self.stats is not None else {}
        ds = DATASETS.build(spec, split=split, **stats)
        if split == "train" and getattr(ds, "stats", None) is not None:
            self.stats = {k: np.asarray(v, dtype=np.float32).tolist() for k, v in ds.stats.items()}
        if self.sample_shape is None and len(ds) > 0:
            self.sample_shape = tuple(ds[0]["input"].shape)  # (T_in, C, H, W)
        return ds

    def context(self) -> dict[str, Any]:
        return {} if self.sample_shape is None else {"in_shape": self.sample_shape}

    def build_metrics(self) -> MetricCollection:
        metrics = super().build_metrics()
        if self.cfg.get_path("eval.baseline", True):
            metrics.metrics["copy_last"] = CopyLastFrame(self.denormalise)
        return metrics

    # ------------------------------------------------------------------ steps
    def train_step(self, model: nn.Module, batch: dict, loss_fn: nn.Module) -> dict[str, torch.Tensor]:
        if self.batch_aug is not None:
            batch = {**batch}
            batch["input"], batch["target"] = self.batch_aug(batch["input"], batch["target"])  # (B, T, C, H, W)
        if has_aux_loss(model):
            pred, aux = model(batch["input"], return_aux=True)  # e.g. PastNet: {'vq': commitment loss}
        else:
            pred, aux = model(batch["input"]), {}
        return add_aux_losses(loss_fn(pred, batch["target"]), aux)

    def eval_step(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        pred = model(batch["input"])
        return self.denormalise(pred.float()), self.denormalise(batch["target"].float())

    def explain_target(
        self, model: nn.Module, x: torch.Tensor, batch: dict, target_class: int | None = None
    ) -> tuple[torch.Tensor, list[str]]:
        """The last predicted frame's output summed over its pixels (in the model's output space)."""
        if target_class is not None:
            raise ConfigError("--target-class: video_pred has no classes")
        pred = model(x)  # (B, T_out, C, H, W)
        value = pred[:, -1].float().flatten(1).sum(1)  # (B,)
        what = f"output of predicted frame {pred.shape[1]} (the last) summed over its pixels"
        return value, [f"{what}: {v:.4g}" for v in value.tolist()]

    def explain_layers(self, model: nn.Module) -> list[str]:
        """The encoder's last stage (per frame; Grad-CAM averages the frames) and the last attention slot."""
        layers = getattr(getattr(model, "encoder", None), "layers", None)
        last = [f"encoder.layers.{len(layers) - 1}"] if isinstance(layers, nn.ModuleList) and len(layers) else []
        return last + super().explain_layers(model)

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

    def format_results(self, results: dict[str, float], metrics: MetricCollection | None = None) -> str:
        rows = ["metric   model        copy-last-frame"]
        for key in ("mse", "mae", "ssim", "psnr"):
            if key in results:
                base = results.get(f"copy_last_{key}")
                rows.append(f"{key:<8} {results[key]:<12.4f} {'' if base is None else f'{base:.4f}'}")
        rows.append("(MSE/MAE summed over a frame's pixels and averaged over frames, as in OpenSTL's tables)")
        exact = results.get("copy_last_exact_frames")
        if exact:
            rows.append(
                f"(copy-last PSNR: the mean over the frames that differ from their target; {exact:.0f} copied "
                "frame(s) equal their target exactly, PSNR infinite, and are left out)"
            )
        return "\n".join(rows)

    # ------------------------------------------------------------------ inference and state
    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        from tasks.video_pred.infer import run

        run(self, model, args, device)

    def state_dict(self) -> dict:
        state = {"stats": self.stats} if self.stats is not None else {}
        if self.batch_aug is not None:
            state["batch_aug"] = self.batch_aug.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        if state.get("stats") is not None:
            self.stats = state["stats"]
        if self.batch_aug is not None and state.get("batch_aug"):
            self.batch_aug.load_state_dict(state["batch_aug"])


class CopyLastFrame(VideoMetrics):
    """Video metrics of the trivial forecast every model must beat: the last input frame repeated.

    Reported as ``copy_last_<metric>``. The forecast is made from the batch's inputs and mapped to
    the data scale with ``denormalise`` (the Task's), like the target it is compared with.

    ``copy_last_psnr`` is the mean PSNR of the copied frames that differ from their target, and
    ``copy_last_exact_frames`` counts those that equal it (a digit at rest, or bouncing back onto its
    position), left out of that mean; ``copy_last_psnr`` is absent when every frame is exact.
    NOTE: OpenSTL's mean of per-frame PSNRs is +inf as soon as one frame is exact, which happens on
    most validations of the tiny configs (1 frame in 320) and says nothing about the other frames.

    Args:
        denormalise: maps a normalised (B, T, C, H, W) clip to the data scale.
    """

    uses_batch = True
    higher_is_better = {f"copy_last_{k}": v for k, v in VideoMetrics.higher_is_better.items()}

    def __init__(self, denormalise: Callable[[torch.Tensor], torch.Tensor] = lambda x: x):
        super().__init__()
        self.denormalise = denormalise

    def update(self, pred: torch.Tensor, target: torch.Tensor, batch: dict) -> None:
        last = batch["input"][:, -1:].float()  # (B, 1, C, H, W)
        forecast = last.expand(-1, target.shape[1], -1, -1, -1)  # (B, T_out, C, H, W)
        super().update(self.denormalise(forecast), target)

    def _compute(self) -> dict[str, float]:
        results = super()._compute()
        exact, differ = self.exact.item(), (self.frames - self.exact).item()
        results.pop("psnr")
        if differ > 0:
            results["psnr"] = (self.psnr / differ).item()  # the frames that differ from their target
        results["exact_frames"] = exact
        return {f"copy_last_{k}": v for k, v in results.items()}
