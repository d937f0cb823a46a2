"""The top-hat baseline of the SIRST task: the filter by hand, its threshold, and its scores through the Task."""

from __future__ import annotations

import pytest
import torch

from tasks.sirst.baseline import PREFIX, SIZE, K, TopHatBaseline, tophat, tophat_ratio, tophat_score
from tasks.sirst.task import SIRSTTask
from toolkit.errors import ConfigError
from toolkit.metrics import Metric, MetricCollection
from toolkit.metrics.irstd import MIoU, PdFa


def test_tophat_keeps_what_is_smaller_than_the_square_and_removes_the_rest():
    img = torch.full((1, 1, 12, 12), 0.2)
    img[0, 0, 3, 3] = 1.0  # a one-pixel target: gone from the opening, 0.8 above it
    img[0, 0, 6:11, 6:11] = 0.7  # a 5 x 5 plateau: survives a 3 x 3 opening, so no top-hat
    t = tophat(img, 3)
    expected = torch.zeros_like(img)
    expected[0, 0, 3, 3] = 0.8
    assert torch.allclose(t, expected, atol=1e-6)
    t7 = tophat(img, 7)  # a 7 x 7 square no longer fits the plateau: all of it is top-hat
    assert torch.allclose(t7[0, 0, 6:11, 6:11], torch.full((5, 5), 0.5), atol=1e-6)
    with pytest.raises(ValueError, match="odd"):
        tophat(img, 4)


def test_the_score_passes_the_threshold_exactly_where_the_top_hat_exceeds_mean_plus_k_std():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 40, 50, generator=g) * 0.1
    img[0, 10:12, 20:22] += 0.9
    img[0, 30, 5] += 0.5
    t = tophat(img[None], SIZE)[0, 0]
    cut = t.mean() + K * t.std(correction=0)
    for thr in (0.5, 0.3, 0.8):
        s = tophat_score(img, thr)[0]
        assert torch.equal(s > thr, t > cut) and (t > cut).sum() >= 4
        assert 0 <= s.min() and s.max() < 1
    # unchanged by an affine change of the grey levels; a flat image has no detection
    assert torch.allclose(tophat_score((img - 0.3) / 0.07), tophat_score(img), atol=1e-5)
    assert torch.equal(tophat_score(torch.full((1, 8, 8), 0.4)), torch.zeros(1, 8, 8))


def test_the_detector_reads_the_grey_image_whatever_the_normalisation():
    g = torch.Generator().manual_seed(1)
    rgb = torch.rand(3, 6, 7, generator=g)  # [0, 1], channels differ
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]  # ImageNet statistics, as acm.py / dnanet.py
    normalised = (rgb - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]  # what data.color='grey' reads (PIL's 'L')
    assert torch.allclose(TopHatBaseline(MetricCollection({}), mean, std).grey(normalised)[0], luma, atol=1e-6)
    grey = rgb[:1]
    assert torch.allclose(TopHatBaseline(MetricCollection({}), [0.4], [0.1]).grey((grey - 0.4) / 0.1), grey, atol=1e-6)


