"""Sobel edge features and the SVD low-rank / sparse branch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.modules.edge import LowRankBranch, SobelEdge, low_rank_approx


def _step_image():
    x = torch.zeros(1, 1, 6, 8)
    x[..., 4:] = 1.0  # vertical step between columns 3 and 4
    return x


def test_sobel_magnitude_on_a_step_edge():
    mag = SobelEdge(1)(_step_image())[0, 0]
    # normalised Sobel x-kernel [-1 0 1; -2 0 2; -1 0 1] / 8 gives (1 + 2 + 1) / 8 = 0.5 next to the step
    expected = torch.full((6, 8), 1e-3)  # sqrt(0 + 1e-6) on flat regions
    expected[:, 3:5] = (0.25 + 1e-6) ** 0.5
    torch.testing.assert_close(mag, expected)


def test_sobel_gradient_mode_and_projection():
    g = SobelEdge(1, mode="gradient")(_step_image())
    assert g.shape == (1, 2, 6, 8)
    assert g[0, 0, :, 3:5].eq(0.5).all() and g[0, 1].abs().max() == 0  # dx at the step, no dy
    proj = SobelEdge(3, 5, mode="gradient")
    assert proj(torch.randn(2, 3, 7, 9)).shape == (2, 5, 7, 9) and proj.out_channels == 5
    with pytest.raises(ValueError):
        SobelEdge(3, mode="laplace")


def test_low_rank_matches_truncated_svd():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 4, 5)
    got = low_rank_approx(x, 2)
    for b in range(2):
        u, s, vt = np.linalg.svd(x[b].reshape(6, 20).double().numpy(), full_matrices=False)
        ref = (u[:, :2] * s[:2]) @ vt[:2]
        np.testing.assert_allclose(got[b].reshape(6, 20).numpy(), ref, atol=1e-5)


def test_low_rank_input_has_no_sparse_part_and_modes():
    torch.manual_seed(0)
    a, b = torch.randn(8, 2), torch.randn(2, 30)
    x = (a @ b).reshape(1, 8, 5, 6)  # rank 2
    torch.testing.assert_close(LowRankBranch(8, rank=2, mode="sparse")(x), torch.zeros_like(x), atol=1e-4, rtol=0)
    torch.testing.assert_close(LowRankBranch(8, rank=2, mode="lowrank")(x), x, atol=1e-4, rtol=1e-4)
    assert LowRankBranch(8, mode="both")(x).shape == (1, 16, 5, 6)
    assert LowRankBranch(8, mode="both", out_channels=4)(x).shape == (1, 4, 5, 6)


def test_low_rank_gradient_finite_on_degenerate_input():
    x = torch.zeros(2, 4, 3, 3, requires_grad=True)  # all singular values equal (0)
    LowRankBranch(4, rank=2, out_channels=4)(x).square().sum().backward()
    assert torch.isfinite(x.grad).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = LowRankBranch(4, rank=2)(torch.randn(1, 4, 5, 5))
    assert y.shape == (1, 4, 5, 5) and torch.isfinite(y.float()).all()
