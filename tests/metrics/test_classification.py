"""Classification metrics (OA, AA, kappa, per-class accuracy) and the cross-entropy loss."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from toolkit.losses import build_loss
from toolkit.metrics import build_metrics
from toolkit.metrics.classification import ClassificationMetric, classification_scores
from toolkit.registry import LOSSES, METRICS

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _golden():
    expected = json.loads((GOLDEN / "hsi_expected.json").read_text())
    return expected, np.load(GOLDEN / "hsi_cases.npz")


def test_hand_computed_example():
    # CM rows true, cols pred: [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    m = ClassificationMetric(3)
    m.update(torch.tensor([0, 1, 1, 1, 0]), torch.tensor([0, 0, 1, 1, 2]))
    r = m.compute()
    assert m.confusion_matrix().tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert r["OA"] == 3 / 5
    assert r["AA"] == pytest.approx((0.5 + 1.0 + 0.0) / 3, abs=1e-15)
    # p_o = 0.6, p_e = (2*2 + 2*3 + 1*0) / 25 = 0.4 -> kappa = 0.2 / 0.6
    assert r["kappa"] == pytest.approx(1 / 3, abs=1e-15)
    assert [r["acc_0"], r["acc_1"], r["acc_2"]] == [0.5, 1.0, 0.0]


def test_logits_are_argmaxed_and_ignore_index_skipped():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]])
    m = ClassificationMetric(3)
    m.update(logits, torch.tensor([0, 2, 2, -1]))
    assert m.confusion_matrix().tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 1]]
    assert m.absent_classes() == [1]
    assert math.isnan(m.per_class_accuracy()[1])


@pytest.mark.parametrize("case", range(4))
def test_golden_cases_match_scikit_learn_reference(case):
    expected, arrays = _golden()
    name = list(expected["cases"])[case]
    ref = expected["cases"][name]
    y_true = torch.from_numpy(arrays[ref["y_true_key"]])
    y_pred = torch.from_numpy(arrays[ref["y_pred_key"]])
    m = ClassificationMetric(expected["n_classes"])
    for chunk in range(0, len(y_true), 600):  # accumulation over batches
        m.update(y_pred[chunk : chunk + 600], y_true[chunk : chunk + 600])
    r = m.compute()
    assert r["OA"] == ref["OA"]
    assert abs(r["AA"] - ref["AA"]) <= 1e-15
    assert abs(r["kappa"] - ref["kappa"]) <= 1e-14
    assert m.confusion_matrix().tolist() == ref["confusion_matrix_rows_true_cols_pred"]
    assert [r[f"acc_{c}"] for c in range(16)] == pytest.approx(ref["per_class_recall"], abs=1e-15)
    assert m.confusion_matrix().sum(1).tolist() == ref["support"]
    aa = m.all_aa()
    assert abs(aa["ssrn"] - ref["AA_ssrn_hybridsn_convention"]) <= 1e-15
    sf = ref["spectralformer_output_metric"]["AA_mean"]
    assert math.isnan(aa["spectralformer"]) if sf is None else abs(aa["spectralformer"] - sf) <= 1e-15
    absent = sorted(set(range(16)) - set(ref["classes_in_y_true"]))
    assert m.absent_classes() == absent


def test_aa_conventions_differ_only_for_absent_classes():
    expected, arrays = _golden()
    ref = expected["cases"]["class15_absent_from_truth_but_predicted"]
    cm = np.array(ref["confusion_matrix_rows_true_cols_pred"])
    assert classification_scores(cm, "sklearn")["AA"] == pytest.approx(0.8405379119440392, abs=1e-15)
    assert classification_scores(cm, "ssrn")["AA"] == pytest.approx(0.7880042924475368, abs=1e-15)
    assert math.isnan(classification_scores(cm, "spectralformer")["AA"])
    m = ClassificationMetric(16, aa_mode="ssrn")
    m.update(torch.from_numpy(arrays[ref["y_pred_key"]]), torch.from_numpy(arrays[ref["y_true_key"]]))
    assert m.compute()["AA"] == pytest.approx(0.7880042924475368, abs=1e-15)


def test_state_is_a_summed_confusion_matrix_so_shards_add_up():
    rng = np.random.default_rng(0)
    t, p = torch.from_numpy(rng.integers(0, 5, 300)), torch.from_numpy(rng.integers(0, 5, 300))
    whole, a, b = ClassificationMetric(5), ClassificationMetric(5), ClassificationMetric(5)
    whole.update(p, t)
    a.update(p[::2], t[::2])  # two "ranks" with interleaved shards
    b.update(p[1::2], t[1::2])
    assert whole._defaults["confmat"][1] == "sum"
    a.confmat = a.confmat + b.confmat  # what an all-reduce(SUM) does
    assert a.compute() == whole.compute()
    sk = pytest.importorskip("sklearn.metrics")
    r = whole.compute()
    assert r["OA"] == sk.accuracy_score(t, p)
    assert r["kappa"] == pytest.approx(sk.cohen_kappa_score(t, p), abs=1e-14)
    assert r["AA"] == pytest.approx(sk.balanced_accuracy_score(t, p), abs=1e-15)


def test_registry_build_and_bad_input():
    assert METRICS.get("classification") is ClassificationMetric
    coll = build_metrics([dict(type="classification", per_class=False)], num_classes=4)
    coll.update(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 2]))
    # support (1, 1, 2, 0), predicted (1, 1, 1, 1): p_e = 4 / 16, kappa = (0.75 - 0.25) / 0.75
    assert coll.compute() == {
        "OA": 0.75,
        "AA": pytest.approx(5 / 6, abs=1e-15),
        "kappa": pytest.approx(2 / 3, abs=1e-15),
    }
    assert coll.higher_is_better("OA")
    m = ClassificationMetric(4)
    with pytest.raises(ValueError, match=r"logits \(B, 4\) or indices"):
        m.update(torch.zeros(3, 5), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        m.update(torch.tensor([0, 9]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="aa_mode"):
        ClassificationMetric(4, aa_mode="mean")
    assert math.isnan(ClassificationMetric(3).compute()["OA"])


def test_cross_entropy_loss_values():
    loss = LOSSES.build(dict(type="cross_entropy"))
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])
    # sample 0: -log(3/4); sample 1: -log(1/2); the unlabelled sample (-1) is ignored
    value = loss(torch.cat([logits, logits[:1]]), torch.tensor([1, 0, -1]))
    assert value.item() == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2, rel=1e-6)
    weighted = LOSSES.build(dict(type="cross_entropy", class_weights=[1.0, 3.0]))
    # weighted mean: (3 * -log(3/4) + 1 * -log(1/2)) / (3 + 1)
    assert weighted(logits, torch.tensor([1, 0])).item() == pytest.approx(
        (-3 * math.log(0.75) - math.log(0.5)) / 4, rel=1e-6
    )
    total = build_loss([dict(type="cross_entropy", weight=2.0)])(logits, torch.tensor([1, 0]))
    assert total["loss"].item() == pytest.approx(-math.log(0.75) - math.log(0.5), rel=1e-6)
    with pytest.raises(ValueError, match="label_smoothing"):
        LOSSES.build(dict(type="cross_entropy", label_smoothing=1.5))


def test_first_class_numbers_the_per_class_keys():
    metric = ClassificationMetric(3, first_class=1)
    metric.update(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 2]))
    out = metric.compute()
    assert [out["acc_1"], out["acc_2"], out["acc_3"]] == [1.0, 1.0, 0.0] and "acc_0" not in out
    assert {"acc_1", "acc_3"} <= set(metric.higher_is_better) and "acc_0" not in metric.higher_is_better
