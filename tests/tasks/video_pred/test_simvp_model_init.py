"""SimVP's initialisation: OpenSTL's statistics by default (``init='openstl'``), PyTorch's with ``init='torch'``."""

import math

import pytest
import torch
from torch import nn

from tasks.video_pred.models.simvp import SimVP
from toolkit.errors import ConfigError

STD = 0.02


def _model(init: str, translator: str = "gsta") -> SimVP:
    torch.manual_seed(0)
    return SimVP((4, 1, 32, 32), hid_S=32, hid_T=64, N_S=4, N_T=3, translator=translator, init=init)


def _coder_convs(model: SimVP) -> list[nn.Conv2d]:
    layers = [*model.encoder.layers, *model.decoder.layers]  # the readout is not one of them
    return [m for layer in layers for m in layer.modules() if isinstance(m, nn.Conv2d)]


def test_openstl_init_of_encoder_and_decoder():
    model = _model("openstl")
    convs = _coder_convs(model)
    w = torch.cat([c.weight.detach().flatten() for c in convs])  # about 120k weights
    assert w.std().item() == pytest.approx(STD, rel=0.03)
    assert w.mean().abs().item() < 0.001
    # OpenSTL's trunc_normal_ (timm's) cuts at a=-2, b=2 in absolute value, 100 std here, not at 2 std:
    # weights beyond 2 std occur at the normal rate, 4.55%, and none beyond the absolute bound
    beyond = (w.abs() > 2 * STD).float().mean().item()
    assert 0.040 < beyond < 0.051
    assert w.abs().max().item() <= 2.0
    assert all(torch.equal(c.bias, torch.zeros_like(c.bias)) for c in convs)
    assert model.decoder.readout.bias.abs().sum() > 0  # PyTorch's default there, as in OpenSTL


def test_openstl_init_of_gsta_blocks_is_fan_out_normal():
    model = _model("openstl")
    block = model.translator.blocks[1]  # the middle, 64-wide block (the outer two change width)
    fc1, dw = block.mlp[0], block.mlp[1]  # 1x1 64 -> 512 and depthwise 3x3 (groups 512)
    for conv, fan_out in ((fc1, 512), (dw, 9)):
        assert conv.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.1)
        assert torch.equal(conv.bias, torch.zeros_like(conv.bias))


def test_torch_init_differs_and_keeps_the_model():
    openstl, default = _model("openstl"), _model("torch")
    assert {k: v.shape for k, v in openstl.state_dict().items()} == {
        k: v.shape for k, v in default.state_dict().items()
    }
    convs = _coder_convs(default)
    # PyTorch: kaiming-uniform with a = sqrt(5), std = 1 / sqrt(3 fan_in) = 0.034 for the 32 -> 32 3x3 convs
    assert convs[1].weight.std().item() == pytest.approx(1 / math.sqrt(3 * 32 * 9), rel=0.05)
    assert all(c.bias.abs().sum() > 0 for c in convs)
    fc1 = default.translator.blocks[1].mlp[0]
    assert fc1.weight.std().item() == pytest.approx(1 / math.sqrt(3 * 64), rel=0.1)  # not sqrt(2 / 512) = 0.0625
    x = torch.rand(2, 4, 1, 32, 32)
    assert not torch.allclose(openstl(x), default(x))


def test_incepu_translator_keeps_default_init_and_bad_names_fail():
    openstl, default = _model("openstl", "incepu"), _model("torch", "incepu")
    # OpenSTL leaves the IncepU translator at PyTorch's default; the re-draw comes after it is built, so the
    # same seed gives the same translator
    for (name, p), q in zip(openstl.translator.named_parameters(), default.translator.parameters()):
        assert torch.equal(p, q), name
    assert not torch.equal(openstl.encoder.layers[0].conv.weight, default.encoder.layers[0].conv.weight)
    with pytest.raises(ConfigError, match="model.init: unknown type 'xavier' for SimVP; .*openstl, torch; did you"):
        SimVP((4, 1, 16, 16), init="xavier")
