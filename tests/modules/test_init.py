"""toolkit.modules.init_weights: each type's statistics, zero_last, the Task applying model.init, one-line errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from toolkit.config import load_config
from toolkit.engine import build_task
from toolkit.errors import ConfigError
from toolkit.modules import init_weights
from toolkit.modules.blocks import BasicBlock, Bottleneck

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(64, 128, 3), nn.BatchNorm2d(128), nn.Flatten(), nn.Linear(512, 256))


def test_trunc_normal_std_and_cut():
    net = _net()
    init_weights(net, dict(type="trunc_normal", std=0.02))  # torch's absolute cut at +-2: 100 std, in effect none
    w = net[0].weight.detach()  # 73,728 draws
    assert w.std().item() == pytest.approx(0.02, rel=0.02) and w.mean().abs().item() < 5e-4
    assert torch.equal(net[0].bias, torch.zeros(128)) and torch.equal(net[3].bias, torch.zeros(256))
    # cut at 1.5 std: the std of N(0, s^2) truncated to [-k s, k s] is s * sqrt(1 - 2 k phi(k) / (2 Phi(k) - 1))
    s, k = 0.02, 1.5
    phi, Phi = math.exp(-k * k / 2) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(k / math.sqrt(2)))
    expected = s * math.sqrt(1 - 2 * k * phi / (2 * Phi - 1))  # 0.014853
    init_weights(net, dict(type="trunc_normal", std=s, a=-k * s, b=k * s))
    w = net[0].weight.detach()
    assert w.abs().max().item() <= k * s and w.std().item() == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_normal_and_uniform(mode):
    net = _net()
    fan = 64 * 9 if mode == "fan_in" else 128 * 9
    init_weights(net, dict(type="kaiming_normal", mode=mode))
    assert net[0].weight.std().item() == pytest.approx(math.sqrt(2 / fan), rel=0.02)  # He et al.: relu gain sqrt(2)
    init_weights(net, dict(type="kaiming_uniform", mode=mode))
    bound = math.sqrt(6 / fan)  # U(-b, b) with b = sqrt(3) * sqrt(2 / fan)
    w = net[0].weight.detach()
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.99 * bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_xavier_normal_and_uniform_with_gain():
    net = _net()
    fan_in, fan_out = 64 * 9, 128 * 9
    init_weights(net, dict(type="xavier_normal", gain=2.0))
    assert net[0].weight.std().item() == pytest.approx(2.0 * math.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    init_weights(net, "xavier_uniform")
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert net[3].weight.abs().max().item() <= math.sqrt(6 / (512 + 256))
    assert net[0].weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_orthogonal_rows_or_columns_are_orthonormal():
    net = nn.Sequential(nn.Conv2d(8, 16, 3), nn.Linear(64, 256), nn.Linear(256, 64))
    init_weights(net, dict(type="orthogonal", gain=1.0))
    conv = net[0].weight.detach().reshape(16, -1)  # (16, 72): 16 orthonormal rows
    assert torch.allclose(conv @ conv.T, torch.eye(16), atol=1e-5)
    tall = net[1].weight.detach()  # (256, 64): orthonormal columns
    assert torch.allclose(tall.T @ tall, torch.eye(64), atol=1e-5)
    wide = net[2].weight.detach()  # (64, 256)
    assert torch.allclose(wide @ wide.T, torch.eye(64), atol=1e-5)


def test_default_touches_nothing_and_norms_are_kept():
    a, b = _net(), _net()
    init_weights(b, None)
    init_weights(b, "default")
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    with torch.no_grad():
        b[1].weight.fill_(3.0)
    init_weights(b, "orthogonal")
    assert torch.equal(b[1].weight, torch.full((128,), 3.0))  # norm layers keep their values


def test_zero_last_makes_residual_blocks_start_as_their_shortcut():
    torch.manual_seed(0)
    net = nn.Sequential(BasicBlock(8, 8), Bottleneck(8, 8), nn.Conv2d(8, 8, 1))
    line = init_weights(net, dict(type="kaiming_normal", zero_last=True))
    assert "zero_last: 2 residual branches" in line and "Bottleneck" in line
    net.eval()  # BatchNorm with its fresh running statistics
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(net[0](x), torch.relu(x)) and torch.equal(net[1](x), torch.relu(x))
    assert torch.equal(net[0].conv2[1].weight, torch.zeros(8)) and net[0].conv1[1].weight.eq(1).all()
    with pytest.raises(ConfigError, match=r"model.init.zero_last: Sequential has no residual block .* not available"):
        init_weights(nn.Sequential(nn.Conv2d(2, 2, 1)), dict(type="default", zero_last=True))


def test_unknown_types_and_options_are_one_line():
    net = _net()
    with pytest.raises(ConfigError, match=r"^model.init: unknown type 'kaiming' for Sequential; one of default, .*"
                       r"did you mean kaiming_normal, kaiming_uniform\?$"):  # fmt: skip
        init_weights(net, "kaiming")
    with pytest.raises(ConfigError, match="model.init: xavier_normal takes gain .*; unknown std"):
        init_weights(net, dict(type="xavier_normal", std=0.1))
    with pytest.raises(ConfigError, match=r"kaiming_normal\(mode='fan_inn'.*fan_inn"):
        init_weights(net, dict(type="kaiming_normal", mode="fan_inn"))
    with pytest.raises(ConfigError, match="must be a type name or dict"):
        init_weights(net, 0.02)


def test_the_task_applies_model_init_and_saves_it(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    toy = PLUGINS / "toy_denoise.py"
    assert build_task(load_config(toy)).build_model().conv.weight.abs().sum() == 0  # its own zero start, kept
    cfg = load_config(toy, ["+model.init={'type': 'xavier_uniform', 'gain': 2.0}"])
    model = build_task(cfg).build_model()
    bound = 2.0 * math.sqrt(6 / (2 * 9 + 2 * 9))  # the toy's one 3x3 conv on 2 channels
    w = model.conv.weight.detach()
    assert 0 < w.abs().max().item() <= bound and cfg.model.init.type == "xavier_uniform"
    cfg = load_config(toy, ["+model.init=orthognal"])
    with pytest.raises(ConfigError, match="model.init: unknown type 'orthognal' for ToyDenoiser.*orthogonal"):
        build_task(cfg).build_model()


def test_zero_last_on_task_models_or_one_line_where_not_available():
    from tasks.sirst.models.blocks import ResidualBlock

    cfg = load_config(ROOT / "tasks/sirst/dnanet_tiny.py", ["+model.init={'type': 'default', 'zero_last': True}"])
    model = build_task(cfg).build_model()
    blocks = [m for m in model.modules() if isinstance(m, ResidualBlock)]
    assert blocks and all(torch.equal(b.conv2[1].weight, torch.zeros_like(b.conv2[1].weight)) for b in blocks)
    assert all(b.conv1[1].weight.eq(1).all() for b in blocks)  # only the branches' last layers
    cfg = load_config(
        ROOT / "tasks/restoration/restormer_tiny.py", ["+model.init={'type': 'orthogonal', 'zero_last': True}"]
    )
    with pytest.raises(ConfigError, match="model.init.zero_last: Restormer has no residual block"):
        build_task(cfg).build_model()
