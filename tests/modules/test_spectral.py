"""AFNO operator and Fourier block: shapes, the complex MLP against a complex-arithmetic reference,
block-diagonal channel mixing, global token mixing, soft-shrink, autocast and parameter counts."""

from __future__ import annotations

import pytest
import torch

from toolkit.modules.spectral import AFNO2d, FourierBlock


def _n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _reference(op: AFNO2d, x: torch.Tensor) -> torch.Tensor:
    """The AFNO forward written with complex tensors and explicit block matrices."""
    B, C, H, W = x.shape
    k = op.num_blocks
    w1 = torch.complex(op.w1[0], op.w1[1])  # (k, i, o)
    b1 = torch.complex(op.b1[0], op.b1[1])
    w2 = torch.complex(op.w2[0], op.w2[1])
    b2 = torch.complex(op.b2[0], op.b2[1])
    spec = torch.fft.rfft2(x, dim=(2, 3), norm="ortho").permute(0, 2, 3, 1)  # (B, H, Wf, C)
    out = []
    for j in range(k):
        z = spec[..., j * (C // k) : (j + 1) * (C // k)]
        h = z @ w1[j] + b1[j]
        h = torch.complex(torch.relu(h.real), torch.relu(h.imag))
        out.append(h @ w2[j] + b2[j])
    spec = torch.cat(out, dim=-1).permute(0, 3, 1, 2)  # (B, C, H, Wf)
    return torch.fft.irfft2(spec, s=(H, W), dim=(2, 3), norm="ortho")


@pytest.mark.parametrize("shape", [(1, 8, 1, 1), (2, 8, 7, 9), (2, 16, 8, 8)], ids=str)
def test_afno_matches_complex_reference(shape):
    torch.manual_seed(0)
    op = AFNO2d(shape[1], num_blocks=4)
    with torch.no_grad():  # larger weights so that the ReLUs cut and the second layer matters
        for p in op.parameters():
            p.mul_(25)
    x = torch.randn(*shape)
    y = op(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, _reference(op, x), rtol=1e-4, atol=1e-5)


def test_afno_is_block_diagonal_over_channels():
    torch.manual_seed(0)
    op = AFNO2d(8, num_blocks=4)  # blocks of 2 channels
    x = torch.randn(1, 8, 6, 6)
    x2 = x.clone()
    x2[:, 0:2] += torch.randn(1, 2, 6, 6)  # change block 0 only
    d = (op(x2) - op(x)).abs().amax(dim=(0, 2, 3))  # (C,)
    assert d[:2].min() > 1e-4
    assert d[2:].max() == 0


def test_afno_mixes_tokens_globally():
    # one changed token changes the output at the far corner of the grid (a 3x3 conv would not)
    torch.manual_seed(0)
    op = AFNO2d(8, num_blocks=2)
    x = torch.randn(1, 8, 9, 9)
    x2 = x.clone()
    x2[0, :, 0, 0] += 1.0
    assert (op(x2) - op(x))[0, :, 4, 4].abs().max() > 1e-4


def test_softshrink_zeroes_small_spectra_and_bias_adds_a_bypass():
    torch.manual_seed(0)
    x = torch.randn(1, 8, 5, 5)
    assert AFNO2d(8, softshrink=1e3)(x).abs().max() == 0
    op = AFNO2d(8, softshrink=1e3, bias=True)  # the spectral path is zero, only the 1x1 bypass remains
    torch.testing.assert_close(op(x), op.bypass(x))
    # parameters: w1, w2 of 2 x (4 blocks x 2 x 2), b1, b2 of 2 x (4 x 2), plus the 1x1 conv 8*8+8
    assert _n_params(AFNO2d(8)) == 32 + 16 + 32 + 16
    assert _n_params(op) == 96 + 72


def test_gradients_reach_every_parameter_and_bf16_autocast_runs():
    torch.manual_seed(0)
    block = FourierBlock(16, num_blocks=4, mlp_ratio=2.0)
    x = torch.randn(2, 16, 6, 7, requires_grad=True)
    (block(x) * torch.randn(2, 16, 6, 7)).sum().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = block(x.detach())
    assert y.shape == x.shape and torch.isfinite(y.float()).all()
    torch.testing.assert_close(y.float(), block(x.detach()), rtol=0.05, atol=0.05)


def test_fourier_block_parameter_count_at_pastnet_width():
    # two LayerNorms (2 x 256), AFNO with 4 blocks of 32: w1, w2 2*4*32*32 each, b1, b2 2*4*32 each,
    # MLP 128 -> 256 -> 128 with biases
    expected = 2 * 256 + 2 * 8192 + 2 * 256 + (128 * 256 + 256) + (256 * 128 + 128)
    assert _n_params(FourierBlock(128, mlp_ratio=2.0, num_blocks=4)) == expected == 83328


def test_channels_not_divisible_by_blocks_is_rejected():
    with pytest.raises(ValueError, match="divisible"):
        AFNO2d(10, num_blocks=4)
