"""The SIRST task: single-frame infrared small-target segmentation, evaluated with the field's metrics.

Evaluation contract: ``eval_step`` returns sigmoid probabilities (B, 1, H, W) in [0, 1] and 0/1 masks
at the evaluation size (original resolution by default: the input is zero-padded to a multiple of
``data.pad_multiple`` and the output cropped back), or lists of per-image (1, 1, h, w) tensors when a
batch mixes sizes. The metrics threshold with ``prob > eval.threshold`` (0.5). With ``eval.baseline``
(default on) the same metrics also score a training-free top-hat detector on the same images
(:mod:`tasks.sirst.baseline`, keys ``tophat_*``), printed beside the model as video prints copy-last.

The data section of a config (every key documented in ``configs/_base_/datasets/sirst.py``) is the
signature of the registered dataset ``sirst`` (:func:`sirst_dataset`); the Task adds what only it has:
the normalisation shared by the splits and saved with checkpoints.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from tasks.sirst.baseline import DESCRIPTION, PREFIX, TopHatBaseline
from tasks.sirst.data import Normalisation, SIRSTDataset, collate_eval, compute_normalisation, protocol_name
from tasks.sirst.synth import ensure_dataset
from tasks.sirst.visualise import OverlaySamples, panel, plot_pd_fa, plot_roc
from toolkit.config import Config
from toolkit.data import IMAGE_EXTENSIONS, crop_to, pad_to_multiple, read_image, write_image
from toolkit.engine.task import Task, baseline_gain
from toolkit.errors import ConfigError, DataError
from toolkit.metrics import MetricCollection
from toolkit.metrics.irstd import NIoU, PdFaCurve, PixelROC, component_stats
from toolkit.registry import DATASETS, TASKS

__all__ = ["SIRSTTask", "sirst_dataset"]

_CHANNELS = {"grey": 1, "rgb": 3}


def _normalisation(mean: Any, std: Any, channels: int) -> Normalisation:
    """A :class:`Normalisation` from per-channel (or scalar) mean and std in [0, 1] units, checked."""
    if mean is None or std is None:
        raise ConfigError(
            f"data.mean={mean!r}, data.std={std!r}: give both, or neither for the training split's statistics"
        )
    mean = [float(v) for v in (mean if isinstance(mean, (list, tuple)) else [mean] * channels)]
    std = [float(v) for v in (std if isinstance(std, (list, tuple)) else [std] * channels)]
    if len(mean) != channels or len(std) != channels or min(std) <= 0:
        raise ConfigError(f"data.mean / data.std need {channels} values (std > 0), got {mean} / {std}")
    return Normalisation(mean, std)


def _data_root(root: str | None, cache_dir: str | None, synth: dict | None) -> Path:
    """``root``, or the generated scenes of ``synth`` under ``cache_dir`` when it is ``None``."""
    if root is None:
        return ensure_dataset(cache_dir, **dict(synth or {}))
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(f"data.root {path} does not exist (set data.root=None for generated scenes)")
    return path


@DATASETS.register("sirst")
def sirst_dataset(
    split: str,
    *,
    root: str | None,
    cache_dir: str | None,
    synth: dict | None,
    layout: str,
    split_files: dict | None,
    val_split: str,
    image_dir: str,
    mask_dir: str,
    mask_suffix: str,
    color: str,
    mean: float | Sequence[float] | None,
    std: float | Sequence[float] | None,
    size_mismatch: str,
    crop_size: int,
    base_size: int,
    scale_range: Sequence[float] | None,
    flip: bool,
    target_crop_prob: float,
    blur_prob: float,
    eval_size: int | None,
    pad_multiple: int,
    pad_fill: str = "zero",
    pad_position: str = "center",
    flip_after_crop: bool = False,
    norm: Normalisation | None = None,
    seed: int = 0,
) -> SIRSTDataset:
    """The ``split`` of a SIRST folder: the training list augmented, ``val`` / ``test`` as evaluated.

    Every keyword but the last two is a key of the config's ``data`` section, documented with its
    default in ``configs/_base_/datasets/sirst.py``; ``val`` reads the list ``val_split``. The padding
    keys have defaults here too: runs saved before they existed resume and evaluate as they trained.

    Args:
        norm: the normalisation the splits share (the Task's, e.g. from a checkpoint). ``None``: from
            ``mean`` / ``std``, or the statistics of the training images when both are ``None``.
        seed: base seed of the training augmentation.
    """
    del pad_multiple  # the evaluation padding of SIRSTTask.predict; no concern of the dataset
    if split not in ("train", "val", "test"):
        raise ConfigError(f"sirst: unknown split {split!r}; expected train, val or test")
    folder = _data_root(root, cache_dir, synth)
    lists = split_files or {}

    def make(name: str, train: bool) -> SIRSTDataset:
        return SIRSTDataset(
            folder,
            name,
            train=train,
            layout=layout,
            split_file=lists.get(name),
            image_dir=image_dir,
            mask_dir=mask_dir,
            mask_suffix=mask_suffix,
            color=color,
            norm=norm,
            size_mismatch=size_mismatch,
            crop_size=crop_size,
            base_size=base_size,
            scale_range=scale_range,
            flip=flip,
            target_crop_prob=target_crop_prob,
            blur_prob=blur_prob,
            pad_fill=pad_fill,
            pad_position=pad_position,
            flip_after_crop=flip_after_crop,
            eval_size=eval_size,
            seed=seed,
        )

    ds = make("train", True) if split == "train" else make(val_split if split == "val" else "test", False)
    if split != "train":
        _warn_if_not_held_out(ds, split, train_reads_all=layout == "folder" and not lists.get("train"))
    if norm is None:
        if mean is None and std is None:  # statistics of the training images, at their original size
            train = ds if split == "train" else make("train", False)
            norm = compute_normalisation([s["image"] for s in train.samples], color)
        else:
            norm = _normalisation(mean, std, _CHANNELS.get(color, 1))
        ds.norm = norm
    return ds


def _warn_if_not_held_out(ds: SIRSTDataset, split: str, *, train_reads_all: bool) -> None:
    """Warn when evaluation split ``split`` reads images the training split also reads (``layout='folder'``).

    NOTE: the folder layout is not split automatically: a random split would differ from any published
    one and change with the folder's contents; the user gives lists, or accepts the warning.
    """
    if ds.list_file is None and train_reads_all:
        what = f"split {split!r} evaluates on the {len(ds)} training images (every image of {ds.root}"
    elif ds.list_file is None:
        what = f"split {split!r} evaluates on images the training split also reads (every image of {ds.root}"
    elif train_reads_all:
        what = f"split {split!r} evaluates on images the training split also reads ({ds.list_file}; training reads all"
    else:
        return
    warnings.warn(
        f"{what}, data.layout='folder' without a list for both splits), so its scores measure fitting, not "
        "generalisation. Give held-out lists: data.split_files={'train': 'train.txt', 'test': 'test.txt'} "
        "(image ids one per line, relative to data.root)",
        UserWarning,
        stacklevel=2,
    )


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
    default_metrics = ("miou", "niou", "pd_fa", "pixel_roc", "pd_fa_curve")

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        color = cfg.data.color
        if color not in _CHANNELS:
            raise ConfigError(f"data.color must be 'grey' or 'rgb', got {color!r}")
        self.channels = _CHANNELS[color]
        self.threshold = float(cfg.get_path("eval.threshold", 0.5))
        if cfg.get_path("eval.baseline", True) and not 0.0 < self.threshold < 1.0:
            raise ConfigError(
                f"eval.threshold={self.threshold:g}: the top-hat baseline needs a threshold in (0, 1) to map its "
                "detections onto; choose one, or switch the baseline off with eval.baseline=False"
            )
        self.report_items = int(cfg.get_path("eval.report_items", 8))
        self.protocol = protocol_name(cfg.data.eval_size, cfg.data.pad_multiple)
        # set by the first dataset built (data.mean / data.std or training statistics) or by a checkpoint
        self.norm: Normalisation | None = None

    # ------------------------------------------------------------------ data
    def build_dataset(self, split: str) -> SIRSTDataset:
        ds = DATASETS.build(self.cfg.data, split=split, norm=self.norm, seed=int(self.cfg.get("seed", 0)))
        self.norm = ds.norm  # every later split (and the checkpoint) shares it
        return ds

    def collate_fn(self, split: str):
        return None if split == "train" else collate_eval

    def context(self) -> dict[str, Any]:
        return {"in_channels": self.channels}

    def metric_options(self) -> dict[str, Any]:
        return {"threshold": self.threshold}  # one threshold for every metric unless its spec gives one

    def build_metrics(self) -> MetricCollection:
        """The configured metrics, the top-hat baseline (``eval.baseline``) and the overlay pictures."""
        metrics = super().build_metrics()
        if self.cfg.get_path("eval.baseline", True):
            # a second build of the same specs, so the baseline is scored exactly as the model; the Pd-Fa
            # curve only feeds report()'s plot of the model, so the baseline skips it
            same = {
                k: m
                for k, m in super().build_metrics().metrics.items()
                if not m.uses_batch and not isinstance(m, PdFaCurve)
            }
            mean, std = (self.norm.mean, self.norm.std) if self.norm is not None else (None, None)
            metrics.metrics["tophat"] = TopHatBaseline(MetricCollection(same), mean, std)
        metrics.metrics["overlays"] = OverlaySamples(self.report_items)  # pictures for report()
        return metrics

    # ------------------------------------------------------------------ steps
    def predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Probabilities (B, 1, H, W) for a normalised batch of any size (padded, then cropped back)."""
        xp, size = pad_to_multiple(x, int(self.cfg.data.pad_multiple or 1))  # (B, C, H', W'), zeros bottom/right
        out = model(xp)
        if isinstance(out, (list, tuple)):  # deep supervision: the fused (last) output
            out = out[-1]
        return crop_to(torch.sigmoid(out.float()), size)  # (B, 1, H, W)

    def eval_step(self, model: nn.Module, batch: dict) -> tuple[Any, Any]:
        prob = self.predict(model, batch["input"])
        target = batch["target"]
        sizes = (batch.get("meta") or {}).get("sizes")
        full = tuple(target.shape[-2:])
        if sizes and any(tuple(s) != full for s in sizes):  # mixed sizes: crop each image back
            prob = [prob[i : i + 1, :, : s[0], : s[1]] for i, s in enumerate(sizes)]
            target = [target[i : i + 1, :, : s[0], : s[1]] for i, s in enumerate(sizes)]
        return prob, target

    def explain_target(
        self, model: nn.Module, x: torch.Tensor, batch: dict, target_class: int | None = None
    ) -> tuple[torch.Tensor, list[str]]:
        """Seg-Grad-CAM's target: the logits summed over the predicted target region (prob > eval.threshold).

        A sample with no pixel above the threshold is explained at its highest logit (its line says so).
        """
        if target_class is not None:
            raise ConfigError("--target-class: sirst has one class (target); the region is the predicted mask")
        xp, size = pad_to_multiple(x, int(self.cfg.data.pad_multiple or 1))  # as predict() runs the model
        out = model(xp)
        if isinstance(out, (list, tuple)):
            out = out[-1]
        logit = crop_to(out.float(), size)[:, 0]  # (B, H, W)
        region = (torch.sigmoid(logit) > self.threshold).detach()  # (B, H, W)
        empty = ~region.flatten(1).any(1)  # (B,)
        if empty.any():
            peak = torch.zeros_like(region).flatten(1)
            peak[torch.arange(len(peak)), logit.detach().flatten(1).argmax(1)] = True
            region = torch.where(empty[:, None, None], peak.view_as(region), region)
        value = (logit * region).flatten(1).sum(1)  # (B,)
        lines = []
        for n, e, v in zip(region.flatten(1).sum(1).tolist(), empty.tolist(), value.tolist()):
            where = "no pixel above the threshold: the highest-logit pixel" if e else f"{n} predicted target pixels"
            lines.append(f"logits summed over {where} (prob > {self.threshold:g}): {v:.4g}")
        return value, lines

    def explain_layers(self, model: nn.Module) -> list[str]:
        """The deepest encoder stage (DNANet ``nodes.<L-1>_0``, ACM ``layer3``) and the last attention slot."""
        paths = dict(model.named_modules())
        deepest = [p for p in (f"nodes.{getattr(model, 'levels', 0) - 1}_0", "layer3") if p in paths]
        return deepest + super().explain_layers(model)

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

    def report(
        self,
        metrics: MetricCollection,
        results: dict[str, Any],
        out_dir: Path,
        *,
        model: nn.Module | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        """Write ``sirst_report.json`` (protocol, counts, curves), ``roc.png``, ``pd_fa.png`` and overlays."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        extras: dict[str, Any] = {"protocol": self.protocol, "threshold": self.threshold, "metrics": results}
        roc, curve, niou, overlays = (_first(metrics, cls) for cls in (PixelROC, PdFaCurve, NIoU, OverlaySamples))
        if roc is not None:
            extras["pixel_roc"] = roc.curve()
            plot_roc(extras["pixel_roc"], out_dir / "roc.png", results.get("AUC"))
        if curve is not None:
            extras["pd_fa_curve"] = curve.curve()
            if extras["pd_fa_curve"]["targets"]:
                plot_pd_fa(extras["pd_fa_curve"], out_dir / "pd_fa.png")
        if niou is not None:
            extras["per_image_iou"] = niou.per_image.tolist()
        (out_dir / "sirst_report.json").write_text(json.dumps(extras, indent=1, default=_plain) + "\n")
        if overlays is not None and overlays.samples:
            vis = out_dir / "overlays"
            vis.mkdir(exist_ok=True)
            for s in overlays.samples:
                picture = panel(self.norm.undo(s["input"]), s["prob"], s["mask"], self.threshold)  # >= 256 px
                write_image(vis / f"{s['name']}.png", picture)

    def summary(self, results: dict[str, Any]) -> str:
        """The validation line, with false-alarm rates in x1e-6 as in the evaluation table; of the top-hat
        baseline only mIoU, Pd and Fa, in parentheses."""

        def shown(k: str, v: float) -> str:
            return f"{k} {v * 1e6:.2f}e-6" if k.startswith(("Fa", PREFIX + "Fa")) else f"{k} {v:.4g}"

        parts = [shown(k, v) for k, v in results.items() if isinstance(v, float) and not k.startswith(PREFIX)]
        base = [shown(PREFIX + k, results[PREFIX + k]) for k in ("mIoU", "Pd", "Fa") if PREFIX + k in results]
        return ", ".join(parts + ([f"({', '.join(base)})"] if base else []))

    def format_results(self, results: dict[str, Any], metrics: MetricCollection | None = None) -> str:
        """The field's five numbers and the protocol; the top-hat baseline, when scored, in a second column."""
        base = any(k.startswith(PREFIX) for k in results)

        def cell(key: str) -> str:
            if key not in results:
                return "-"
            v = results[key]
            name = key[len(PREFIX) :] if key.startswith(PREFIX) else key
            if name.startswith("Fa"):
                return f"{v * 1e6:.2f}"
            return f"{v:.4f}" if name == "AUC" else f"{100 * v:.2f}"

        rows = [
            (label, cell(key), cell(PREFIX + key) if base else None)
            for label, key in (
                ("mIoU (%)", "mIoU"),
                ("nIoU (%)", "nIoU"),
                ("Pd (%)", "Pd"),
                ("Fa (x1e-6)", "Fa"),
                ("AUC", "AUC"),
            )
        ]
        if "Fa_dnanet_legacy" in results:
            legacy = cell(PREFIX + "Fa_dnanet_legacy") if base else None
            rows.append(("Fa DNANet legacy (x1e-6)", cell("Fa_dnanet_legacy"), legacy))
        rows += [
            (
                "detected targets",
                str(results.get("detected", "-")),
                str(results.get(PREFIX + "detected", "-")) if base else None,
            ),
            ("protocol", self.protocol, None),
            ("threshold", f"prob > {self.threshold:g}", None),
            ("images", str(results.get("images", "-")), None),
            ("targets", str(results.get("targets", "-")), None),
        ]
        width = max(len(k) for k, _, _ in rows)
        col = max((len(v) for _, v, o in rows if o is not None), default=0)
        lines = [f"{'':<{width}}  {'model':>{col}}  {'tophat':>9}"] if base else []
        for label, model, other in rows:
            line = f"{label:<{width}}  {model:>{col}}" if other is not None else f"{label:<{width}}  {model}"
            lines.append(line + (f"  {other:>9}" if other is not None else ""))
        if base:
            lines.append(f"tophat: the {DESCRIPTION} of tasks/sirst/baseline.py, no training, on the same images")
        lines += baseline_gain(
            results,
            "mIoU",
            PREFIX,
            "mIoU points",
            "the model segments worse than a top-hat filter that needs no training; it is undertrained or "
            "mis-configured (learning rate, iterations, normalisation)",
        )
        return "\n".join(lines)

    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        """``tools/infer.py``: probability and mask PNGs for an image file or a folder of images, and the
        detected targets of every image in ``detections.csv`` / ``detections.json``.

        A target is an 8-connected component of the mask (the components the Pd metric counts); its row
        holds the image, the centroid (row, col, in pixels of the image), the area in pixels and the
        peak probability inside it.
        """
        if self.norm is None:
            raise ConfigError("the checkpoint holds no normalisation statistics (task state); was it trained?")
        src, out = Path(args.input), Path(args.out)
        files = [src] if src.is_file() else sorted(p for p in src.glob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise DataError(f"--input {src}: no image file ({', '.join(IMAGE_EXTENSIONS)}) found")
        out.mkdir(parents=True, exist_ok=True)
        model.eval()
        detections = []
        with torch.no_grad():
            for path in files:
                img = self.norm.apply(read_image(path, self.cfg.data.color))  # (H, W, C) normalised
                x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None].to(device)  # (1, C, H, W)
                prob = self.predict(model, x)[0, 0].cpu().numpy()
                mask = prob > self.threshold
                write_image(out / f"{path.stem}_prob.png", (prob * 255).round().astype(np.uint8))
                write_image(out / f"{path.stem}_mask.png", (mask * 255).astype(np.uint8))
                detections += _detections(path.name, prob, mask)
        _write_detections(detections, out)
        print(
            f"wrote {2 * len(files)} PNGs (probability, mask at prob > {self.threshold:g}) and "
            f"{len(detections)} detected targets in {len(files)} image(s) to {out}/detections.csv"
        )

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {"norm": {"mean": list(self.norm.mean), "std": list(self.norm.std)}} if self.norm is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if state.get("norm"):
            self.norm = _normalisation(state["norm"]["mean"], state["norm"]["std"], self.channels)


def _first(metrics: MetricCollection, cls: type) -> Any:
    """The first metric of the collection that is a ``cls``, or ``None``."""
    return next((m for m in metrics if isinstance(m, cls)), None)


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _detections(image: str, prob: np.ndarray, mask: np.ndarray) -> list[dict[str, Any]]:
    """One record per 8-connected component of ``mask``: centroid, area and peak probability."""
    labels, areas, centroids = component_stats(mask)
    peaks = ndimage.maximum(prob, labels, index=np.arange(1, len(areas) + 1)) if len(areas) else []
    return [
        {"image": image, "row": round(float(r), 2), "col": round(float(c), 2), "area": int(a), "peak": float(p)}
        for (r, c), a, p in zip(centroids, areas, peaks)
    ]


def _write_detections(rows: list[dict[str, Any]], out: Path) -> None:
    import csv

    fields = ["image", "row", "col", "area", "peak"]
    try:
        with open(out / "detections.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        (out / "detections.json").write_text(json.dumps(rows, indent=1) + "\n")
    except OSError as exc:
        raise DataError(f"cannot write the detections into {out}: {exc.strerror or exc}") from None
