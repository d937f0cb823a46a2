"""The per-pixel baseline every spectral-spatial model must beat: logistic regression on the pixel's spectrum.

The classifier sees exactly what the model sees at the centre of its patch (the preprocessed spectrum:
band standardisation + PCA fitted on the training pixels, or the checkpoint's), one pixel at a time and
no neighbourhood. It is fitted on the training pixels of the split in use, predicts every pixel of the
scene once (a (H, W) map, cheap: a linear model on a few thousand pixels), and is scored on the pixels
of the evaluated split with the model's own classification metric, as ``logreg_OA``, ``logreg_AA``,
``logreg_kappa`` and ``logreg_acc_<c>``. What the model gains over it is what the spatial context of a
patch brought.
"""

from __future__ import annotations

import numpy as np
import torch

from toolkit.metrics import Metric
from toolkit.metrics.classification import ClassificationMetric

__all__ = ["SpectralBaseline", "fit_spectral_baseline", "PREFIX", "DESCRIPTION"]

PREFIX = "logreg_"
DESCRIPTION = "logistic regression on spectra"


def fit_spectral_baseline(features: np.ndarray, labels: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Fit scikit-learn's ``LogisticRegression`` on the ``train`` pixels and predict every pixel.

    Args:
        features: (H, W, D) preprocessed spectra.
        labels: (H, W) class indices 0..K-1 (-1 = unlabelled; only ``train`` pixels are read).
        train: flat indices (row * W + col) of the training pixels.

    Returns:
        (H, W) int64 predicted class indices.
    """
    from sklearn.linear_model import LogisticRegression

    h, w, d = features.shape
    x = features.reshape(-1, d).astype(np.float64)  # (H*W, D)
    y = labels.ravel()[train]
    classes = np.unique(y)
    if len(classes) < 2:  # nothing to separate: scikit-learn refuses one class, the answer is that class
        return np.full((h, w), int(classes[0]) if len(classes) else 0, dtype=np.int64)
    # scikit-learn's defaults (L2, C=1, lbfgs), with iterations enough to converge on unscaled PCA components
    clf = LogisticRegression(max_iter=2000).fit(x[train], y)
    return clf.predict(x).astype(np.int64).reshape(h, w)


class SpectralBaseline(Metric):
    """The classification metric of the per-pixel logistic regression, on the pixels of each batch.

    The prediction is looked up in a precomputed map at ``batch['meta']`` (row, col of every patch
    centre), so it is scored on exactly the pixels the model is, with DDP reduction inherited from
    the wrapped :class:`~toolkit.metrics.classification.ClassificationMetric`.

    Args:
        pred_map: (H, W) class indices predicted by :func:`fit_spectral_baseline`.
        num_classes: K.
        aa_mode: the AA convention of the model's metric.
        first_class: the number of class index 0 in the ``logreg_acc_<c>`` keys (1: the label map's numbers).
    """

    uses_batch = True

    def __init__(
        self, pred_map: np.ndarray | torch.Tensor, num_classes: int, aa_mode: str = "sklearn", first_class: int = 1
    ):
        super().__init__()
        self.pred_map = torch.as_tensor(np.asarray(pred_map), dtype=torch.int64)  # (H, W)
        self.inner = ClassificationMetric(num_classes, aa_mode=aa_mode, per_class=True, first_class=first_class)
        self.higher_is_better = {PREFIX + k: v for k, v in self.inner.higher_is_better.items()}

    def reset(self) -> None:
        super().reset()
        self.inner.reset()

    def update(self, pred: torch.Tensor, target: torch.Tensor, batch: dict) -> None:
        rows, cols = torch.as_tensor(batch["meta"]).cpu().long().unbind(1)  # (B,), (B,)
        self.inner.update(self.pred_map[rows, cols].to(target.device), target)

    def confusion_matrix(self) -> np.ndarray:
        return self.inner.confusion_matrix()

    def _compute(self) -> dict[str, float]:
        return {PREFIX + k: v for k, v in self.inner.compute().items()}  # the inner metric syncs itself
