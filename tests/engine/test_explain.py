"""toolkit/engine/explain.py: Grad-CAM where the answer is known, hooks on every attention slot, layer lookup."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import tasks.hsi  # noqa: F401  (registers the host models)
import tasks.restoration  # noqa: F401
import tasks.sirst  # noqa: F401
import tasks.video_pred  # noqa: F401
from toolkit.engine.explain import activations, attention_slots, find_layer, grad_cam, top_channels
from toolkit.errors import ConfigError
from toolkit.registry import ATTENTION, MODELS


class LeftHalf(nn.Module):
    """Sees only the left half of a 16x16 image: the right half is zeroed before a bias-free conv."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU())
        self.head = nn.Conv2d(4, 1, 1, bias=False)
        with torch.no_grad():  # positive weights: every feature raises the score, so Grad-CAM's weights are > 0
            self.features[0].weight.uniform_(0.1, 1.0)
            self.head.weight.uniform_(0.1, 1.0)

    def forward(self, x):
        mask = torch.zeros_like(x)
        mask[..., :8] = 1
        return self.head(self.features(x * mask)).flatten(1).sum(1)  # (B,)


def test_grad_cam_mass_lies_in_the_half_the_model_sees():
    torch.manual_seed(0)
    model = LeftHalf().eval()
    x = torch.rand(2, 1, 16, 16) + 0.1
    cam = grad_cam(model, model.features, x, "features")
    assert cam.shape == (2, 16, 16)
    assert (cam[..., :9] > 0).all()  # the left half, and the column whose kernels reach into it
    assert (cam[..., 9:] == 0).all()  # beyond it the features are zero: no evidence at all
    left = cam[..., :8].sum((1, 2)) / cam.sum((1, 2))
    assert (left > 0.9).all(), left


def test_grad_cam_upsamples_a_pooled_layer_to_the_input_size():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(2 * 4 * 4, 1))
    cam = grad_cam(lambda x: model(x)[:, 0], model[1], torch.rand(1, 1, 16, 16), "pool")
    assert cam.shape == (1, 16, 16) and (cam >= 0).all()


def test_a_layer_without_height_and_width_is_one_error():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    with pytest.raises(ConfigError, match="no height and width"):
        grad_cam(lambda x: model(x)[:, 0], model[1], torch.rand(1, 1, 4, 4), "1")


def test_a_missing_layer_name_is_one_line_with_close_matches():
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()))
    model.add_module("head", nn.Conv2d(2, 1, 1))
    assert find_layer(model, "features.0") is model.features[0]
    with pytest.raises(ConfigError) as err:
        find_layer(model, "feature.0")
    msg = str(err.value)
    assert "\n" not in msg and "'feature.0'" in msg and "close matches: features.0" in msg


# hosts at their smallest, the input, and the shape every attention slot gives (worked out by hand)
HOSTS = {
    "simvp": (  # T*hid_S = 8 channels at 16 / 2 = 8 px; blocks hid_T = 8 wide, the last back to T*hid_S = 8
        dict(type="simvp", in_shape=(2, 1, 16, 16), hid_S=4, hid_T=8, N_S=2, N_T=2, kernel_sizes=(3,), groups=2),
        (1, 2, 1, 16, 16),
        {f"translator.{s}.{i}.attn": (1, 8, 8, 8) for s in ("enc", "dec") for i in (0, 1)},
    ),
    "dnanet": (  # node X(i, j) has channels[i] at 16 / 2^i px; the fused map channels[0] at full size
        dict(type="dnanet", in_channels=1, channels=[4, 8, 16], num_blocks=[1, 1]),
        (1, 1, 16, 16),
        {
            "nodes.0_0.0.attn": (1, 4, 16, 16),
            "nodes.1_0.0.attn": (1, 8, 8, 8),
            "nodes.2_0.0.attn": (1, 16, 4, 4),
            "nodes.0_1.0.attn": (1, 4, 16, 16),
            "nodes.1_1.0.attn": (1, 8, 8, 8),
            "nodes.0_2.0.attn": (1, 4, 16, 16),
            "fuse.0.attn": (1, 4, 16, 16),
        },
    ),
    "hybridsn": (  # three valid 3x3 convs and one 2-D: 11 - 6 - 2 = 3 px, hidden_channels = 8
        dict(
            type="hybridsn",
            in_channels=15,
            num_classes=3,
            window=11,
            channels_3d=(2, 2, 2),
            dense=(8,),
            hidden_channels=8,
        ),  # fmt: skip
        (1, 1, 15, 11, 11),
        {"attn": (1, 8, 3, 3)},
    ),
    "safmn": (  # every block keeps C = 8 at the input's 12x12
        dict(type="safmn", channels=8, num_blocks=2, upscale=2),
        (1, 3, 12, 12),
        {"feats.0.attn": (1, 8, 12, 12), "feats.1.attn": (1, 8, 12, 12)},
    ),
}


def _captured(host: str, attn) -> dict[str, tuple]:
    spec, shape, _ = HOSTS[host]
    torch.manual_seed(0)
    model = MODELS.build({**spec, "attn": attn}).eval()
    acts = activations(model, attention_slots(model), torch.rand(shape))
    return {name: tuple(a.shape) for name, a in acts.items()}


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_hooks_capture_every_attention_slot_with_its_shape(host):
    assert _captured(host, "se") == HOSTS[host][2]


@pytest.mark.slow
@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("attn", sorted(ATTENTION))
def test_hooks_capture_every_attention_entry_in_every_host(host, attn):
    assert _captured(host, attn) == HOSTS[host][2]


def test_top_channels_rank_by_mean_squared_value():
    act = torch.zeros(4, 2, 2)
    act[1] = 3.0
    act[2] = -2.0  # energy counts the sign out
    act[3, 0, 0] = 5.0  # 25 / 4 = 6.25 mean square
    assert top_channels(act, 3) == [1, 3, 2]
