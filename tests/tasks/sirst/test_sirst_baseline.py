"""The top-hat baseline of the SIRST task: the filter by hand, its threshold, and its scores through the Task."""

from __future__ import annotations

import pytest
import torch

from tasks.sirst.baseline import PREFIX, SIZE, K, TopHatBaseline, tophat, tophat_score
from tasks.sirst.task import SIRSTTask
from toolkit.metrics import MetricCollection
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
    # unchanged by the affine normalisation of the network's input, and colour is the channel mean
    assert torch.allclose(tophat_score((img - 0.3) / 0.07), tophat_score(img), atol=1e-5)
    assert torch.allclose(tophat_score(img.expand(3, -1, -1)), tophat_score(img))
    assert torch.equal(tophat_score(torch.full((1, 8, 8), 0.4)), torch.zeros(1, 8, 8))  # flat: nothing


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
    metric = TopHatBaseline(MetricCollection({"miou": MIoU(), "pd_fa": PdFa()}), threshold=0.5)
    metric.update([torch.zeros_like(m) for m in masks], masks, {"input": batch_input})
    r = metric.compute()
    # the 3 x 3 targets on a flat background are exactly what passes: every target, no false alarm
    assert r[PREFIX + "mIoU"] == pytest.approx(1.0) and r[PREFIX + "Pd"] == 1.0 and r[PREFIX + "Fa"] == 0.0
    assert r[PREFIX + "targets"] == 3 and set(metric.higher_is_better) == {
        PREFIX + "mIoU",
        PREFIX + "Pd",
        PREFIX + "Fa",
    }
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        TopHatBaseline(MetricCollection({}), threshold=1.0)


def test_the_task_scores_the_baseline_with_its_own_metrics_unless_switched_off(synth_cache):
    from tests.tasks.sirst.test_sirst_task import tiny_cfg

    task = SIRSTTask(tiny_cfg(synth_cache))
    metrics = task.build_metrics()
    base = metrics.metrics["tophat"]
    model_side = {type(m).__name__ for k, m in metrics.metrics.items() if k not in ("tophat", "overlays")}
    assert {type(m).__name__ for m in base.inner} == model_side - {"PdFaCurve"} and "PdFaCurve" in model_side
    assert "tophat" not in SIRSTTask(tiny_cfg(synth_cache, "eval.baseline=False")).build_metrics().metrics
