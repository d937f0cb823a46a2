"""Pictures for infrared small-target results: detection overlays, ROC and Pd-Fa curves.

:class:`OverlaySamples` keeps the first images of an evaluation for the report's overlays; it is a
metric (updated with the batch) so that the samples belong to the evaluation, not to the Task.

Overlay colours: detected targets get a green box, missed targets a red box, predicted pixels that
belong to a detection are tinted cyan and false-alarm components (unmatched predictions) magenta with
a yellow box. The matching is the metric's own (8-connectivity, centroid distance < 3 px). The panels
(:func:`panel`) are titled and carry this legend; small images are enlarged by a whole factor
(nearest neighbour) to at least 256 px.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from toolkit.engine.pictures import column, enlarge, factor_for, legend, ramp, row, titled
from toolkit.metrics import Metric
from toolkit.metrics.irstd import match_targets

__all__ = ["COLOURS", "OverlaySamples", "overlay", "panel", "legend_band", "plot_roc", "plot_pd_fa"]

COLOURS = {
    "detected": (0, 220, 0),
    "missed": (255, 40, 40),
    "hit_pixels": (0, 220, 255),
    "false_alarm": (255, 0, 255),
    "false_alarm_box": (255, 220, 0),
}


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1) or (H, W, 3) uint8 -> (H, W, 3) uint8."""
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3].copy()


def _box(rgb: np.ndarray, sl: tuple[slice, slice], colour: Sequence[int], margin: int = 2) -> None:
    h, w = rgb.shape[:2]
    r0, r1 = max(sl[0].start - margin, 0), min(sl[0].stop + margin, h) - 1
    c0, c1 = max(sl[1].start - margin, 0), min(sl[1].stop + margin, w) - 1
    rgb[r0, c0 : c1 + 1] = colour
    rgb[r1, c0 : c1 + 1] = colour
    rgb[r0 : r1 + 1, c0] = colour
    rgb[r0 : r1 + 1, c1] = colour


def overlay(
    image: np.ndarray, prob: np.ndarray, mask: np.ndarray, threshold: float = 0.5, distance: float = 3.0
) -> np.ndarray:
    """Mark detected targets, missed targets and false alarms on the image.

    Args:
        image: uint8 (H, W) or (H, W, C) picture of the input.
        prob: (H, W) probabilities.
        mask: (H, W) ground truth (0/1).
        threshold: binarisation threshold (strict).
        distance: centroid distance of a detection.

    Returns:
        uint8 (H, W, 3).
    """
    rgb = _to_rgb(image).astype(np.float32)
    m = match_targets(prob > threshold, mask > 0, distance)
    matched_ids = np.flatnonzero(m.pred_matched) + 1
    hit = np.isin(m.pred_labels, matched_ids)
    fa = (m.pred_labels > 0) & ~hit
    for sel, colour in ((hit, COLOURS["hit_pixels"]), (fa, COLOURS["false_alarm"])):
        rgb[sel] = 0.35 * rgb[sel] + 0.65 * np.asarray(colour, dtype=np.float32)
    out = rgb.round().astype(np.uint8)
    for k, sl in enumerate(ndimage.find_objects(m.gt_labels)):
        if sl is not None:
            _box(out, sl, COLOURS["detected"] if m.gt_detected[k] else COLOURS["missed"])
    for k, sl in enumerate(ndimage.find_objects(m.pred_labels)):
        if sl is not None and not m.pred_matched[k]:
            _box(out, sl, COLOURS["false_alarm_box"], margin=1)
    return out


def panel(
    image: np.ndarray,
    prob: np.ndarray,
    mask: np.ndarray,
    threshold: float = 0.5,
    scale: int | None = None,
    *,
    labels: bool = True,
) -> np.ndarray:
    """Input | ground truth | probability | overlay side by side, titled, with the colour legend below.

    Each panel is enlarged by a whole factor with nearest-neighbour sampling (every image pixel a
    ``scale x scale`` block, nothing interpolated); the overlay's boxes are drawn at image resolution first.

    Args:
        image: uint8 (H, W) or (H, W, C) input picture; prob: (H, W) probabilities; mask: (H, W) 0/1 truth.
        threshold: binarisation threshold of the overlay (strict).
        scale: the enlargement (``None``: the least whole factor giving a short side of at least 256 px).
        labels: panel titles above and the legend of the probability and overlay colours below.

    Returns:
        uint8: without labels (H k, 4 W k + 3 gaps, 3); with them 22 px of titles above and the legend below.
    """
    tiles = [
        _to_rgb(image),
        _to_rgb((mask > 0).astype(np.uint8) * 255),
        _heat(prob),
        overlay(image, prob, mask, threshold),
    ]
    k = factor_for(*tiles[0].shape[:2]) if scale is None else int(scale)
    tiles = [enlarge(t, k) for t in tiles]
    if not labels:
        return row(tiles, gap=2)
    names = ("input", "ground truth", "probability", f"overlay (prob > {threshold:g})")
    strip = row([titled(t, n) for t, n in zip(tiles, names)], gap=2)
    return column([strip, legend_band(strip.shape[1])], gap=2)


