"""IRSTD metrics: golden reference values, hand-computed cases and input validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import toolkit.metrics  # noqa: F401  (registers the metrics)
from toolkit.errors import DataError
from toolkit.metrics import irstd
from toolkit.metrics.irstd import MIoU, NIoU, PdFa, PdFaCurve, PdFaDNANetLegacy, PixelROC, greedy_match, match_targets
from toolkit.registry import METRICS


@pytest.fixture(scope="module")
def golden(request):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "golden"
    cases = np.load(path / "irstd_cases.npz")
    expected = json.loads((path / "irstd_expected.json").read_text())
    pairs = [(cases[c["prob_key"]], cases[c["mask_key"]]) for c in expected["cases"]]
    return pairs, expected


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))[None, None]  # (1, 1, H, W)


def _run(metric, pairs):
    for p, m in pairs:
        metric.update(_t(p), _t(m))
    return metric.compute()


# --------------------------------------------------------------------------- golden
def test_golden_per_image_counts(golden):
    pairs, expected = golden
    for (p, m), case in zip(pairs, expected["cases"]):
        r = match_targets(p > 0.5, m > 0)
        got = (r.targets, r.matched, r.fa_pixels, r.fa_pixels_legacy, r.pred_pixels, r.pred_components)
        want = (
            case["gt_targets"],
            case["matched_targets"],
            case["fa_pixels_basicirstd"],
            case["fa_pixels_dnanet_legacy"],
            case["pred_pixels"],
            case["pred_components_8conn"],
        )
        assert got == want, case["name"]


def test_golden_miou_niou(golden):
    pairs, expected = golden
    miou, niou = MIoU(), NIoU()
    assert _run(miou, pairs)["mIoU"] == pytest.approx(expected["basicirstd"]["mIoU"], abs=1e-12)
    assert (int(miou.inter), int(miou.union)) == (
        expected["basicirstd"]["total_inter"],
        expected["basicirstd"]["total_union"],
    )
    assert _run(niou, pairs)["nIoU"] == pytest.approx(expected["acm_nIoU"]["nIoU"], abs=1e-12)
    np.testing.assert_allclose(niou.per_image, expected["acm_nIoU"]["per_image_iou"], atol=1e-12, rtol=0)


def test_golden_pd_fa_fixed_and_legacy(golden):
    pairs, expected = golden
    b = expected["basicirstd"]
    pdfa = PdFa()
    out = _run(pdfa, pairs)
    assert (out["detected"], out["targets"]) == (b["matched_targets"], b["total_targets"])
    assert (int(pdfa.fa_pixels), int(pdfa.pixels)) == (b["fa_pixels"], b["total_pixels"])
    assert out["Pd"] == pytest.approx(b["Pd"], abs=1e-12)
    assert out["Fa"] == b["fa_pixels"] / b["total_pixels"]
    assert out["Fa"] == pytest.approx(b["Fa"], rel=1e-6)  # the reference returns float32

    legacy_all = expected["dnanet_legacy_PdFa"]["all_40_images_reshape_shim"]
    leg = PdFaDNANetLegacy()
    out = _run(leg, pairs)
    assert int(leg.fa_pixels) == legacy_all["fa_pixels_legacy"] == 1057
    assert out["Fa_dnanet_legacy"] == pytest.approx(legacy_all["Fa_legacy_pixels_over_total_pixels"], rel=1e-12)
    assert out["Pd_dnanet_legacy"] == pytest.approx(legacy_all["Pd"], abs=1e-12)

    sub = expected["dnanet_legacy_PdFa"]["subset_256x256_unmodified"]
    leg = PdFaDNANetLegacy()
    out = _run(leg, [pairs[i] for i in sub["case_indices"]])
    assert int(leg.fa_pixels) == sub["fa_pixels_legacy"] and int(leg.pixels) == sub["denominator"]
    assert out["Fa_dnanet_legacy"] == pytest.approx(sub["Fa"], rel=1e-12)
    assert out["Pd_dnanet_legacy"] == pytest.approx(sub["Pd"], abs=1e-12)


def test_golden_roc_counts_and_auc(golden):
    pairs, expected = golden
    roc = PixelROC()
    assert _run(roc, pairs)["AUC"] == pytest.approx(expected["pixel_roc_auc"]["roc_auc"], abs=1e-12)
    ref = expected["dnanet_ROCMetric"]
    curve = roc.curve(dnanet_eps=True)
    assert curve["thresholds"] == pytest.approx(ref["thresholds_on_sigmoid_strict_gt"])
    assert curve["tp"] == ref["tp"] and curve["fp"] == ref["fp"]
    assert curve["pos"] == ref["pos"][0] and curve["neg"] == ref["neg"][0]
    np.testing.assert_allclose(curve["tpr"], ref["tpr"], rtol=1e-12)
    np.testing.assert_allclose(curve["fpr"], ref["fpr"], rtol=1e-12)


def test_golden_batched_lists_and_kdtree_path_agree(golden, monkeypatch):
    pairs, expected = golden
    # a list of different-sized images in one update equals one update per image
    pdfa = PdFa()
    pdfa.update([_t(p)[0] for p, _ in pairs], [_t(m)[0] for _, m in pairs])
    assert pdfa.compute()["detected"] == expected["basicirstd"]["matched_targets"]
    # the k-d tree candidate search gives the dense search's answer
    monkeypatch.setattr(irstd, "_DENSE_PAIRS", 0)
    leg = PdFaDNANetLegacy()
    _run(leg, pairs)
    assert int(leg.fa_pixels) == 1057 and int(leg.matched) == 76


def test_golden_curve_at_half_equals_pd_fa(golden):
    pairs, expected = golden
    curve = PdFaCurve(thresholds=[0.25, 0.5, 0.75])
    _run(curve, pairs)
    c = curve.curve()
    assert c["matched"][1] == expected["basicirstd"]["matched_targets"]
    assert c["fa_pixels"][1] == expected["basicirstd"]["fa_pixels"]
    assert c["matched"][0] >= c["matched"][1] >= c["matched"][2]  # higher threshold, fewer detections


# --------------------------------------------------------------------------- hand-computed
def _img(h, w, pixels):
    a = np.zeros((h, w), dtype=bool)
    for r, c in pixels:
        a[r, c] = True
    return a


def test_greedy_first_fit_is_not_optimal():
    # target 0 at col 3 could take either component; it takes component 0 (first in label order),
    # leaving target 1 (col 6) without a candidate: 1 of 2 detected where an optimal matching finds 2.
    gt = np.array([[10.0, 3.0], [10.0, 6.0]])
    pred = np.array([[10.0, 4.0], [10.0, 1.5]])
    assert greedy_match(gt, pred, 3.0).tolist() == [0, -1]
    assert greedy_match(gt[::-1].copy(), pred, 3.0).tolist() == [0, 1]


def test_distance_is_strict_and_fa_is_unmatched_area():
    gt = _img(20, 20, [(5, 5), (15, 15)])
    pred = _img(20, 20, [(5, 8), (13, 13), (0, 19), (1, 19)])  # 3.0 away: miss; 2*sqrt(2): hit
    m = match_targets(pred, gt)
    assert (m.targets, m.matched, m.fa_pixels) == (2, 1, 3)
    assert m.gt_detected.tolist() == [False, True]
    # legacy Fa drops the unmatched 1-px blob (same area as the matched one), keeps the 2-px one
    assert m.fa_pixels_legacy == 2


def test_empty_images_and_niou_zero():
    z = torch.zeros(1, 1, 8, 8)
    n = NIoU()
    n.update(z, z)
    assert n.compute()["nIoU"] == 0.0  # empty mask and empty prediction count as 0 (ACM)
    p = PdFa()
    p.update(z, z)
    out = p.compute()
    assert np.isnan(out["Pd"]) and out["Fa"] == 0.0 and out["targets"] == 0


def test_threshold_is_strict():
    prob = torch.full((1, 1, 4, 4), 0.5)
    mask = torch.ones(1, 1, 4, 4)
    m = MIoU()
    m.update(prob, mask)
    assert m.compute()["mIoU"] == 0.0
    m = MIoU(threshold=0.4)
    m.update(prob, mask)
    assert m.compute()["mIoU"] == pytest.approx(1.0)


def test_registered_names_and_histogram_auc():
    for name in ("miou", "niou", "pd_fa", "pd_fa_dnanet_legacy", "pixel_roc", "pd_fa_curve"):
        assert name in METRICS
    # scores on the threshold grid: the counted-curve AUC equals the exact one
    rng = np.random.default_rng(0)
    mask = rng.random((1, 1, 32, 32)) < 0.2
    prob = np.clip(np.round(rng.random((1, 1, 32, 32)) * 10 + mask * 3) / 13, 0, 1)
    exact, approx = (
        PixelROC(thresholds=np.arange(-1, 14) / 13),
        PixelROC(thresholds=np.arange(-1, 14) / 13, exact_auc=False),
    )
    for m in (exact, approx):
        m.update(torch.from_numpy(prob), torch.from_numpy(mask))
    assert approx.compute()["AUC"] == pytest.approx(exact.compute()["AUC"], abs=1e-12)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "pred, target, message",
    [
        (torch.full((1, 1, 4, 4), 2.0), torch.zeros(1, 1, 4, 4), "probabilities in \\[0, 1\\]"),
        (torch.full((1, 1, 4, 4), float("nan")), torch.zeros(1, 1, 4, 4), "probabilities"),
        (torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 255.0), "0/1 masks"),
        (torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5), "does not match"),
        (torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), "shape"),
    ],
)
def test_bad_input_raises_data_error(pred, target, message):
    for metric in (MIoU(), PdFa(), PixelROC()):
        with pytest.raises(DataError, match=message):
            metric.update(pred, target)
