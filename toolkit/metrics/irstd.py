"""Infrared small-target metrics: mIoU, nIoU, target-level Pd / Fa, pixel ROC / AUC and the Pd-Fa curve.

Definitions follow the field's reference evaluation code (facts taken from BasicIRSTD ``metrics.py``,
DNANet ``model/metric.py`` and ACM ``metric/samplewise.py``; Dai et al., "Asymmetric Contextual
Modulation for Infrared Small Target Detection", WACV 2021; Li et al., "Dense Nested Attention Network
for Infrared Small Target Detection", IEEE TIP 2022). With ``B = prob > threshold`` (strict) and
``G = mask == 1`` per image:

- **mIoU** = sum of |B and G| over the set / (sum of |B or G| + eps): accumulated, not a per-image mean.
- **nIoU** = the plain mean over images of |B and G| / (|B or G| + eps). An image whose ground truth and
  prediction are both empty scores **0**, not 1 (ACM's definition).
- **Pd / Fa**: 8-connected components of B and G; ground-truth targets in label (raster) order are each
  matched to the *first* not-yet-matched predicted component whose centroid lies at Euclidean distance
  strictly below 3 px (greedy first-fit, not an optimal assignment). Pd = matched / all targets.
  Fa = pixels of all unmatched predicted components / all pixels at evaluation size (BasicIRSTD's
  corrected definition, 2024). The legacy variant of DNANet (also copied by later codebases) drops every
  unmatched component whose area equals the area of some matched component; it is available as
  ``pd_fa_dnanet_legacy`` so that numbers from older papers can be compared.
- **AUC**: pixel-level ROC AUC of the probabilities against the masks (scikit-learn ``roc_auc_score``);
  TPR/FPR counts at fixed thresholds as in DNANet's ``ROCMetric``.

The heavy part (labelling, areas, centroids, candidate pairs) is vectorised with ``scipy.ndimage`` and
``numpy.bincount``; only conflicting candidate pairs are resolved one by one (see :func:`greedy_match`).
The reference values of ``shared/golden/irstd_expected.json`` are reproduced exactly for counts.

Input convention of every ``update(pred, target)``: ``pred`` holds probabilities in [0, 1] (apply the
sigmoid to logits first) and ``target`` binary masks (0/1 or bool), both (B, 1, H, W) or (B, H, W), or
lists of per-image (1, H, W) / (H, W) tensors when sizes differ within a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from toolkit.errors import DataError
from toolkit.metrics.base import Metric
from toolkit.registry import METRICS

__all__ = [
    "EPS",
    "TargetMatch",
    "component_stats",
    "greedy_match",
    "match_targets",
    "as_image_pairs",
    "MIoU",
    "NIoU",
    "PdFa",
    "PdFaDNANetLegacy",
    "PixelROC",
    "PdFaCurve",
]

EPS = float(np.spacing(1))  # 2.220446049250313e-16, the epsilon of the reference code
_EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity, as skimage.measure.label(connectivity=2)
_DENSE_PAIRS = 1 << 20  # above this many (target, component) pairs, candidates come from a k-d tree


# --------------------------------------------------------------------------- per-image core
def component_stats(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8-connected components of a 2-D boolean map with their areas and centroids.

    Labels are numbered in raster order of each component's first pixel (the numbering of
    ``skimage.measure.label``), centroids are the mean (row, col) of the component's pixels.

    Returns:
        ``labels`` (H, W) int32 with 0 for background, ``areas`` (N,) int64 and ``centroids`` (N, 2) float64.
    """
    labels, n = ndimage.label(binary, structure=_EIGHT)
    flat = labels.ravel()
    idx = np.flatnonzero(flat)
    lab = flat[idx]
    areas = np.bincount(lab, minlength=n + 1)[1:].astype(np.int64)
    if n == 0:
        return labels, areas, np.zeros((0, 2), dtype=np.float64)
    rows, cols = np.divmod(idx, labels.shape[1])
    # integer sums are exact in float64, so sum / area equals skimage's mean of the coordinates
    sum_r = np.bincount(lab, weights=rows, minlength=n + 1)[1:]
    sum_c = np.bincount(lab, weights=cols, minlength=n + 1)[1:]
    centroids = np.stack([sum_r / areas, sum_c / areas], axis=1)  # (N, 2)
    return labels, areas, centroids


