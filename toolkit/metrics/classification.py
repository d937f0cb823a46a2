"""Classification metrics from one accumulated confusion matrix: OA, AA, Cohen's kappa, per-class accuracy.

These are the numbers hyperspectral-classification papers report (e.g. HybridSN, Roy et al., IEEE GRSL
2020; SSRN, Zhong et al., IEEE TGRS 2018). Everything is derived from a ``(K, K)`` confusion matrix
(rows = true class, columns = predicted class) held as a ``sum`` state, so a DDP evaluation reduces
exactly to the single-process result.

Definitions (match scikit-learn 1.9, checked against golden values):

- OA = trace(CM) / N  (``accuracy_score``).
- kappa = (p_o - p_e) / (1 - p_e), p_e = sum_c row_c * col_c / N^2  (``cohen_kappa_score``).
- per-class accuracy = recall_c = CM[c, c] / sum_j CM[c, j].
- AA, three conventions that differ only when a class has no true sample:

  ``'sklearn'`` (default)
      mean recall over the classes present in the ground truth (``balanced_accuracy_score``).
  ``'ssrn'``
      mean over the classes present in the ground truth *or* the predictions, 0/0 counted as 0
      (SSRN ``AA_andEachClassAccuracy`` on sklearn's default confusion matrix; HybridSN uses the same).
  ``'spectralformer'``
      NaN as soon as a predicted class has no true sample (SpectralFormer ``output_metric``).

Classes without a true sample are listed by :meth:`ClassificationMetric.absent_classes`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from toolkit.metrics.base import Metric
from toolkit.registry import METRICS

__all__ = ["ClassificationMetric", "classification_scores", "AA_MODES"]

AA_MODES = ("sklearn", "ssrn", "spectralformer")


def classification_scores(confmat: np.ndarray, aa_mode: str = "sklearn") -> dict[str, float]:
    """OA, AA and kappa of a confusion matrix (rows = true class, columns = predicted class).

    Args:
        confmat: integer array (K, K).
        aa_mode: which AA convention, one of ``AA_MODES`` (see the module docstring).

    Returns:
        ``{'OA', 'AA', 'kappa'}`` as Python floats; all NaN when the matrix is empty.
    """
    if aa_mode not in AA_MODES:
        raise ValueError(f"aa_mode must be one of {AA_MODES}, got {aa_mode!r}")
    cm = np.asarray(confmat, dtype=np.int64)
    n = int(cm.sum())
    if n == 0:
        return {"OA": math.nan, "AA": math.nan, "kappa": math.nan}
    support = cm.sum(axis=1)  # true samples per class
    predicted = cm.sum(axis=0)
    diag = np.diag(cm)

    oa = int(diag.sum()) / n  # exact: one correctly rounded integer division

    present = support > 0
    recall = np.zeros(len(cm), dtype=np.float64)
    recall[present] = diag[present] / support[present]
    if aa_mode == "sklearn":
        aa = float(np.mean(recall[present]))
    elif aa_mode == "ssrn":
        seen = present | (predicted > 0)
        aa = float(np.mean(recall[seen]))
    else:
        aa = math.nan if np.any(~present & (predicted > 0)) else float(np.mean(recall[present]))

    # chance agreement from the marginals, with integer products so that only the last steps round
    p_e = int(np.dot(support, predicted)) / (n * n)
    kappa = (oa - p_e) / (1.0 - p_e) if p_e != 1.0 else math.nan
    return {"OA": oa, "AA": aa, "kappa": kappa}


@METRICS.register("classification")
class ClassificationMetric(Metric):
    """Overall accuracy, average accuracy, Cohen's kappa and per-class accuracy.

    ``compute()`` returns ``OA``, ``AA``, ``kappa`` and ``acc_<c>`` for every class ``c`` (0-based;
    0.0 for a class with no true sample, as scikit-learn's ``recall_score(zero_division=0)``). The
    confusion matrix and the list of absent classes are available after ``compute``.

    Args:
        num_classes: number of classes K (the HSI Task fills it in from the data).
        aa_mode: AA convention when a class has no true sample: ``'sklearn'`` (default), ``'ssrn'``
            or ``'spectralformer'``.
        ignore_index: targets equal to this value are skipped (e.g. -1 for unlabelled pixels).
        per_class: include the ``acc_<c>`` entries in ``compute()``.
        first_class: the number of class index 0 in those keys and in reports (1 where the dataset
            numbers its classes from 1, as hyperspectral label maps do: ``acc_1`` is index 0).

    Shape:
        - pred: logits (B, K) (argmax is taken) or class indices (B,)
        - target: class indices (B,)
    """

    higher_is_better = {"OA": True, "AA": True, "kappa": True}

    def __init__(
        self,
        num_classes: int,
        aa_mode: str = "sklearn",
        ignore_index: int | None = -1,
        per_class: bool = True,
        first_class: int = 0,
    ):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        if aa_mode not in AA_MODES:
            raise ValueError(f"aa_mode must be one of {AA_MODES}, got {aa_mode!r}")
        self.num_classes = num_classes
        self.aa_mode = aa_mode
        self.ignore_index = ignore_index
        self.per_class = per_class
        self.first_class = first_class
        names = (f"acc_{c + first_class}" for c in range(num_classes))
        self.higher_is_better = {**type(self).higher_is_better, **{name: True for name in names}}
        self.add_state("confmat", torch.zeros(num_classes, num_classes, dtype=torch.int64), reduce="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch: ``pred`` logits (B, K) or indices (B,), ``target`` indices (B,)."""
        k = self.num_classes
        if pred.ndim == 2 and pred.shape[1] == k and target.ndim == 1:
            pred = pred.argmax(dim=1)
        if pred.shape != target.shape:
            raise ValueError(
                f"classification metric expects logits (B, {k}) or indices (B,) and targets (B,), "
                f"got pred {tuple(pred.shape)} and target {tuple(target.shape)}"
            )
        pred = pred.reshape(-1).long()
        target = target.reshape(-1).long()
        if self.ignore_index is not None:
            keep = target != self.ignore_index
            pred, target = pred[keep], target[keep]
        if target.numel() and (
            int(target.min()) < 0 or int(target.max()) >= k or int(pred.min()) < 0 or int(pred.max()) >= k
        ):
            raise ValueError(f"class indices must lie in [0, {k}); got targets {target.unique().tolist()[:8]}...")
        flat = target * k + pred  # one bincount over (true, pred) pairs
        counts = torch.bincount(flat, minlength=k * k).reshape(k, k)  # (K, K)
        self.confmat = self.confmat + counts.to(self.confmat.device)

    def _compute(self) -> dict[str, float]:
        cm = self.confusion_matrix()
        out = classification_scores(cm, self.aa_mode)
        if self.per_class:
            for c, acc in enumerate(self.per_class_accuracy(absent=0.0)):
                out[f"acc_{c + self.first_class}"] = float(acc)
        return out

    # ------------------------------------------------------------------ extras for reports
    def confusion_matrix(self) -> np.ndarray:
        """The accumulated (K, K) int64 matrix, rows = true class, columns = predicted class."""
        return self.confmat.detach().cpu().numpy().astype(np.int64)

    def per_class_accuracy(self, absent: float = math.nan) -> np.ndarray:
        """Recall of every class (K,); ``absent`` for a class with no true sample."""
        cm = self.confusion_matrix()
        support = cm.sum(axis=1)
        acc = np.full(len(cm), absent, dtype=np.float64)
        acc[support > 0] = np.diag(cm)[support > 0] / support[support > 0]
        return acc

    def absent_classes(self) -> list[int]:
        """Classes with no true sample (excluded from the default AA)."""
        return [int(c) for c in np.flatnonzero(self.confusion_matrix().sum(axis=1) == 0)]

    def all_aa(self) -> dict[str, float]:
        """AA under each of the three conventions, for reports."""
        cm = self.confusion_matrix()
        return {mode: classification_scores(cm, mode)["AA"] for mode in AA_MODES}
