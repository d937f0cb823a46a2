"""The restoration Task: super-resolution, denoising and deblurring with BasicSR-exact PSNR/SSIM.

Config ``data`` keys (see ``tasks/restoration/safmn_x4.py``): ``scale``, the on-the-fly
degradations ``blur`` / ``noise`` / ``jpeg``, the training crop ``patch_size`` (low-resolution
pixels), ``repeat``, ``augment``, ``seed`` and one ``dict(gt=..., lq=...)`` of folders per split
(``None`` folders use the embedded scikit-learn photographs; a missing ``test`` uses ``val``'s).
Models receive ``upscale = data.scale`` and ``in_channels = 3`` when the config leaves them
``None``; the PSNR/SSIM metrics receive ``crop_border = data.scale`` unless they set it.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from tasks.restoration.data import IMAGE_EXTENSIONS, RestorationDataset, list_images, read_image
from tasks.restoration.tiling import forward_padded, tiled_forward
from tasks.restoration.visualise import side_by_side, to_uint8
from toolkit.engine.task import Task
from toolkit.errors import ConfigError, DataError
from toolkit.metrics import MetricCollection, build_metrics
from toolkit.registry import METRICS, MODELS, TASKS

__all__ = ["RestorationTask"]

_DATA_KEYS = {"scale", "blur", "noise", "jpeg", "patch_size", "repeat", "augment", "seed", "train", "val", "test"}
_QUALITY_METRICS = {"psnr", "ssim", "psnr_y", "ssim_y"}


def _eval_collate(items: list[dict]) -> dict:
    shapes = {tuple(it["target"].shape) for it in items}
    if len(shapes) > 1:
        raise ConfigError(
            f"evaluation images differ in size ({sorted(shapes)[:3]}...); set eval.batch_size=1 for this data"
        )
    return default_collate(items)


@TASKS.register("restoration")
class RestorationTask(Task):
    """Image restoration: degraded (B, 3, H, W) in, clean (B, 3, H*s, W*s) out, both in [0, 1]."""

    primary_metric = "psnr"
    default_configs = (
        "tasks/restoration/safmn_x4.py",
        "tasks/restoration/restormer_denoise.py",
        "tasks/restoration/safmn_tiny.py",
        "tasks/restoration/restormer_tiny.py",
    )

    def __init__(self, cfg):
        super().__init__(cfg)
        data = cfg.get("data") or {}
        unknown = set(data) - _DATA_KEYS
        if unknown:
            raise ConfigError(
                f"data: unknown key(s) {sorted(unknown)}; the restoration task reads {sorted(_DATA_KEYS)}"
            )
        self.scale = int(data.get("scale", 1))
        self._samples: list[dict[str, Any]] = []  # pictures kept from the current evaluation for report()
        self._names: list[str] = []

    # ------------------------------------------------------------------ building
    def build_dataset(self, split: str) -> Dataset:
        d = self.cfg.data
        folders = d.get(split)
        if folders is None and split == "test":
            folders = d.get("val")
        folders = dict(folders or {})
        unknown = set(folders) - {"gt", "lq"}
        if unknown:
            raise ConfigError(
                f"data.{split}: unknown key(s) {sorted(unknown)}; give dict(gt=FOLDER, lq=FOLDER or None)"
            )
        train = split == "train"
        return RestorationDataset(
            split=split,
            gt=folders.get("gt"),
            lq=folders.get("lq"),
            scale=self.scale,
            blur=d.get("blur"),
            noise=d.get("noise"),
            jpeg=d.get("jpeg"),
            patch_size=d.get("patch_size") if train else None,
            repeat=d.get("repeat", 1) if train else 1,
            augment=d.get("augment", True),
            seed=d.get("seed", 0),
        )

    def build_model(self) -> nn.Module:
        spec = dict(self.cfg.model)
        if "in_channels" in spec and spec["in_channels"] is None:
            spec["in_channels"] = 3
        if "upscale" in spec and spec["upscale"] is None:
            spec["upscale"] = self.scale
        model = MODELS.build(spec)
        model_scale = getattr(model, "upscale", 1)
        if model_scale != self.scale:
            raise ConfigError(
                f"model {spec.get('type')!r} up-scales by {model_scale} but data.scale is {self.scale}; "
                "make them agree (leave model.upscale=None to follow data.scale)"
            )
        return model

    def build_metrics(self) -> MetricCollection:
        self._samples, self._names = [], []  # a fresh evaluation starts
        specs = []
        for spec in self.cfg.get("metrics", []):
            spec = {"type": spec} if isinstance(spec, str) else dict(spec)
            if spec.get("type") in _QUALITY_METRICS and spec.get("type") in METRICS:
                spec.setdefault("crop_border", self.scale)
            specs.append(spec)
        return build_metrics(specs)

    def collate_fn(self, split: str):
        return None if split == "train" else _eval_collate

    # ------------------------------------------------------------------ steps
    def train_step(self, model: nn.Module, batch: dict, loss_fn: nn.Module) -> dict[str, torch.Tensor]:
        pred = forward_padded(model, batch["input"])
        return loss_fn(pred, batch["target"])

    def eval_step(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        pred = forward_padded(model, batch["input"])
        names = batch.get("meta") or [f"image{len(self._names) + i:04d}" for i in range(pred.shape[0])]
        keep = int(self.cfg.get_path("eval.vis_items", 4) or 0)
        for i, name in enumerate(names):
            self._names.append(str(name))
            if len(self._samples) < keep:
                self._samples.append(
                    {
                        "name": str(name),
                        "input": to_uint8(batch["input"][i]),
                        "output": to_uint8(pred[i]),
                        "target": to_uint8(batch["target"][i]),
                    }
                )
        return pred, batch["target"]

    # ------------------------------------------------------------------ outputs
    def visualise(self, batch: dict, pred: Any, max_items: int = 4) -> dict[str, np.ndarray]:
        names = batch.get("meta") or [str(i) for i in range(pred.shape[0])]
        n = min(max_items, pred.shape[0])
        return {f"{i}_{names[i]}": side_by_side(batch["input"][i], pred[i], batch["target"][i]) for i in range(n)}

    def report(self, metrics: MetricCollection, results: dict[str, float], out_dir: Path) -> None:
        """Write ``per_image.csv``, ``restoration_results.json`` and side-by-side pictures into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        per_image: dict[str, list[float]] = {}
        for metric in metrics:
            if hasattr(metric, "per_image") and hasattr(metric, "key"):
                per_image[metric.key] = [float(v) for v in metric.per_image()]
        rows = []
        if per_image and all(len(v) == len(self._names) for v in per_image.values()):
            rows = [{"name": n, **{k: v[i] for k, v in per_image.items()}} for i, n in enumerate(self._names)]
            with open(out_dir / "per_image.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["name", *per_image])
                writer.writeheader()
                writer.writerows(rows)
        summary = {"results": results, "scale": self.scale, "per_image": rows}
        (out_dir / "restoration_results.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
        pic_dir = out_dir / "side_by_side"
        pic_dir.mkdir(exist_ok=True)
        for i, s in enumerate(self._samples):
            pic = side_by_side(s["input"], s["output"], s["target"])
            cv2.imwrite(str(pic_dir / f"{i:03d}_{s['name']}.png"), pic[..., ::-1])

    def format_results(self, results: dict[str, float]) -> str:
        lines = [f"{'':<5}{'PSNR (dB)':>12}{'SSIM':>10}"]
        for label, suffix in (("RGB", ""), ("Y", "_y")):
            p, s = results.get(f"psnr{suffix}"), results.get(f"ssim{suffix}")
            if p is not None or s is not None:
                p_txt = f"{p:12.4f}" if p is not None else f"{'-':>12}"
                s_txt = f"{s:10.4f}" if s is not None else f"{'-':>10}"
                lines.append(f"{label:<5}{p_txt}{s_txt}")
        others = {k: v for k, v in results.items() if k not in _QUALITY_METRICS}
        lines += [f"{k}: {v:.6g}" if isinstance(v, float) else f"{k}: {v}" for k, v in others.items()]
        return "\n".join(lines)

    # ------------------------------------------------------------------ inference
    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        """Restore every image of ``args.input`` (a file or folder) into ``args.out`` as PNG.

        Images with more pixels than ``infer.max_pixels`` (config; default 512x512), or all of
        them when ``args.tile`` is given, are restored in overlapping tiles; a CUDA out-of-memory
        error on a whole image retries it tiled.
        """
        from tqdm import tqdm

        src, dst = Path(args.input), Path(args.out)
        if not src.exists():
            raise DataError(f"--input {src} does not exist")
        files = [src] if src.is_file() else list_images(src)
        to_file = src.is_file() and dst.suffix.lower() in IMAGE_EXTENSIONS
        (dst.parent if to_file else dst).mkdir(parents=True, exist_ok=True)
        opts = dict(self.cfg.get("infer") or {})
        max_pixels = int(opts.get("max_pixels", 512 * 512))
        tile = int(getattr(args, "tile", None) or opts.get("tile") or 0)
        overlap = getattr(args, "tile_overlap", None)
        overlap = int(opts.get("tile_overlap", 32) if overlap is None else overlap)
        batch_size = int(getattr(args, "batch_size", None) or 1)
        model.eval().to(device)
        for path in tqdm(files, desc="restoring", unit="img"):
            img = read_image(path).transpose(2, 0, 1).astype(np.float32) / 255.0  # (3, H, W)
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
            cv2.imwrite(str(target), to_uint8(y[0])[..., ::-1])
        print(f"restored {len(files)} image(s) into {dst}")
