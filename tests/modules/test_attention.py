"""Every ATTENTION entry obeys the contract; paper facts of each block hold."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from toolkit.modules.attention import ATTENTION, Identity, build_attention
from toolkit.modules.attention.channel import eca_kernel_size

SHAPES = [(1, 16, 7, 9), (2, 64, 32, 32)]
NAMES = sorted(ATTENTION)


def _n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", NAMES)
def test_contract_shape_grad_finite(name, shape):
    torch.manual_seed(0)
    m = build_attention(name, shape[1])
    x = torch.randn(*shape, requires_grad=True)
    y = m(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    w = torch.randn(shape)
    (y * w).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for pname, p in m.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"
        assert p.grad.abs().sum() > 0, f"{name}: zero gradient in {pname}"


@pytest.mark.parametrize("name", NAMES)
def test_bf16_autocast_cpu(name):
    torch.manual_seed(0)
    m = build_attention(name, 16)
    x = torch.randn(1, 16, 7, 9)
    torch.manual_seed(1)  # blocks that draw at random in training (camixer's routing) draw the same twice
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(x)
    assert y.shape == x.shape
    assert torch.isfinite(y.float()).all()
    torch.manual_seed(1)
    ref = m(x)
    # bf16 has an 8-bit mantissa: results agree to a few percent of the output scale
    assert (y.float() - ref).abs().max() <= 0.1 * ref.abs().max() + 0.1


@pytest.mark.parametrize("name", NAMES)
def test_one_by_one_input_eval(name):
    m = build_attention(name, 8).eval()
    x = torch.randn(1, 8, 1, 1)
    y = m(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_jit_trace_matches_eager(name):
    torch.manual_seed(0)
    m = build_attention(name, 16).eval()
    x = torch.randn(1, 16, 7, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(m, x, check_trace=False)
    torch.testing.assert_close(traced(x), m(x))


def test_build_attention_spec_forms():
    assert isinstance(build_attention(None, 8), ATTENTION.get("none"))
    assert isinstance(build_attention(dict(type=None), 8), ATTENTION.get("none"))
    se = build_attention(dict(type="se", reduction=4), 32)
    assert se.fc1.out_channels == 8


@pytest.mark.parametrize("name", ["se", "eca", "cbam", "coord", "sk", "nonlocal", "danet", "simam", "lka"])
def test_entries_name_their_paper(name):
    assert ATTENTION.get(name).paper


# ------------------------------------------------------------------ paper facts


@pytest.mark.parametrize("channels,reduction", [(64, 16), (256, 16), (64, 4)])
def test_se_parameter_count(channels, reduction):
    m = build_attention(dict(type="se", reduction=reduction), channels)
    hidden = channels // reduction
    weights = sum(p.numel() for n, p in m.named_parameters() if n.endswith("weight"))
    biases = sum(p.numel() for n, p in m.named_parameters() if n.endswith("bias"))
    assert weights == 2 * channels * channels // reduction
    assert biases == hidden + channels


def test_se_output_is_sigmoid_gate_of_pooled_mlp():
    torch.manual_seed(0)
    m = build_attention("se", 32)
    x = torch.randn(2, 32, 5, 3)
    s = x.mean(dim=(2, 3))
    w1, b1 = m.fc1.weight.flatten(1), m.fc1.bias
    w2, b2 = m.fc2.weight.flatten(1), m.fc2.bias
    gate = torch.sigmoid(torch.relu(s @ w1.T + b1) @ w2.T + b2)
    torch.testing.assert_close(m(x), x * gate[:, :, None, None])


@pytest.mark.parametrize("channels,k", [(16, 3), (32, 3), (64, 3), (128, 5), (256, 5), (512, 5), (1024, 5), (2, 1)])
def test_eca_kernel_size_formula(channels, k):
    # |log2(C)/2 + 1/2|_odd: C = 64 -> 3.5 -> 3; C = 256 -> 4.5 -> 5; C = 1024 -> 5.5 -> 5; C = 2 -> 1
    assert eca_kernel_size(channels) == k
    m = build_attention("eca", channels)
    assert m.kernel_size == k and _n_params(m) == k


def test_eca_gamma_b_and_nearest_odd():
    t = math.log2(64) / 1 + 1 / 1  # gamma = 1, b = 1 -> 7
    assert eca_kernel_size(64, gamma=1, b=1) == 7 == int(t)
    assert eca_kernel_size(64, gamma=3, b=1) == 3  # 7/3 = 2.33 -> nearest odd 3


def test_eca_only_neighbouring_channels_interact():
    m = build_attention(dict(type="eca", kernel_size=3), 16)
    x = torch.randn(1, 16, 4, 4, requires_grad=True)
    m(x)[0, 8].sum().backward()
    touched = (x.grad[0].abs().sum(dim=(1, 2)) > 0).nonzero().flatten().tolist()
    assert touched == [7, 8, 9]


def test_simam_has_no_parameters_and_matches_energy_formula():
    m = build_attention("simam", 4)
    assert _n_params(m) == 0
    x = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]]]])  # mean 3, sum of squared deviations 14, M - 1 = 3
    var, lam = 14.0 / 3.0, 1e-4
    expected = [
        t * torch.sigmoid(torch.tensor(4 * (var + lam) / ((t - 3) ** 2 + 2 * var + 2 * lam)) ** -1)
        for t in [1.0, 2.0, 3.0, 6.0]
    ]
    torch.testing.assert_close(m(x).flatten(), torch.stack(expected).float())


def test_cbam_is_channel_then_spatial_gate():
    torch.manual_seed(0)
    m = build_attention("cbam", 32)
    x = torch.randn(2, 32, 6, 5)
    mlp = m.channel_gate.mlp
    mc = torch.sigmoid(mlp(x.mean((2, 3), keepdim=True)) + mlp(x.amax((2, 3), keepdim=True)))
    f1 = x * mc
    ms = torch.sigmoid(m.spatial_gate.conv(torch.cat([f1.mean(1, keepdim=True), f1.amax(1, keepdim=True)], 1)))
    torch.testing.assert_close(m(x), f1 * ms)
    assert m.spatial_gate.conv.kernel_size == (7, 7)
    assert _n_params(m.spatial_gate) == 2 * 49 + 1


def test_coord_gate_factorises_into_row_and_column_terms():
    torch.manual_seed(0)
    m = build_attention("coord", 64).eval()
    assert m.conv1.out_channels == 8  # max(8, 64 // 32)
    x = torch.rand(1, 64, 5, 7) + 0.5
    log_ratio = torch.log(m(x) / x)[0]  # (C, H, W) = log g_h[c, h] + log g_w[c, w]
    rebuilt = log_ratio[:, :, :1] + log_ratio[:, :1, :] - log_ratio[:, :1, :1]
    torch.testing.assert_close(log_ratio, rebuilt, atol=1e-5, rtol=1e-5)


def test_sk_single_branch_is_its_convolution():
    torch.manual_seed(0)
    m = build_attention(dict(type="sk", branches=1), 32).eval()
    x = torch.randn(1, 32, 6, 6)
    torch.testing.assert_close(m(x), m.convs[0](x))
    assert build_attention("sk", 64).select.out_channels == 2 * 64
    assert build_attention("sk", 64).fuse[0].out_channels == 32  # d = max(64 / 16, L = 32)


def test_lka_support_covers_the_21x21_kernel():
    # 5x5 (radius 2) then 7x7 dilated by 3 (radius 9): support (5 - 1) + 3 * (7 - 1) + 1 = 23 >= 21
    m = build_attention("lka", 4)
    for conv in (m.dw, m.dw_dilated, m.pw):
        torch.nn.init.constant_(conv.weight, 1.0)
        torch.nn.init.zeros_(conv.bias)
    delta = torch.zeros(1, 4, 41, 41)
    delta[:, :, 20, 20] = 1.0
    attn = m.pw(m.dw_dilated(m.dw(delta)))[0, 0]
    rows = (attn.abs().sum(1) > 0).nonzero().flatten()
    cols = (attn.abs().sum(0) > 0).nonzero().flatten()
    assert rows.max() - rows.min() + 1 == 23 and cols.max() - cols.min() + 1 == 23


@pytest.mark.parametrize("spec", [dict(type="nonlocal", sub_sample=False), "danet"])
def test_global_attention_is_permutation_equivariant(spec):
    torch.manual_seed(0)
    m = build_attention(spec, 16)
    x = torch.randn(1, 16, 4, 5)
    perm = torch.randperm(20)
    x_perm = x.flatten(2)[:, :, perm].reshape(1, 16, 4, 5)
    y_perm = m(x).flatten(2)[:, :, perm].reshape(1, 16, 4, 5)
    torch.testing.assert_close(m(x_perm), y_perm, atol=1e-5, rtol=1e-5)


def test_nonlocal_sub_sampling_pools_keys():
    m = build_attention("nonlocal", 16)
    assert m.theta.out_channels == 8  # C / 2
    keys = m.pool(m.phi(torch.randn(1, 16, 7, 9)))
    assert keys.shape[2:] == (4, 5)  # ceil(7 / 2), ceil(9 / 2)


def test_danet_channel_module_hand_computed():
    m = build_attention("danet", 2)
    x = torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1)  # Gram [[1, 0], [0, 0]]
    e = math.e
    expected = torch.tensor([e / (e + 1), 0.5]).reshape(1, 2, 1, 1)
    torch.testing.assert_close(m.cam(x), expected)


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu_and_runs_bf16(name):
    torch.manual_seed(0)
    m = build_attention(name, 64).eval()
    x = torch.randn(2, 64, 17, 23)
    ref = m(x)
    m_gpu = m.cuda()
    torch.testing.assert_close(m_gpu(x.cuda()).cpu(), ref, atol=1e-3, rtol=1e-3)  # TF32 convolutions
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = m_gpu(x.cuda().requires_grad_())
    y.float().sum().backward()
    assert y.shape == x.shape and torch.isfinite(y.float()).all()


def test_options_without_a_type_are_an_error_not_the_identity():
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"attention options \{'reduction': 8\} name no 'type'.*Known types: .*se"):
        build_attention({"reduction": 8}, 16)
    with pytest.raises(ConfigError, match=r"attention options \{'reduction': 8\} name no 'type'"):
        build_attention({"type": None, "reduction": 8}, 16)
    assert isinstance(build_attention({"type": None}, 16), Identity)  # an empty slot (hybridsn.py) stays empty
    assert isinstance(build_attention(None, 16), Identity)


def test_readme_attention_examples_add_attention():
    """Every ``tools/train.py ... --set model.attn...`` line of the README builds a model with more parameters."""
    import re
    import shlex
    from pathlib import Path

    import tasks.video_pred  # noqa: F401  (registers simvp)
    from toolkit.config import load_config
    from toolkit.registry import MODELS

    root = Path(__file__).resolve().parents[2]
    lines = [
        ln for ln in (root / "README.md").read_text().splitlines() if re.match(r"python tools/train.py .*attn", ln)
    ]
    assert lines, "the README shows no attention override"
    for line in lines:
        words = shlex.split(line, comments=True)
        config, sets = words[2], words[words.index("--set") + 1 :]
        shape = dict(in_shape=(10, 1, 64, 64))  # Moving MNIST clips (T, C, H, W), as the Task fills it in
        bare = MODELS.build(dict(load_config(root / config).model, **shape))
        model = MODELS.build(dict(load_config(root / config, sets).model, **shape))
        assert _n_params(model) > _n_params(bare), line
