"""CAMixer: the warp, the windows, the inference count, soft (training) vs hard (inference) routing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from toolkit.errors import ConfigError
from toolkit.modules.attention import build_attention
from toolkit.modules.attention.camixer import CAMixer, flow_warp, from_windows, to_windows, window_count


def test_warp_with_zero_offsets_is_identity_and_whole_pixel_offsets_shift():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 7)
    torch.testing.assert_close(flow_warp(x, torch.zeros(2, 2, 6, 7)), x, atol=1e-6, rtol=0)
    right = torch.zeros(2, 2, 6, 7)
    right[:, 0] = 1.0  # every pixel reads its right neighbour; the last column repeats (border padding)
    torch.testing.assert_close(flow_warp(x, right)[..., :-1], x[..., 1:], atol=1e-6, rtol=0)
    torch.testing.assert_close(flow_warp(x, right)[..., -1], x[..., -1], atol=1e-6, rtol=0)
    down_half = torch.zeros(2, 2, 6, 7)
    down_half[:, 1] = 0.5  # half a pixel down: the mean of each row and the next (bilinear)
    torch.testing.assert_close(flow_warp(x, down_half)[..., :-1, :], (x[..., :-1, :] + x[..., 1:, :]) / 2)


def test_windows_are_row_major_and_invert():
    x = torch.arange(2 * 4 * 6, dtype=torch.float32).reshape(1, 2, 4, 6)  # two channels, 4x6, windows of 2
    w = to_windows(x, 2)  # (1, 6, 4, 2): 2 x 3 windows of 4 pixels
    assert w.shape == (1, 6, 4, 2)
    assert w[0, 1, :, 0].tolist() == [2.0, 3.0, 8.0, 9.0]  # second window of the top row, channel 0
    assert w[0, 3, 0].tolist() == [12.0, 36.0]  # first pixel of the second row of windows, both channels
    torch.testing.assert_close(from_windows(w, 2, (4, 6)), x)


@pytest.mark.parametrize(
    "p0, ratio, expected",
    [
        (0.5, 0.5, 2),  # sigmoid(0) = 1/2: round(4 * 0.5 * 2 * 0.5) = 2
        (1.0, 0.5, 3),  # sigmoid(1) = 0.731: round(4 * 0.731) = round(2.92) = 3
        (1.0, 0.25, 1),  # round(4 * 0.731 * 0.5) = round(1.46) = 1
        (0.0, 0.5, 1),  # sigmoid(-1) = 0.269: round(1.08) = 1
        (0.3, 0.0, 0),  # ratio 0: no window gets attention
        (0.0, 1.0, 4),  # ratio 1: every window, whatever the scores
    ],
)
def test_window_count_hand_computed(p0, ratio, expected):
    scores = torch.tensor([[p0, 1 - p0]] * 4)[None]  # (1, 4 windows, 2)
    assert window_count(scores, ratio).tolist() == [expected]


def test_sampled_count_averages_to_the_expected_one():
    torch.manual_seed(0)
    scores = torch.tensor([[0.9, 0.1]] * 50)[None].expand(400, 50, 2)  # sigmoid(0.8) = 0.690 per window
    counts = window_count(scores, 0.5, "sampled").float()  # int(50 r), r ~ Binomial(50, 0.690) / 50
    assert abs(counts.mean().item() - 50 * 0.690) < 0.5  # at ratio 1/2 the drawn count is a whole number: no floor
    assert counts.std() > 1  # a random draw: the released code's test-time count varies from run to run


def _mixer(ratio: float) -> CAMixer:
    torch.manual_seed(0)
    return CAMixer(8, window=4, ratio=ratio).eval()


def _parts(m: CAMixer, x: torch.Tensor):
    """The predictor's outputs and the value maps, recomputed from the module's layers."""
    v = m.proj_v(x)
    coords = m.coords.repeat(x.shape[0], 1, x.shape[2] // 4, x.shape[3] // 4)
    scores, offsets, ca, sa = m.predictor(torch.cat([v, coords], 1))
    return v, scores, offsets, ca, sa


def _finish(m: CAMixer, mixed: torch.Tensor, ca: torch.Tensor) -> torch.Tensor:
    return m.proj_out(F.gelu(m.conv(mixed)) * ca + mixed)


def test_ratio_zero_routes_every_window_to_convolution():
    m = _mixer(0.0)
    x = torch.randn(2, 8, 8, 12)
    with torch.no_grad():
        y, share = m(x, return_decision=True)
        v, _, _, ca, sa = _parts(m, x)
        expected = _finish(m, v * sa, ca)  # no window attended: every pixel keeps v * sa
    assert share.tolist() == [0.0, 0.0]
    torch.testing.assert_close(y, expected)


def test_ratio_one_attends_every_window():
    m = _mixer(1.0)
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        y, share = m(x, return_decision=True)
        v, _, offsets, ca, _ = _parts(m, x)
        k = x + flow_warp(x, offsets)
        attended = []
        for i in range(2):  # the four 4x4 windows one by one, each a 16 x 16 attention
            for j in range(2):
                win = (slice(None), slice(None), slice(4 * i, 4 * i + 4), slice(4 * j, 4 * j + 4))
                q_, k_, v_ = (t[win].flatten(2).transpose(1, 2) for t in (x, k, v))  # (1, 16, C)
                a = torch.softmax(m.proj_q(q_) @ m.proj_k(k_).transpose(1, 2), dim=-1) @ v_
                attended.append(a.transpose(1, 2).reshape(1, 8, 4, 4))
        top, bottom = torch.cat(attended[:2], 3), torch.cat(attended[2:], 3)
        expected = _finish(m, torch.cat([top, bottom], 2), ca)
    assert share.tolist() == [1.0]
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)


def test_soft_training_path_equals_hard_inference_path_for_the_same_routing(monkeypatch):
    m = _mixer(0.5)
    x = torch.randn(2, 8, 8, 16)  # 2 x 4 windows per image
    with torch.no_grad():
        hard, share = m(x, return_decision=True)
        _, scores, _, _, _ = _parts(m, x)
    keep = window_count(scores, 0.5)
    rank = scores[..., 0].argsort(1, descending=True).argsort(1)
    chosen = (rank < keep[:, None]).float()  # (B, N): the windows inference attended
    assert share.tolist() == (keep / 8).tolist() and 0 < keep.sum() < 16  # a mixed routing
    one_hot = torch.stack([chosen, 1 - chosen], dim=-1)

    def fixed_draw(logits, hard, dim):  # the Gumbel draw replaced by the inference routing
        return one_hot + logits - logits.detach()  # straight-through, as gumbel_softmax(hard=True)

    monkeypatch.setattr(F, "gumbel_softmax", fixed_draw)
    m.train()
    soft, decision = m(x, return_decision=True)
    torch.testing.assert_close(soft, hard, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(decision, share)
    soft.square().sum().backward()  # the mask's gradient reaches the score MLP (straight-through)
    assert m.predictor.mask[0].weight.grad.abs().sum() > 0


def test_training_draws_hard_masks():
    torch.manual_seed(0)
    m = CAMixer(8, window=4).train()
    _, decision = m(torch.randn(3, 8, 16, 16), return_decision=True)
    assert ((decision * 16) == (decision * 16).round()).all()  # a whole number of the 16 windows


def test_any_size_in_an_attention_slot():
    m = build_attention("camixer", 8).eval()
    assert m.window == 8 and m.ratio == 0.5
    for shape in [(1, 8, 1, 1), (2, 8, 7, 9), (1, 8, 17, 33)]:
        x = torch.randn(shape)
        assert m(x).shape == shape


def test_bad_options_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"ratio is the share of windows given attention, in \[0, 1\]; got 1.5"):
        build_attention(dict(type="camixer", ratio=1.5), 8)
    with pytest.raises(ConfigError, match="count must be one of"):
        build_attention(dict(type="camixer", count="mean"), 8)
    with pytest.raises(ConfigError, match="called without a condition map"):
        CAMixer(8, cond_channels=2)(torch.randn(1, 8, 16, 16))