def legend_band(width: int) -> np.ndarray:
    """The legend of :func:`panel`'s colours (probability scale; overlay boxes and tints), ``width`` px wide."""
    heat = _heat(np.linspace(0, 1, 64)[None])[0]  # (64, 3)
    entries = [
        (ramp(heat), "probability 0 .. 1"),
        (COLOURS["detected"], "target detected (TP, box)"),
        (COLOURS["missed"], "target missed (FN, box)"),
        (COLOURS["hit_pixels"], "predicted pixels of a detection"),
        (COLOURS["false_alarm"], "false-alarm pixels (FP)"),
        (COLOURS["false_alarm_box"], "false alarm (FP, box)"),
    ]
    return legend(entries, width)


def _heat(prob: np.ndarray) -> np.ndarray:
    """A black-red-yellow-white colour map of probabilities in [0, 1]."""
    p = np.clip(prob, 0, 1)
    rgb = np.stack([np.clip(3 * p, 0, 1), np.clip(3 * p - 1, 0, 1), np.clip(3 * p - 2, 0, 1)], axis=-1)
    return (rgb * 255).round().astype(np.uint8)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(curve: dict, path: str | Path, auc: float | None = None, title: str = "pixel ROC") -> None:
    """Plot the pixel-level ROC (full curve when available, the counted thresholds as points)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    if "roc_fpr" in curve:
        ax.plot(curve["roc_fpr"], curve["roc_tpr"], lw=1.5, label=f"ROC (AUC {auc:.4f})" if auc is not None else "ROC")
    ax.plot(
        curve["fpr"],
        curve["tpr"],
        "o",
        ms=3,
        label="thresholds " + ", ".join(f"{t:g}" for t in curve["thresholds"][1:-1:2]),
    )
    ax.set_xscale("symlog", linthresh=1e-4)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positive rate (pixels)")
    ax.set_ylabel("true positive rate (pixels)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_pd_fa(curve: dict, path: str | Path, title: str = "target-level Pd-Fa") -> None:
    """Plot Pd against Fa (x 1e-6) over the thresholds, each point labelled with its threshold."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    fa = np.asarray(curve["fa"]) * 1e6
    ax.plot(fa, curve["pd"], "-o", ms=3)
    for t, x, y in zip(curve["thresholds"], fa, curve["pd"]):
        if abs(t * 10 - round(t * 10)) < 1e-9:  # label 0.1, 0.2, ...
            ax.annotate(f"{t:g}", (x, y), fontsize=6, xytext=(3, -8), textcoords="offset points")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("Fa (x 1e-6, symlog)")
    ax.set_ylabel("Pd")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{title} ({curve['targets']} targets)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


class OverlaySamples(Metric):
    """The first ``limit`` images of an evaluation, kept for the report's overlays; scores nothing.

    ``samples`` holds dicts ``{'name', 'input', 'prob', 'mask'}`` of numpy arrays at each image's own
    size: the normalised input (C, h, w), the probabilities and the 0/1 mask (h, w). Under DDP every
    process keeps the first images of its own shard (the report is drawn by rank 0).

    Args:
        limit: how many images to keep.
    """

    uses_batch = True

    def __init__(self, limit: int = 8):
        super().__init__()
        self.limit = int(limit)
        self.samples: list[dict[str, Any]] = []

    def reset(self) -> None:
        super().reset()
        self.samples = []

    @torch.no_grad()
    def update(self, pred: Any, target: Any, batch: dict) -> None:
        names = (batch.get("meta") or {}).get("names") or []
        probs = pred if isinstance(pred, list) else list(pred.split(1))  # each (1, 1, h, w)
        targets = target if isinstance(target, list) else list(target.split(1))
        for i, (p, t) in enumerate(zip(probs, targets)):
            if len(self.samples) >= self.limit:
                return
            h, w = p.shape[-2:]
            self.samples.append(
                {
                    "name": names[i] if i < len(names) else f"item{len(self.samples)}",
                    "input": batch["input"][i, :, :h, :w].float().cpu().numpy(),  # (C, h, w), normalised
                    "prob": p[0, 0].float().cpu().numpy(),
                    "mask": t[0, 0].cpu().numpy(),
                }
            )

    def _compute(self) -> dict[str, float]:
        return {}
