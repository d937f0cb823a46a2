"""HybridSN and the light baseline: published size, shapes, attention slot, learning a fixed batch."""

import pytest
import torch

import tasks.hsi  # noqa: F401  (registers the models)
from toolkit.registry import ATTENTION, MODELS


def _params(model):
    return sum(p.numel() for p in model.parameters())


def test_hybridsn_has_the_published_parameter_count():
    # Indian Pines setting of the paper: window 25, 30 principal components, 16 classes
    model = MODELS.build(dict(type="hybridsn", in_channels=30, num_classes=16, window=25))
    assert _params(model) == 5_122_176


def test_hybridsn_layer_shapes_follow_the_paper():
    model = MODELS.build(dict(type="hybridsn", in_channels=30, num_classes=16, window=25)).eval()
    x = torch.randn(2, 1, 30, 25, 25)
    feats = model.conv3d(x)
    assert feats.shape == (2, 32, 18, 19, 19)  # depth 30-6-4-2, space 25-2-2-2
    assert model.conv2d(feats.flatten(1, 2)).shape == (2, 64, 17, 17)
    assert model.head[0].in_features == 64 * 17 * 17
    assert [m.p for m in model.head if isinstance(m, torch.nn.Dropout)] == [0.4, 0.4]
    assert model(x).shape == (2, 16)


def test_models_reject_wrong_input_with_the_expected_shape():
    model = MODELS.build(dict(type="hybridsn", in_channels=15, num_classes=4, window=11))
    with pytest.raises(ValueError, match=r"\(B, 1, 15, 11, 11\)"):
        model(torch.randn(2, 15, 11, 11))
    lite = MODELS.build(dict(type="hsi_lite", in_channels=15, num_classes=4, window=11))
    with pytest.raises(ValueError, match=r"\(B, 1, 15, S, S\)"):
        lite(torch.randn(2, 1, 14, 11, 11))
    with pytest.raises(ValueError, match="window of at least 9"):
        MODELS.build(dict(type="hybridsn", in_channels=30, num_classes=4, window=7))


def test_lite_baseline_is_much_smaller_and_window_agnostic():
    lite = MODELS.build(dict(type="hsi_lite", in_channels=30, num_classes=16))
    assert _params(lite) < 0.03 * 5_122_176
    assert lite(torch.randn(1, 1, 30, 9, 9)).shape == (1, 16)
    assert lite(torch.randn(2, 1, 30, 25, 25)).shape == (2, 16)


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_every_attention_block_fits_the_slot_after_the_2d_stage(name):
    torch.manual_seed(0)
    for spec in (dict(type="hsi_lite", window=9), dict(type="hybridsn", window=9, dense=(16,))):
        model = MODELS.build(dict(spec, in_channels=16, num_classes=3, attn=dict(type=name)))
        assert type(model.attn) is ATTENTION.get(name)
        out = model(torch.randn(2, 1, 16, 9, 9))
        assert out.shape == (2, 3) and torch.isfinite(out).all()
        out.sum().backward()


def test_attention_is_identity_by_default():
    base = MODELS.build(dict(type="hybridsn", in_channels=30, num_classes=16, window=25, attn=None))
    assert sum(p.numel() for p in base.attn.parameters()) == 0


@pytest.mark.parametrize("name", ["hybridsn", "hsi_lite"])
def test_tiny_model_overfits_a_fixed_batch(name):
    torch.manual_seed(0)
    x = torch.randn(24, 1, 16, 9, 9)
    y = torch.arange(24) % 4
    model = MODELS.build(dict(type=name, in_channels=16, num_classes=4, window=9, dropout=0.0))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert (model(x).argmax(1) == y).all()
    assert loss.item() < 0.1
