"""The restoration Task: super-resolution, denoising and deblurring with BasicSR-exact PSNR/SSIM.

The ``data`` keys and their defaults are in ``configs/_base_/datasets/restoration.py``; the registered
``restoration`` dataset picks its split's folders from them. Models receive ``in_channels = 3`` and
``upscale = data.scale`` (filled where the config leaves ``None`` and written back into the config);
metrics that take ``crop_border`` receive ``data.scale`` unless their spec sets it.

A model whose class sets ``has_aux_loss = True`` (CAMixerSR) is called as ``model(x, return_aux=True)``
in training and returns ``(pred, {name: scalar loss})``; the sum joins the objective and is logged as
``loss_aux``.

With ``eval.baseline`` (default on) the same metrics score the trivial answer too (``InputBaseline``):
the bicubic up-scaled input for super-resolution (``bicubic_psnr``, ...), the degraded input itself
otherwise (``input_psnr``, ...); they are printed beside the model's, logged at validation and written
to ``metrics.json``. The best checkpoint is still chosen by the model's ``psnr``.

With ``data.batch_aug`` (e.g. ``dict(hflip=0.5, vflip=0.5, rot90=True)``, with ``data.augment=False``)
``train_step`` flips and rotates input and target alike on the batch's device with kornia
(``toolkit/data/batch_augment.py``); its draw counter is task state, so a resumed run stays exact.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import default_collate

from tasks.restoration.baseline import InputBaseline, baseline_prefix, bicubic_upscale
from tasks.restoration.tiling import forward_padded, tile_size, tiled_forward
from tasks.restoration.visualise import side_by_side, to_uint8
from toolkit.data import IMAGE_EXTENSIONS, list_images, read_image, write_image
from toolkit.data.batch_augment import build_batch_augment
from toolkit.engine.fs import check_writable
from toolkit.engine.task import Task, add_aux_losses, has_aux_loss
from toolkit.errors import ConfigError, DataError
from toolkit.metrics import Metric, MetricCollection
from toolkit.registry import TASKS

__all__ = ["RestorationTask", "EvalSamples"]

_QUALITY_METRICS = {"psnr", "ssim", "psnr_y", "ssim_y"}
_SAMPLES = "samples"  # the key of the EvalSamples metric in the collection
_BASELINE = "baseline"  # the key of the InputBaseline metric in the collection


def _eval_collate(items: list[dict]) -> dict:
    shapes = {tuple(it["target"].shape) for it in items}
    if len(shapes) > 1:
        raise ConfigError(
            f"evaluation images differ in size ({sorted(shapes)[:3]}...); set eval.batch_size=1 for this data"
        )
    return default_collate(items)


class EvalSamples(Metric):
    """What a report needs beyond the scores: every image's name, and the first ``keep`` pictures.

    Names are gathered across processes in the same order as the per-image metric values, so
    ``names[i]`` labels ``metric.per_image()[i]``; pictures stay with the process that drew them.
    """

    uses_batch = True

    def __init__(self, keep: int = 4):
        super().__init__()
        self.keep = keep
        self.names: list[str] = []
        self.samples: list[dict[str, Any]] = []  # {'name', 'input', 'output', 'target'} as uint8 (H, W, 3)

    def reset(self) -> None:
        super().reset()
        self.names, self.samples = [], []

    def update(self, pred: torch.Tensor, target: torch.Tensor, batch: dict) -> None:
        names = batch.get("meta") or [f"image{len(self.names) + i:04d}" for i in range(pred.shape[0])]
        for i, name in enumerate(names):
            self.names.append(str(name))
            if len(self.samples) < self.keep:
                pictures = (to_uint8(batch["input"][i]), to_uint8(pred[i]), to_uint8(target[i]))
                self.samples.append(dict(zip(("name", "input", "output", "target"), (str(name), *pictures))))

    def sync(self) -> None:
        if getattr(self, "_synced", False):
            return
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, self.names)  # rank order, as the per-image 'cat' states
            self.names = [n for part in gathered for n in part]
        self._synced = True

    def _compute(self) -> dict[str, float]:
        return {}


@TASKS.register("restoration")
class RestorationTask(Task):
    """Image restoration: degraded (B, 3, H, W) in, clean (B, 3, H*s, W*s) out, both in [0, 1]."""

    primary_metric = "psnr"
    default_configs = (
        "tasks/restoration/safmn_x4.py",
        "tasks/restoration/restormer_denoise.py",
        "tasks/restoration/safmn_tiny.py",
        "tasks/restoration/restormer_tiny.py",
        "tasks/restoration/camixersr_x4.py",
        "tasks/restoration/camixersr_tiny.py",
    )
    default_metrics = ("psnr", "ssim", "psnr_y", "ssim_y")

    def __init__(self, cfg):
        super().__init__(cfg)
        data = cfg.get("data") or {}
        # data.batch_aug: the same flips / rotations of input and target on the batch's device (kornia)
        self.batch_aug = build_batch_augment(data.get("batch_aug"), seed=cfg.get("seed", 0))
        if self.batch_aug is not None and data.get("augment", True):
            raise ConfigError(
                "data.batch_aug has no effect with data.augment=True: every training crop already gets one of "
                "the 8 flips/rotations uniformly; set data.augment=False to augment on the device instead"
            )

    @property
    def scale(self) -> int:
        """The super-resolution factor ``data.scale`` (1 for same-size restoration)."""
        return int(self.cfg.data.scale)

    # ------------------------------------------------------------------ building
    def context(self) -> dict[str, Any]:
        return {"in_channels": 3, "upscale": self.scale}

    def metric_options(self) -> dict[str, Any]:
        return {"crop_border": self.scale}  # BasicSR crops `scale` pixels off every border before scoring

    def build_model(self) -> nn.Module:
        # a model without an `upscale` argument (Restormer) is checked after it is built
        declared = self.cfg.model.get("upscale")
        if declared is not None and declared != self.scale:
            raise ConfigError(self._scale_mismatch(declared))
        model = super().build_model()
        if getattr(model, "upscale", 1) != self.scale:
            raise ConfigError(self._scale_mismatch(getattr(model, "upscale", 1)))
        return model

    def _scale_mismatch(self, model_scale: int) -> str:
        return (
            f"model {self.cfg.model.get('type')!r} up-scales by {model_scale} but data.scale is {self.scale}; "
            "make them agree (leave model.upscale=None to follow data.scale)"
        )

    def build_metrics(self) -> MetricCollection:
        metrics = super().build_metrics()
        if self.cfg.get_path("eval.baseline", True):
            # a second build of the same specs: the baseline is scored exactly as the model is
            same = {k: m for k, m in super().build_metrics().metrics.items() if not m.uses_batch}
            metrics.metrics[_BASELINE] = InputBaseline(MetricCollection(same), self.scale)
        metrics.metrics[_SAMPLES] = EvalSamples(keep=int(self.cfg.get_path("eval.vis_items", 4) or 0))
        return metrics

    def collate_fn(self, split: str):
        return None if split == "train" else _eval_collate

    # ------------------------------------------------------------------ steps
    def train_step(self, model: nn.Module, batch: dict, loss_fn: nn.Module) -> dict[str, torch.Tensor]:
        if self.batch_aug is not None:
            batch = {**batch}
            batch["input"], batch["target"] = self.batch_aug(batch["input"], batch["target"])
        if not has_aux_loss(model):
            return loss_fn(forward_padded(model, batch["input"]), batch["target"])
        pred, aux = forward_padded(model, batch["input"], return_aux=True)  # e.g. CAMixerSR: {'ratio': loss}
        return add_aux_losses(loss_fn(pred, batch["target"]), aux)

    def eval_step(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        return forward_padded(model, batch["input"]), batch["target"]

    def state_dict(self) -> dict:
        return {"batch_aug": self.batch_aug.state_dict()} if self.batch_aug is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.batch_aug is not None and state.get("batch_aug"):
            self.batch_aug.load_state_dict(state["batch_aug"])

    def explain_target(
        self, model: nn.Module, x: torch.Tensor, batch: dict, target_class: int | None = None
    ) -> tuple[torch.Tensor, list[str]]:
        """The energy of the high-frequency residual over the whole image: the mean squared difference
        between the output and the trivial answer (the bicubic up-scaled input, or the input itself for
        same-size restoration), i.e. the detail the model adds."""
        if target_class is not None:
            raise ConfigError("--target-class: restoration has no classes")
        out = forward_padded(model, x).float()  # (B, 3, H*s, W*s)
        trivial = bicubic_upscale(x.detach(), self.scale) if self.scale > 1 else x.detach().float()
        value = (out - trivial).pow(2).flatten(1).mean(1)  # (B,)
        what = "bicubic up-scaled input" if self.scale > 1 else "input"
        return value, [f"mean squared residual (output - {what}) over the whole image: {v:.4g}" for v in value.tolist()]

    def explain_layers(self, model: nn.Module) -> list[str]:
        """Restormer's bottleneck ``latent`` where the model has one, and the last attention slot."""
        return [p for p in ("latent",) if p in dict(model.named_modules())] + super().explain_layers(model)

    # ------------------------------------------------------------------ outputs
    def visualise(self, batch: dict, pred: Any, max_items: int = 4) -> dict[str, np.ndarray]:
        names = batch.get("meta") or [str(i) for i in range(pred.shape[0])]
        n = min(max_items, pred.shape[0])
        return {f"{i}_{names[i]}": side_by_side(batch["input"][i], pred[i], batch["target"][i]) for i in range(n)}

    def report(
        self,
        metrics: MetricCollection,
        results: dict[str, Any],
        out_dir: Path,
        *,
        model: nn.Module | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        """Write ``per_image.csv``, ``restoration_results.json`` and side-by-side pictures into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        collected = next((m for m in metrics if isinstance(m, EvalSamples)), EvalSamples(keep=0))
        names = collected.names
        per_image: dict[str, list[float]] = {}
        for metric in metrics:
            if hasattr(metric, "per_image") and hasattr(metric, "key"):
                per_image[metric.key] = [float(v) for v in metric.per_image()]
            elif isinstance(metric, InputBaseline):
                per_image.update((k, [float(x) for x in v]) for k, v in metric.per_image_by_key().items())
        rows = []
        if per_image and all(len(v) == len(names) for v in per_image.values()):
            rows = [{"name": n, **{k: v[i] for k, v in per_image.items()}} for i, n in enumerate(names)]
            with open(out_dir / "per_image.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["name", *per_image])
                writer.writeheader()
                writer.writerows(rows)
        summary = {"results": results, "scale": self.scale, "per_image": rows}
        (out_dir / "restoration_results.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
        pic_dir = out_dir / "side_by_side"
        pic_dir.mkdir(exist_ok=True)
        for i, s in enumerate(collected.samples):
            pic = side_by_side(s["input"], s["output"], s["target"])
            write_image(pic_dir / f"{i:03d}_{s['name']}.png", pic)

    def format_results(self, results: dict[str, Any], metrics: MetricCollection | None = None) -> str:
        """PSNR/SSIM of the model (RGB and Y rows) and, when scored, of the baseline in a second column."""
        prefix = baseline_prefix(self.scale)
        shown = _QUALITY_METRICS | {prefix + k for k in _QUALITY_METRICS}
        has_base = any(k in results for k in shown - _QUALITY_METRICS)
        base_name = "bicubic" if self.scale > 1 else "input"

        def cells(p: float | None, s: float | None) -> str:
            return (f"{p:12.4f}" if p is not None else f"{'-':>12}") + (f"{s:10.4f}" if s is not None else f"{'-':>10}")

        lines = [
            f"{'':<5}{'PSNR (dB)':>12}{'SSIM':>10}" + (f"{base_name + ' PSNR':>18}{'SSIM':>10}" if has_base else "")
        ]
        for label, suffix in (("RGB", ""), ("Y", "_y")):
            p, s = results.get(f"psnr{suffix}"), results.get(f"ssim{suffix}")
            if p is not None or s is not None:
                row = f"{label:<5}{cells(p, s)}"
                if has_base:
                    row += "      " + cells(results.get(f"{prefix}psnr{suffix}"), results.get(f"{prefix}ssim{suffix}"))
                lines.append(row)
        model_psnr, base_psnr = results.get("psnr"), results.get(f"{prefix}psnr")
        if model_psnr is not None and base_psnr is not None:
            gain = model_psnr - base_psnr
            what = "the bicubic up-scaled input" if self.scale > 1 else "the degraded input"
            lines.append(f"model - {base_name}: {gain:+.2f} dB RGB PSNR")
            if gain < 0:
                lines.append(
                    f"warning: the model scores below {what} ({model_psnr:.2f} < {base_psnr:.2f} dB); "
                    "it is undertrained or mis-configured (learning rate, iterations)"
                )
        others = {k: v for k, v in results.items() if k not in shown}
        lines += [f"{k}: {v:.6g}" if isinstance(v, float) else f"{k}: {v}" for k, v in others.items()]
        return "\n".join(lines)

    # ------------------------------------------------------------------ inference
    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        """Restore every image of ``args.input`` (a file or folder) into ``args.out`` as PNG.

        Images with more pixels than ``infer.max_pixels`` (config; default 512x512), or all of
        them when ``args.tile`` is given, are restored in overlapping tiles; a CUDA out-of-memory
        error on a whole image retries it tiled. A command-line value (``args.tile``,
        ``args.tile_overlap``, ``args.batch_size``) wins over the config's ``infer.tile``,
        ``infer.tile_overlap`` and ``eval.batch_size``; ``None`` means "not given".
        """
        from tqdm import tqdm

        src, dst = Path(args.input), Path(args.out)
        opts = dict(self.cfg.get("infer") or {})
        max_pixels = int(opts.get("max_pixels", 512 * 512))
        tile = int(_given(args, "tile", opts.get("tile")) or 0)
        overlap = int(_given(args, "tile_overlap", opts.get("tile_overlap", 32)))
        batch_size = int(_given(args, "batch_size", self.cfg.get_path("eval.batch_size", 1)) or 1)
        # the tiling is checked before anything is read or written
        names = (_option(args, "tile") if tile else "automatic tile", _option(args, "tile_overlap"))
        tile_size(model, tile or int(math.sqrt(max_pixels)), overlap, names=names)
        if not src.exists():
            raise DataError(f"--input {src} does not exist")
        files = [src] if src.is_file() else list_images(src)
        to_file = src.is_file() and dst.suffix.lower() in IMAGE_EXTENSIONS
        out_dir = dst.parent if to_file else dst
        check_writable(out_dir, what="--out")  # made once the first image is restored: a bad input leaves nothing
        model.eval().to(device)
        for path in tqdm(files, desc="restoring", unit="img", disable=None):  # no bar when stderr is not a terminal
            img = read_image(path, "rgb8").transpose(2, 0, 1).astype(np.float32) / 255.0  # (3, H, W)
            x = torch.from_numpy(img)[None].to(device)  # (1, 3, H, W)
            h, w = x.shape[-2:]
            with torch.no_grad():
                if tile or h * w > max_pixels:
                    y = tiled_forward(model, x, tile or int(math.sqrt(max_pixels)), overlap, batch_size=batch_size)
                else:
                    try:
                        y = forward_padded(model, x)
                    except torch.cuda.OutOfMemoryError:
                        torch.cuda.empty_cache()
                        y = tiled_forward(model, x, max(64, min(h, w) // 2), overlap, batch_size=batch_size)
            target = dst if to_file else dst / f"{path.stem}.png"
            out_dir.mkdir(parents=True, exist_ok=True)
            write_image(target, to_uint8(y[0]))
        print(f"restored {len(files)} image(s) into {dst}")


def _option(args: Any, name: str) -> str:
    """How the user gave setting ``name`` in messages: ``--tile-overlap`` on the command line, else ``infer.tile``."""
    return f"--{name.replace('_', '-')}" if getattr(args, name, None) is not None else f"infer.{name}"


def _given(args: Any, name: str, fallback: Any) -> Any:
    """``args.<name>`` when the command line gave it (not ``None``), else ``fallback`` (the config's value)."""
    value = getattr(args, name, None)
    return fallback if value is None else value
