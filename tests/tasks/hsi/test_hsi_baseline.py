"""The per-pixel logistic-regression baseline: fitting, scoring on a batch's pixels, and its place in the Task."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tasks.hsi.baseline import SpectralBaseline, fit_spectral_baseline
from tasks.hsi.task import HSITask
from toolkit.config import load_config

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "tasks" / "hsi" / "hybridsn_tiny.py"


def test_fit_predicts_every_pixel_from_the_training_pixels_only():
    # one feature; class 1 where it is positive. Training pixels: the first row only.
    feature = np.array([[-2.0, -1.0, 1.0, 2.0], [-3.0, 3.0, -0.5, 0.5]])
    labels = (feature > 0).astype(np.int64)
    labels[1] = -1  # unlabelled outside the training row: never read
    pred = fit_spectral_baseline(feature[..., None], labels, train=np.arange(4))
    np.testing.assert_array_equal(pred, [[0, 0, 1, 1], [0, 1, 0, 1]])
    # a single training class: that class everywhere (scikit-learn refuses to fit one class)
    one = fit_spectral_baseline(feature[..., None], np.full((2, 4), 2), train=np.array([0, 1]))
    np.testing.assert_array_equal(one, np.full((2, 4), 2))


def test_metric_scores_the_map_at_the_batch_pixels():
    pred_map = np.array([[0, 1, 2], [2, 2, 0]])
    metric = SpectralBaseline(pred_map, num_classes=3)
    # pixels (0,0) (0,1) (1,1) (1,2) with true classes 0, 1, 1, 2: correct, correct, wrong (2), wrong (0)
    batch = {"meta": torch.tensor([[0, 0], [0, 1], [1, 1], [1, 2]])}
    target = torch.tensor([0, 1, 1, 2])
    metric.update(torch.zeros(4, 3), target, batch)  # the model's logits are not used
    out = metric.compute()
    assert out["logreg_OA"] == 0.5
    assert out["logreg_AA"] == pytest.approx((1 + 0.5 + 0) / 3)
    # kappa by hand: rows true (1, 2, 1), columns predicted (2, 1, 1) over 4 -> p_e = (2 + 2 + 1) / 16
    assert out["logreg_kappa"] == pytest.approx((0.5 - 5 / 16) / (1 - 5 / 16))
    # per class, numbered from 1 as the label map: index 1 is class 2
    assert out["logreg_acc_2"] == 0.5 and "logreg_acc_0" not in out
    assert set(metric.higher_is_better) >= {"logreg_OA", "logreg_kappa", "logreg_acc_3"}
    metric.reset()
    metric.update(torch.zeros(1, 3), torch.tensor([2]), {"meta": torch.tensor([[1, 0]])})
    assert metric.compute()["logreg_OA"] == 1.0  # reset cleared the first batch


def test_task_scores_the_baseline_as_a_reference_fit_does():
    from sklearn.linear_model import LogisticRegression

    task = HSITask(load_config(TINY))
    metrics = task.build_metrics()
    assert "logreg" in metrics.metrics
    test = task.build_dataset("test")
    batch = torch.utils.data.default_collate([test[i] for i in range(len(test))])
    metrics.update(torch.zeros(len(test), task.context()["num_classes"]), batch["target"], batch)
    results = metrics.compute()
    # reference: scikit-learn on the training pixels' preprocessed spectra, scored on the test pixels
    p = task.prepared
    x = p.preprocessor.transform(p.scene.cube).reshape(-1, p.preprocessor.out_channels)
    y = p.scene.gt.ravel() - 1
    clf = LogisticRegression(max_iter=2000).fit(x[p.split.train].astype(np.float64), y[p.split.train])
    expected = float((clf.predict(x[p.split.test].astype(np.float64)) == y[p.split.test]).mean())
    assert results["logreg_OA"] == pytest.approx(expected, abs=1e-12)
    assert 0.3 < results["logreg_OA"] < 0.9  # it learns something from single spectra, yet not everything
    off = HSITask(load_config(TINY, ["eval.baseline=False"])).build_metrics()
    assert "logreg" not in off.metrics