def _candidate_pairs(gt_c: np.ndarray, pred_c: np.ndarray, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """All (target, component) index pairs closer than ``distance``, sorted by target then component."""
    if len(gt_c) * len(pred_c) <= _DENSE_PAIRS:
        dr = gt_c[:, None, 0] - pred_c[None, :, 0]  # (G, P)
        dc = gt_c[:, None, 1] - pred_c[None, :, 1]
        return np.nonzero(np.sqrt(dr * dr + dc * dc) < distance)  # row-major: already sorted
    from scipy.spatial import cKDTree

    # a slightly larger radius collects every candidate; the exact test below decides
    hits = cKDTree(pred_c).query_ball_point(gt_c, r=distance * (1 + 1e-9) + 1e-12)
    gi = np.repeat(np.arange(len(gt_c)), [len(h) for h in hits])
    pj = np.fromiter((j for h in hits for j in h), dtype=np.int64, count=len(gi))
    dr = gt_c[gi, 0] - pred_c[pj, 0]
    dc = gt_c[gi, 1] - pred_c[pj, 1]
    keep = np.sqrt(dr * dr + dc * dc) < distance
    gi, pj = gi[keep], pj[keep]
    order = np.lexsort((pj, gi))
    return gi[order], pj[order]


def greedy_match(gt_centroids: np.ndarray, pred_centroids: np.ndarray, distance: float = 3.0) -> np.ndarray:
    """Greedy first-fit matching of targets to predicted components, as the reference code loops.

    Targets are visited in label order; each takes the first component (in label order) that is not
    matched yet and whose centroid is closer than ``distance`` (strict). When no component is a
    candidate of two targets (the usual case), every target simply takes its first candidate; otherwise
    the candidate pairs (a few per target, never the whole image) are resolved in order.

    Returns:
        (G,) int64: the matched component index for each target, -1 when missed.
    """
    match = np.full(len(gt_centroids), -1, dtype=np.int64)
    if len(gt_centroids) == 0 or len(pred_centroids) == 0:
        return match
    gi, pj = _candidate_pairs(gt_centroids, pred_centroids, distance)
    if gi.size == 0:
        return match
    if np.unique(pj).size == pj.size:  # no shared candidate: first candidate of each target wins
        first = np.r_[True, gi[1:] != gi[:-1]]
        match[gi[first]] = pj[first]
        return match
    taken = np.zeros(len(pred_centroids), dtype=bool)
    for g, p in zip(gi.tolist(), pj.tolist()):
        if match[g] < 0 and not taken[p]:
            match[g] = p
            taken[p] = True
    return match


@dataclass
class TargetMatch:
    """Target-level result for one image (see :func:`match_targets`)."""

    targets: int  # ground-truth components
    matched: int  # detected targets
    pred_pixels: int
    fa_pixels: int  # pixels of unmatched predicted components (BasicIRSTD, fixed)
    fa_pixels_legacy: int  # DNANet legacy: unmatched components whose area equals no matched area
    gt_labels: np.ndarray  # (H, W) int32
    pred_labels: np.ndarray  # (H, W) int32
    gt_detected: np.ndarray  # (targets,) bool
    pred_matched: np.ndarray  # (components,) bool

    @property
    def pred_components(self) -> int:
        return len(self.pred_matched)


def match_targets(pred: np.ndarray, gt: np.ndarray, distance: float = 3.0) -> TargetMatch:
    """Components, greedy matching and false-alarm pixels of one binary prediction against one binary mask.

    Args:
        pred: (H, W) boolean prediction (already thresholded).
        gt: (H, W) boolean ground truth.
        distance: centroid distance below which a component detects a target.
    """
    gt_labels, _, gt_c = component_stats(gt)
    pred_labels, areas, pred_c = component_stats(pred)
    match = greedy_match(gt_c, pred_c, distance)
    hit = match[match >= 0]
    pred_matched = np.zeros(len(areas), dtype=bool)
    pred_matched[hit] = True
    pred_pixels = int(areas.sum())
    unmatched = areas[~pred_matched]
    legacy = unmatched[~np.isin(unmatched, areas[hit])]
    return TargetMatch(
        targets=len(gt_c),
        matched=len(hit),
        pred_pixels=pred_pixels,
        fa_pixels=int(unmatched.sum()),
        fa_pixels_legacy=int(legacy.sum()),
        gt_labels=gt_labels,
        pred_labels=pred_labels,
        gt_detected=match >= 0,
        pred_matched=pred_matched,
    )


# --------------------------------------------------------------------------- input handling
def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        return x.cpu().numpy()
    return np.asarray(x)


def _split_images(x: Any, what: str) -> list[np.ndarray]:
    if isinstance(x, (list, tuple)):
        out = []
        for item in x:
            out.extend(_split_images(item, what))
        return out
    a = _to_numpy(x)
    if a.ndim == 2:
        return [a]
    if a.ndim == 3 and a.shape[0] == 1:
        return [a[0]]
    if a.ndim == 3:  # (B, H, W)
        return list(a)
    if a.ndim == 4 and a.shape[1] == 1:  # (B, 1, H, W)
        return list(a[:, 0])
    raise DataError(f"IRSTD metrics expect {what} of shape (B, 1, H, W), (B, H, W) or (H, W), got {a.shape}")


def as_image_pairs(pred: Any, target: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a batch into per-image (probability, boolean mask) pairs and validate them.

    Raises:
        DataError: on mismatched shapes, probabilities outside [0, 1] (e.g. logits) or non-binary masks.
    """
    preds, masks = _split_images(pred, "predictions"), _split_images(target, "masks")
    if len(preds) != len(masks):
        raise DataError(f"IRSTD metrics got {len(preds)} predictions but {len(masks)} masks")
    pairs = []
    for p, m in zip(preds, masks):
        if p.shape != m.shape:
            raise DataError(f"prediction of shape {p.shape} does not match its mask of shape {m.shape}")
        if p.size:
            lo, hi = p.min(), p.max()
            if not (lo >= 0 and hi <= 1):  # also catches NaN
                raise DataError(
                    f"IRSTD metrics expect probabilities in [0, 1], got values in [{lo}, {hi}]; "
                    "apply a sigmoid to logits before the metric"
                )
            if m.dtype != bool:
                mlo, mhi = m.min(), m.max()
                if not (mlo >= 0 and mhi <= 1):
                    raise DataError(
                        f"IRSTD metrics expect 0/1 masks, got values in [{mlo}, {mhi}]; binarise masks first"
                    )
        pairs.append((p, m > 0.5 if m.dtype != bool else m))
    return pairs


class _IRSTDMetric(Metric):
    """Shared threshold handling; subclasses implement ``_update_image(prob, mask)``."""

    def __init__(self, threshold: float = 0.5):
        super().__init__()
        self.threshold = float(threshold)

    @torch.no_grad()
    def update(self, pred: Any, target: Any) -> None:
        for prob, mask in as_image_pairs(pred, target):
            self._update_image(prob, mask)

    def _update_image(self, prob: np.ndarray, mask: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def _count(value: int) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.int64)


# --------------------------------------------------------------------------- pixel-level
@METRICS.register("miou")
class MIoU(_IRSTDMetric):
    """Accumulated IoU of the target class: sum of intersections / sum of unions over the whole set.

    Args:
        threshold: a pixel is positive iff ``prob > threshold``.

    Shape:
        - pred: probabilities (B, 1, H, W) in [0, 1] (or a list of (1, H, W))
        - target: masks (B, 1, H, W) with values 0/1
    """

    higher_is_better = {"mIoU": True}

    def __init__(self, threshold: float = 0.5):
        super().__init__(threshold)
        self.add_state("inter", torch.zeros((), dtype=torch.int64))
        self.add_state("union", torch.zeros((), dtype=torch.int64))

    def _update_image(self, prob: np.ndarray, mask: np.ndarray) -> None:
        pos = prob > self.threshold
        inter = int(np.count_nonzero(pos & mask))
        self.inter += inter
        self.union += int(np.count_nonzero(pos)) + int(np.count_nonzero(mask)) - inter

    def _compute(self) -> dict[str, float]:
        return {"mIoU": int(self.inter) / (int(self.union) + EPS)}


@METRICS.register("niou")
class NIoU(_IRSTDMetric):
    """Mean of per-image IoUs (ACM's nIoU); an image with empty mask and empty prediction scores 0.

    ``per_image`` (after ``compute``) holds the IoU of every image in update order.

    Shape:
        - pred: probabilities (B, 1, H, W) in [0, 1]
        - target: masks (B, 1, H, W) with values 0/1
    """

    higher_is_better = {"nIoU": True}

    def __init__(self, threshold: float = 0.5):
        super().__init__(threshold)
        self.add_state("ious", [], reduce="cat")

    def _update_image(self, prob: np.ndarray, mask: np.ndarray) -> None:
        pos = prob > self.threshold
        inter = np.count_nonzero(pos & mask)
        union = np.count_nonzero(pos) + np.count_nonzero(mask) - inter
        self.ious.append(torch.tensor([inter / (union + EPS)], dtype=torch.float64))

    @property
    def per_image(self) -> np.ndarray:
        return self.cat_state("ious").numpy()

    def _compute(self) -> dict[str, float]:
        ious = self.per_image
        return {"nIoU": float(np.mean(ious)) if ious.size else float("nan")}


# --------------------------------------------------------------------------- target-level
@METRICS.register("pd_fa")
class PdFa(_IRSTDMetric):
    """Target-level probability of detection and false-alarm rate (BasicIRSTD's corrected definition).

    ``compute()`` returns ``Pd``, ``Fa`` (a ratio; tables usually print it x 1e6), and the counts
    ``targets``, ``detected`` and ``images``.

    Args:
        threshold: a pixel is positive iff ``prob > threshold``.
        distance: centroid distance (px) below which a component detects a target (strict, 3 in the field).

    Shape:
        - pred: probabilities (B, 1, H, W) in [0, 1] (or a list of (1, H, W) at original sizes)
        - target: masks (B, 1, H, W) with values 0/1
    """

    higher_is_better = {"Pd": True, "Fa": False}
    legacy = False

    def __init__(self, threshold: float = 0.5, distance: float = 3.0):
        super().__init__(threshold)
        self.distance = float(distance)
        for name in ("targets", "matched", "fa_pixels", "pixels", "images"):
            self.add_state(name, torch.zeros((), dtype=torch.int64))

    def _update_image(self, prob: np.ndarray, mask: np.ndarray) -> None:
        m = match_targets(prob > self.threshold, mask, self.distance)
        self.targets += m.targets
        self.matched += m.matched
        self.fa_pixels += m.fa_pixels_legacy if self.legacy else m.fa_pixels
        self.pixels += prob.size
        self.images += 1

    def _compute(self) -> dict[str, float]:
        targets, pixels = int(self.targets), int(self.pixels)
        pd = int(self.matched) / targets if targets else float("nan")
        fa = int(self.fa_pixels) / pixels if pixels else float("nan")
        return {"Pd": pd, "Fa": fa, "targets": targets, "detected": int(self.matched), "images": int(self.images)}


@METRICS.register("pd_fa_dnanet_legacy")
class PdFaDNANetLegacy(PdFa):
    """Pd and Fa as DNANet's code computes them, for comparison with older papers.

    The legacy Fa leaves out every unmatched component whose area equals the area of a matched
    component, so it under-counts false alarms. Keys: ``Pd_dnanet_legacy``, ``Fa_dnanet_legacy``.

    # NOTE: DNANet divides by 256 * 256 * images because it evaluates at 256 x 256; we divide by the
    # pixels actually evaluated, which is the same number under that protocol and meaningful under others.
    """

    higher_is_better = {"Pd_dnanet_legacy": True, "Fa_dnanet_legacy": False}
    legacy = True

    def _compute(self) -> dict[str, float]:
        out = super()._compute()
        return {"Pd_dnanet_legacy": out["Pd"], "Fa_dnanet_legacy": out["Fa"]}


def _check_thresholds(thresholds: Sequence[float]) -> np.ndarray:
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or np.any(np.diff(t) <= 0):
        raise ValueError(f"thresholds must be a non-empty increasing sequence, got {thresholds!r}")
    return t


@METRICS.register("pixel_roc")
class PixelROC(_IRSTDMetric):
    """Pixel-level ROC: TP/FP counts at fixed thresholds (DNANet's ``ROCMetric``) and the exact AUC.

    ``compute()`` returns ``AUC`` = ``sklearn.metrics.roc_auc_score`` over every pixel of every image
    (ties by the Mann-Whitney average rank); ``curve()`` returns the counts, rates and the full ROC.

    Args:
        thresholds: increasing thresholds for the counted curve (strict ``prob > t``); default
            0, 0.1, ..., 1.0 as DNANet's ``ROCMetric(bins=10)``.
        exact_auc: keep every pixel's score for the exact AUC (memory: 5 bytes per pixel); when
            ``False`` the AUC is the trapezoid area under the counted curve.

    Shape:
        - pred: probabilities (B, 1, H, W) in [0, 1]
        - target: masks (B, 1, H, W) with values 0/1
    """

    higher_is_better = {"AUC": True}

    def __init__(self, thresholds: Sequence[float] | None = None, exact_auc: bool = True):
        super().__init__(0.5)
        self.thresholds = _check_thresholds(np.linspace(0.0, 1.0, 11) if thresholds is None else thresholds)
        self.exact_auc = exact_auc
        k = len(self.thresholds)
        for name in ("tp", "fp"):
            self.add_state(name, torch.zeros(k, dtype=torch.int64))
        self.add_state("pos", torch.zeros((), dtype=torch.int64))
        self.add_state("neg", torch.zeros((), dtype=torch.int64))
        self.add_state("scores", [], reduce="cat")
        self.add_state("labels", [], reduce="cat")

    def _update_image(self, prob: np.ndarray, mask: np.ndarray) -> None:
        # above[i] = number of thresholds strictly below the pixel's score: the pixel counts for t_k, k < above[i]
        above = np.searchsorted(self.thresholds, prob.ravel(), side="left")
        k = len(self.thresholds)
        flat_mask = mask.ravel()
        pos_hist = np.bincount(above[flat_mask], minlength=k + 1)
        neg_hist = np.bincount(above[~flat_mask], minlength=k + 1)
        # count for threshold k = pixels with above > k: reversed cumulative sum from the top
        self.tp += torch.from_numpy(np.cumsum(pos_hist[::-1])[::-1][1:].copy())
        self.fp += torch.from_numpy(np.cumsum(neg_hist[::-1])[::-1][1:].copy())
        n_pos = int(np.count_nonzero(flat_mask))
        self.pos += n_pos
        self.neg += flat_mask.size - n_pos
        if self.exact_auc:
            self.scores.append(torch.from_numpy(np.ascontiguousarray(prob, dtype=np.float32).ravel().copy()))
            self.labels.append(torch.from_numpy(flat_mask.copy()))

    def curve(self, dnanet_eps: bool = False) -> dict[str, list[float]]:
        """Counts and rates at the fixed thresholds, plus the full ROC when exact scores are kept.

        Args:
            dnanet_eps: add 0.001 to the denominators, as DNANet's ``ROCMetric`` does.
        """
        self.sync()
        tp, fp = self.tp.numpy().astype(np.float64), self.fp.numpy().astype(np.float64)
        pos, neg = float(self.pos), float(self.neg)
        e = 0.001 if dnanet_eps else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            out = {
                "thresholds": self.thresholds.tolist(),
                "tp": tp.astype(np.int64).tolist(),
                "fp": fp.astype(np.int64).tolist(),
                "pos": int(pos),
                "neg": int(neg),
                "tpr": (tp / (pos + e)).tolist(),
                "fpr": (fp / (neg + e)).tolist(),
                "precision": (tp / (tp + fp + e)).tolist(),
            }
        if self.exact_auc and self.scores and 0 < pos and 0 < neg:
            from sklearn.metrics import roc_curve

            fpr, tpr, thr = roc_curve(self.cat_state("labels").numpy(), self.cat_state("scores").numpy())
            keep = _thin(len(fpr), 2000)
            out.update(roc_fpr=fpr[keep].tolist(), roc_tpr=tpr[keep].tolist(), roc_thresholds=thr[keep].tolist())
        return out

    def _compute(self) -> dict[str, float]:
        pos, neg = int(self.pos), int(self.neg)
        if pos == 0 or neg == 0:
            return {"AUC": float("nan")}
        if self.exact_auc:
            from sklearn.metrics import roc_auc_score

            return {"AUC": float(roc_auc_score(self.cat_state("labels").numpy(), self.cat_state("scores").numpy()))}
        tpr = np.r_[1.0, self.tp.numpy() / pos, 0.0]
        fpr = np.r_[1.0, self.fp.numpy() / neg, 0.0]
        trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 names it trapz
        return {"AUC": float(-trapezoid(tpr, fpr))}


def _thin(n: int, keep: int) -> np.ndarray:
    """Indices of at most ``keep`` roughly even points of ``n``, always including both ends."""
    if n <= keep:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, keep).round().astype(np.int64))


@METRICS.register("pd_fa_curve")
class PdFaCurve(_IRSTDMetric):
    """Target-level Pd and Fa over thresholds (a detection-style ROC). ``compute()`` returns no scalar;
    read the curve with :meth:`curve`.

    Args:
        thresholds: increasing probability thresholds (default 0.05, 0.10, ..., 0.95).
        distance: centroid distance for a detection.
        legacy: use DNANet's legacy Fa.

    Shape:
        - pred: probabilities (B, 1, H, W) in [0, 1]
        - target: masks (B, 1, H, W) with values 0/1
    """

    higher_is_better: dict[str, bool] = {}

    def __init__(self, thresholds: Sequence[float] | None = None, distance: float = 3.0, legacy: bool = False):
        super().__init__(0.5)
        self.thresholds = _check_thresholds(np.arange(1, 20) / 20 if thresholds is None else thresholds)
        self.distance = float(distance)
        self.legacy = legacy
        k = len(self.thresholds)
        self.add_state("matched", torch.zeros(k, dtype=torch.int64))
        self.add_state("fa_pixels", torch.zeros(k, dtype=torch.int64))
        self.add_state("targets", torch.zeros((), dtype=torch.int64))
        self.add_state("pixels", torch.zeros((), dtype=torch.int64))

    def _update_image(self, prob: np.ndarray, mask: np.ndarray) -> None:
        matched = np.zeros(len(self.thresholds), dtype=np.int64)
        fa = np.zeros(len(self.thresholds), dtype=np.int64)
        targets = 0
        for i, t in enumerate(self.thresholds):
            m = match_targets(prob > t, mask, self.distance)
            matched[i], fa[i], targets = m.matched, (m.fa_pixels_legacy if self.legacy else m.fa_pixels), m.targets
        self.matched += torch.from_numpy(matched)
        self.fa_pixels += torch.from_numpy(fa)
        self.targets += targets
        self.pixels += prob.size

    def curve(self) -> dict[str, list[float]]:
        """``{'thresholds', 'pd', 'fa', 'matched', 'fa_pixels', 'targets', 'pixels'}``."""
        self.sync()
        targets, pixels = int(self.targets), int(self.pixels)
        matched, fa = self.matched.numpy(), self.fa_pixels.numpy()
        return {
            "thresholds": self.thresholds.tolist(),
            "pd": (matched / targets).tolist() if targets else [float("nan")] * len(matched),
            "fa": (fa / pixels).tolist() if pixels else [float("nan")] * len(fa),
            "matched": matched.tolist(),
            "fa_pixels": fa.tolist(),
            "targets": targets,
            "pixels": pixels,
        }

    def _compute(self) -> dict[str, float]:
        return {}