def _scene(h: int, w: int, targets: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    img = torch.full((1, h, w), 0.1)
    mask = torch.zeros(1, h, w)
    for r, c in targets:
        img[0, r : r + 3, c : c + 3] = 1.0
        mask[0, r : r + 3, c : c + 3] = 1
    return img, mask


def test_the_baseline_metric_scores_each_image_at_its_own_size_in_a_padded_batch():
    (a, ma), (b, mb) = _scene(64, 64, [(10, 10), (40, 50)]), _scene(48, 80, [(20, 30)])
    batch_input = torch.zeros(2, 1, 64, 80)  # a batch of mixed sizes, padded bottom / right
    batch_input[0, :, :64, :64], batch_input[1, :, :48, :80] = (a - 0.2) / 0.3, (b - 0.2) / 0.3
    masks = [ma[None], mb[None]]
    # each metric may have its own threshold: every one of them scores the detector's own masks
    for thresholds in ((0.5, 0.5), (0.3, 0.8)):
        inner = MetricCollection({"miou": MIoU(thresholds[0]), "pd_fa": PdFa(thresholds[1])})
        metric = TopHatBaseline(inner, mean=[0.2], std=[0.3])
        metric.update([torch.zeros_like(m) for m in masks], masks, {"input": batch_input})
        r = metric.compute()
        # the 3 x 3 targets on a flat background are exactly what passes: every target, no false alarm
        assert r[PREFIX + "mIoU"] == pytest.approx(1.0) and r[PREFIX + "Pd"] == 1.0 and r[PREFIX + "Fa"] == 0.0
        assert r[PREFIX + "targets"] == 3
    assert set(metric.higher_is_better) == {PREFIX + "mIoU", PREFIX + "Pd", PREFIX + "Fa"}
    with pytest.raises(ValueError, match=r"metric 'miou' has 1.0"):
        TopHatBaseline(MetricCollection({"miou": MIoU(1.0)}))


class _Recorder(Metric):
    """Keeps the scores it is given; reports nothing."""

    higher_is_better: dict = {}

    def __init__(self, threshold: float):
        super().__init__()
        self.threshold, self.seen = threshold, []

    def update(self, pred, target) -> None:
        self.seen += list(pred)

    def _compute(self) -> dict:
        return {}


def test_every_metric_gets_the_score_that_passes_its_threshold_where_the_detector_fires():
    g = torch.Generator().manual_seed(2)
    img = torch.rand(1, 1, 30, 40, generator=g)  # responses of every size: many pixels near the cut
    mask = torch.zeros(1, 1, 30, 40)
    low, high = _Recorder(0.2), _Recorder(0.9)
    TopHatBaseline(MetricCollection({"low": low, "high": high}), k=1.0).update(None, mask, {"input": img})
    fires = tophat_ratio(img[0], k=1.0) > 1
    assert 20 < int(fires.sum()) < 1000
    assert torch.equal(low.seen[0][0] > 0.2, fires) and torch.equal(high.seen[0][0] > 0.9, fires)


def test_the_task_scores_the_baseline_with_its_own_metrics_unless_switched_off(synth_cache):
    from tests.tasks.sirst.test_sirst_task import tiny_cfg

    task = SIRSTTask(tiny_cfg(synth_cache))
    metrics = task.build_metrics()
    base = metrics.metrics["tophat"]
    model_side = {type(m).__name__ for k, m in metrics.metrics.items() if k not in ("tophat", "overlays")}
    assert {type(m).__name__ for m in base.inner} == model_side - {"PdFaCurve"} and "PdFaCurve" in model_side
    assert "tophat" not in SIRSTTask(tiny_cfg(synth_cache, "eval.baseline=False")).build_metrics().metrics
    with pytest.raises(ConfigError, match=r"eval.threshold=1: .* eval.baseline=False"):
        SIRSTTask(tiny_cfg(synth_cache, "eval.threshold=1.0"))
    SIRSTTask(tiny_cfg(synth_cache, "eval.threshold=1.0", "eval.baseline=False"))  # the model alone may use it


def _results(miou: float, **extra: float) -> dict:
    r = {"mIoU": miou, "nIoU": 0.5, "Pd": 0.9, "Fa": 2e-5, "AUC": 0.95, "Fa_dnanet_legacy": 1.5e-5}
    return {**r, "targets": 10, "detected": 9, "images": 4, **extra}


def test_the_table_shows_the_baseline_column_its_gain_and_a_warning_below_it(synth_cache):
    from tests.tasks.sirst.test_sirst_task import tiny_cfg

    task = SIRSTTask(tiny_cfg(synth_cache))
    alone = task.format_results(_results(0.6))
    assert "tophat" not in alone and "model - " not in alone
    legacy = next(line for line in alone.splitlines() if line.startswith("Fa DNANet legacy"))
    assert legacy.split() == ["Fa", "DNANet", "legacy", "(x1e-6)", "15.00"]  # no empty baseline cell
    base = {f"{PREFIX}{k}": v for k, v in _results(0.4, Fa=1.2e-4, Fa_dnanet_legacy=1e-4).items()}
    above = task.format_results({**_results(0.6), **base}).splitlines()
    assert above[0].split() == ["model", "tophat"]
    assert next(line for line in above if line.startswith("Fa (x1e-6)")).split()[-2:] == ["20.00", "120.00"]
    assert next(line for line in above if line.startswith("detected")).split()[-2:] == ["9", "9"]
    assert "model - tophat: +20.00 mIoU points" in above and not any("warning" in line for line in above)
    below = task.format_results({**_results(0.3), **base})
    assert "model - tophat: -10.00 mIoU points" in below and "warning: the model segments worse" in below
