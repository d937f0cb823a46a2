"""SimVP: published parameter counts, shapes, attention slot, and a small model overfitting one batch."""

import pytest
import torch

from tasks.video_pred.models.simvp import SimVP
from toolkit.errors import ConfigError


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("translator, expected", [("incepu", 57_946_113), ("gsta", 46_769_665)])
def test_parameter_counts_match_published_sizes(translator, expected):
    # SimVP v1 IncepU 57.95M and SimVP v2 gSTA 46.77M at the Moving MNIST setting
    model = SimVP((10, 1, 64, 64), hid_S=64, hid_T=512, N_S=4, N_T=8, translator=translator)
    assert n_params(model) == expected
    assert round(expected / 1e6, 2) == {"incepu": 57.95, "gsta": 46.77}[translator]


@pytest.mark.parametrize("translator", ["incepu", "gsta"])
def test_shapes_and_attention_slot(translator):
    model = SimVP((3, 2, 16, 24), hid_S=8, hid_T=16, N_S=2, N_T=2, translator=translator, attn="none")
    x = torch.rand(2, 3, 2, 16, 24)
    assert model(x).shape == (2, 3, 2, 16, 24)
    with pytest.raises(ValueError, match=r"expected input \(B, 3, 2, 16, 24\)"):
        model(torch.rand(2, 4, 2, 16, 24))


def test_bad_sizes_are_config_errors():
    with pytest.raises(ConfigError, match="divisible by 4"):
        SimVP((4, 1, 30, 30), N_S=4)
    with pytest.raises(ConfigError, match="translator must be"):
        SimVP((4, 1, 16, 16), translator="lstm")


def test_small_model_overfits_a_fixed_batch():
    torch.manual_seed(0)
    model = SimVP((3, 1, 16, 16), hid_S=8, hid_T=16, N_S=2, N_T=2, kernel_sizes=(3,), groups=2)
    x, y = torch.rand(4, 3, 1, 16, 16), torch.rand(4, 3, 1, 16, 16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(model(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # uniform noise targets have variance 1/12; memorising them needs the model to fit the batch
    assert loss.item() < 0.2 * first
