"""The SIRST task: single-frame infrared small-target segmentation, evaluated with the field's metrics.

Evaluation contract: ``eval_step`` returns sigmoid probabilities (B, 1, H, W) in [0, 1] and 0/1 masks
at the evaluation size (original resolution by default: the input is zero-padded to a multiple of
``data.pad_multiple`` and the output cropped back), or lists of per-image (1, 1, h, w) tensors when a
batch mixes sizes. The metrics threshold with ``prob > eval.threshold`` (0.5).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from toolkit.config import Config
from toolkit.engine.task import Task
from toolkit.errors import ConfigError, DataError
from toolkit.metrics import MetricCollection
from toolkit.registry import METRICS, TASKS

from .data import (
    IMAGE_EXTS,
    Normalisation,
    SIRSTDataset,
    collate_eval,
    compute_normalisation,
    load_image,
    protocol_name,
)
from .synth import ensure_dataset
from .visualise import panel, plot_pd_fa, plot_roc

__all__ = ["SIRSTTask", "DATA_DEFAULTS", "DEFAULT_METRICS"]

DATA_DEFAULTS: dict[str, Any] = dict(
    root=None,  # dataset folder; None = generated scenes (tasks/sirst/synth.py) in cache_dir
    layout="auto",  # 'auto', '50_50', 'img_idx', 'idx_427', 'idx_320' or 'folder'
    split_files=None,  # dict(train=..., val=..., test=...) list files, overriding the layout
    val_split="test",  # list used for validation during training (the field selects on test)
    image_dir="images",
    mask_dir="masks",
    mask_suffix="auto",  # 'auto' = none or '_pixels0'
    color="grey",  # 'grey' (1 channel) or 'rgb' (3 channels)
    mean=None,  # per-channel mean / std in [0, 1]; None = computed on the training split
    std=None,
    size_mismatch="resize",  # mask size != image size: 'resize' (nearest), 'skip' or 'error'
    crop_size=256,
    base_size=256,
    scale_range=(0.5, 2.0),  # random scale of the short side, relative to base_size
    flip=True,
    target_crop_prob=0.0,
    blur_prob=0.0,
    eval_size=None,  # None = original resolution; 256 (DNANet protocol) or 512 (ACM protocol)
    pad_multiple=32,
    cache_dir=None,  # where generated scenes go (default: data_cache/ in the repository)
    synth=dict(),  # generate_dataset options: num_train, num_test, seed, sizes, max_targets
)
DEFAULT_METRICS = ["miou", "niou", "pd_fa", "pixel_roc", "pd_fa_curve"]


@TASKS.register("sirst")
class SIRSTTask(Task):
    """Infrared small-target segmentation (see the module docstring for the evaluation contract)."""

    primary_metric = "mIoU"
    default_configs = (
        "tasks/sirst/dnanet.py",
        "tasks/sirst/dnanet_basicirstd.py",
        "tasks/sirst/acm.py",
        "tasks/sirst/unet.py",
        "tasks/sirst/dnanet_tiny.py",
    )

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        data = dict(cfg.get("data") or {})
        unknown = sorted(set(data) - set(DATA_DEFAULTS))
        if unknown:
            raise ConfigError(f"data: unknown key(s) {unknown}; known keys: {', '.join(DATA_DEFAULTS)}")
        self.data = {**DATA_DEFAULTS, **data}
        if self.data["color"] not in ("grey", "rgb"):
            raise ConfigError(f"data.color must be 'grey' or 'rgb', got {self.data['color']!r}")
        self.channels = 1 if self.data["color"] == "grey" else 3
        self.threshold = float(cfg.get_path("eval.threshold", 0.5))
        self.report_items = int(cfg.get_path("eval.report_items", 8))
        self.protocol = protocol_name(self.data["eval_size"], self.data["pad_multiple"])
        self.norm = Normalisation([0.0] * self.channels, [1.0] * self.channels)
        self._norm_ready = False
        if self.data["mean"] is not None or self.data["std"] is not None:
            self._set_norm(self.data["mean"], self.data["std"])
        self._root: Path | None = None
        self._samples: list[dict] = []

    # ------------------------------------------------------------------ data
    @property
    def root(self) -> Path:
        """The dataset folder: ``data.root``, or the generated scenes when it is ``None``."""
        if self._root is None:
            if self.data["root"] is None:
                self._root = ensure_dataset(self.data["cache_dir"], **dict(self.data["synth"] or {}))
            else:
                self._root = Path(self.data["root"]).expanduser()
                if not self._root.is_dir():
                    raise DataError(f"data.root {self._root} does not exist (set data.root=None for generated scenes)")
        return self._root

    def _set_norm(self, mean: Any, std: Any) -> None:
        mean = [float(v) for v in (mean if isinstance(mean, (list, tuple)) else [mean] * self.channels)]
        std = [float(v) for v in (std if isinstance(std, (list, tuple)) else [std] * self.channels)]
        if len(mean) != self.channels or len(std) != self.channels or min(std) <= 0:
            raise ConfigError(f"data.mean / data.std need {self.channels} values (std > 0), got {mean} / {std}")
        self.norm.mean[:], self.norm.std[:] = mean, std  # in place: datasets share this object
        self._norm_ready = True

    def _dataset(self, split: str, train: bool) -> SIRSTDataset:
        d = self.data
        split_files = d["split_files"] or {}
        return SIRSTDataset(
            self.root,
            split,
            train=train,
            layout=d["layout"],
            split_file=split_files.get(split),
            image_dir=d["image_dir"],
            mask_dir=d["mask_dir"],
            mask_suffix=d["mask_suffix"],
            color=d["color"],
            norm=self.norm,
            size_mismatch=d["size_mismatch"],
            crop_size=d["crop_size"],
            base_size=d["base_size"],
            scale_range=d["scale_range"],
            flip=d["flip"],
            target_crop_prob=d["target_crop_prob"],
            blur_prob=d["blur_prob"],
            eval_size=d["eval_size"],
            seed=int(self.cfg.get("seed", 0)),
        )

    def build_dataset(self, split: str) -> Dataset:
        if split not in ("train", "val", "test"):
            raise ConfigError(f"sirst: unknown split {split!r}; expected train, val or test")
        if split == "train":
            ds = self._dataset("train", train=True)
        else:
            ds = self._dataset(self.data["val_split"] if split == "val" else "test", train=False)
        if not self._norm_ready:  # statistics of the training images, at their original size
            train = ds if split == "train" else self._dataset("train", train=False)
            stats = compute_normalisation([s["image"] for s in train.samples], self.data["color"])
            self._set_norm(stats.mean, stats.std)
        return ds

    def collate_fn(self, split: str):
        return None if split == "train" else collate_eval

    # ------------------------------------------------------------------ building
    def build_model(self) -> nn.Module:
        if self.cfg.model.get("in_channels") is None:
            self.cfg.model["in_channels"] = self.channels
        elif self.cfg.model["in_channels"] != self.channels:
            raise ConfigError(
                f"model.in_channels={self.cfg.model['in_channels']} but data.color={self.data['color']!r} gives "
                f"{self.channels} channel(s); leave model.in_channels=None"
            )
        return super().build_model()

    def build_metrics(self) -> MetricCollection:
        self._samples = []  # a new evaluation: collect fresh pictures for the report
        metrics = {}
        for spec in self.cfg.get("metrics") or DEFAULT_METRICS:
            spec = {"type": spec} if isinstance(spec, str) else dict(spec)
            cls = METRICS.get(spec["type"])
            if "threshold" in inspect.signature(cls).parameters and "threshold" not in spec:
                spec["threshold"] = self.threshold  # one threshold for every metric unless given
            metrics[spec["type"]] = METRICS.build(spec)
        return MetricCollection(metrics)

    # ------------------------------------------------------------------ steps
    def predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Probabilities (B, 1, H, W) for a normalised batch of any size (padded, then cropped back)."""
        h, w = x.shape[-2:]
        m = int(self.data["pad_multiple"] or 1)
        xp = F.pad(x, (0, (-w) % m, 0, (-h) % m))  # (B, C, H', W'), zeros at the bottom / right
        out = model(xp)
        if isinstance(out, (list, tuple)):  # deep supervision: the fused (last) output
            out = out[-1]
        return torch.sigmoid(out.float())[..., :h, :w]

    def eval_step(self, model: nn.Module, batch: dict) -> tuple[Any, Any]:
        prob = self.predict(model, batch["input"])
        target = batch["target"]
        sizes = (batch.get("meta") or {}).get("sizes")
        full = tuple(target.shape[-2:])
        if sizes and any(tuple(s) != full for s in sizes):  # mixed sizes: crop each image back
            prob = [prob[i : i + 1, :, : s[0], : s[1]] for i, s in enumerate(sizes)]
            target = [target[i : i + 1, :, : s[0], : s[1]] for i, s in enumerate(sizes)]
        self._collect(batch, prob, target)
        return prob, target

    def _collect(self, batch: dict, prob: Any, target: Any) -> None:
        """Keep the first ``eval.report_items`` samples (as small numpy arrays) for the report overlays."""
        names = (batch.get("meta") or {}).get("names") or []
        probs = prob if isinstance(prob, list) else list(prob.split(1))
        targets = target if isinstance(target, list) else list(target.split(1))
        for i, (p, t) in enumerate(zip(probs, targets)):
            if len(self._samples) >= self.report_items:
                return
            h, w = p.shape[-2:]
            x = batch["input"][i, :, :h, :w].detach().float().cpu().numpy()
            self._samples.append(
                {
                    "name": names[i] if i < len(names) else f"item{len(self._samples)}",
                    "image": self.norm.undo(x),
                    "prob": p[0, 0].detach().cpu().numpy(),
                    "mask": t[0, 0].detach().cpu().numpy(),
                }
            )

    # ------------------------------------------------------------------ outputs
    def visualise(self, batch: dict, pred: Any, max_items: int = 4) -> dict[str, np.ndarray]:
        probs = pred if isinstance(pred, list) else list(pred.split(1))
        names = (batch.get("meta") or {}).get("names") or []
        pictures = {}
        for i, p in enumerate(probs[:max_items]):
            h, w = p.shape[-2:]
            x = batch["input"][i, :, :h, :w].detach().float().cpu().numpy()
            mask = batch["target"][i, 0, :h, :w].detach().cpu().numpy()
            name = names[i] if i < len(names) else str(i)
            pictures[f"{i}_{name}"] = panel(self.norm.undo(x), p[0, 0].detach().cpu().numpy(), mask, self.threshold)
        return pictures

    def report(self, metrics: MetricCollection, results: dict[str, float], out_dir: Path) -> None:
        """Write ``sirst_report.json`` (protocol, counts, curves), ``roc.png``, ``pd_fa.png`` and overlays."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        extras: dict[str, Any] = {"protocol": self.protocol, "threshold": self.threshold, "metrics": results}
        names = {type(m).__name__: m for m in metrics}
        if "PixelROC" in names:
            roc = names["PixelROC"].curve()
            extras["pixel_roc"] = roc
            plot_roc(roc, out_dir / "roc.png", results.get("AUC"))
        if "PdFaCurve" in names:
            curve = names["PdFaCurve"].curve()
            extras["pd_fa_curve"] = curve
            if curve["targets"]:
                plot_pd_fa(curve, out_dir / "pd_fa.png")
        if "NIoU" in names:
            extras["per_image_iou"] = names["NIoU"].per_image.tolist()
        (out_dir / "sirst_report.json").write_text(json.dumps(extras, indent=1, default=_plain) + "\n")
        if self._samples:
            from PIL import Image

            vis = out_dir / "overlays"
            vis.mkdir(exist_ok=True)
            for s in self._samples:
                scale = max(1, 384 // max(s["prob"].shape))
                Image.fromarray(panel(s["image"], s["prob"], s["mask"], self.threshold, scale)).save(
                    vis / f"{s['name']}.png"
                )

    def format_results(self, results: dict[str, float]) -> str:
        def pct(key: str) -> str:
            return f"{100 * results[key]:.2f}" if key in results else "-"

        fa = f"{results['Fa'] * 1e6:.2f}" if "Fa" in results else "-"
        auc = f"{results['AUC']:.4f}" if "AUC" in results else "-"
        rows = [
            ("mIoU (%)", pct("mIoU")),
            ("nIoU (%)", pct("nIoU")),
            ("Pd (%)", pct("Pd")),
            ("Fa (x1e-6)", fa),
            ("AUC", auc),
        ]
        if "Fa_dnanet_legacy" in results:
            rows.append(("Fa DNANet legacy (x1e-6)", f"{results['Fa_dnanet_legacy'] * 1e6:.2f}"))
        rows += [
            ("protocol", self.protocol),
            ("threshold", f"prob > {self.threshold:g}"),
            ("images", str(results.get("images", "-"))),
            ("targets", f"{results.get('targets', '-')} ({results.get('detected', '-')} detected)"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        """``tools/infer.py``: probability and mask PNGs for an image file or a folder of images."""
        from PIL import Image

        src, out = Path(args.input), Path(args.out)
        files = [src] if src.is_file() else sorted(p for p in src.glob("*") if p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise DataError(f"--input {src}: no image file ({', '.join(IMAGE_EXTS)}) found")
        out.mkdir(parents=True, exist_ok=True)
        model.eval()
        with torch.no_grad():
            for path in files:
                img = self.norm.apply(load_image(path, self.data["color"]))
                x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None].to(device)  # (1, C, H, W)
                prob = self.predict(model, x)[0, 0].cpu().numpy()
                Image.fromarray((prob * 255).round().astype(np.uint8)).save(out / f"{path.stem}_prob.png")
                Image.fromarray(((prob > self.threshold) * 255).astype(np.uint8)).save(out / f"{path.stem}_mask.png")
        print(f"wrote {2 * len(files)} PNGs (probability, mask at prob > {self.threshold:g}) to {out}/")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {"norm": {"mean": list(self.norm.mean), "std": list(self.norm.std)}} if self._norm_ready else {}

    def load_state_dict(self, state: dict) -> None:
        if state.get("norm"):
            self._set_norm(state["norm"]["mean"], state["norm"]["std"])


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)
