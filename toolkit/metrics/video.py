"""Video prediction metrics with the definitions of OpenSTL's benchmark tables.

For predictions P and targets Y of shape (N, T, C, H, W) (OpenSTL v0.3.0, ``openstl/core/metrics.py``):

- ``mse`` = sum over a frame's C*H*W pixels of the squared error, averaged over clips and frames
  (so 4096 x the per-pixel MSE at 64x64x1); ``mae`` likewise. Both use the raw prediction.
- ``ssim``: per frame, on the prediction clipped to [0, 1], SSIM with a 7x7 uniform window, sample
  covariance (factor 49/48), K1=0.01, K2=0.03 and **data_range 2.0** (what scikit-image 0.19 used
  for float input), averaged over the valid region (3 px cropped on every side) and the channels,
  then over frames.
- ``psnr``: mean over frames of -10 log10(frame MSE) on the clipped prediction (a mean of per-frame
  PSNRs, not the PSNR of the mean MSE; an exact frame gives +inf). The count of exact frames is kept
  (state ``exact``), so that a forecast that copies frames can report the mean over the others
  (``tasks/video_pred``'s copy-last baseline does).

The values reproduce ``shared/golden/video_expected.json`` to 1e-6 relative. Sums are accumulated in
float64 and reduced across DDP ranks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from toolkit.errors import DataError
from toolkit.metrics.base import Metric
from toolkit.registry import METRICS

__all__ = ["VideoMetrics", "frame_ssim"]


def frame_ssim(x: torch.Tensor, y: torch.Tensor, *, win_size: int = 7, data_range: float = 2.0) -> torch.Tensor:
    """SSIM per frame with a uniform window and sample covariance, on the valid region.

    Shape:
        - x, y: (F, C, H, W) float
        - Output: (F,) SSIM averaged over the valid region and the channels
    """
    if min(x.shape[-2:]) < win_size:
        raise DataError(f"frames of {tuple(x.shape[-2:])} are smaller than the SSIM window {win_size}")
    x, y = x.double(), y.double()
    n = win_size * win_size
    cov_norm = n / (n - 1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (F, 5C, H, W)
    mu = F.avg_pool2d(stack, win_size, stride=1)  # valid region only: (F, 5C, H-6, W-6)
    ux, uy, uxx, uyy, uxy = mu.chunk(5, dim=1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(-2, -1)).mean(dim=1)  # (F,)


@METRICS.register("video")
class VideoMetrics(Metric):
    """MSE, MAE, SSIM and PSNR of predicted clips (OpenSTL definitions, see module docstring).

    ``update(pred, target)`` takes (B, T, C, H, W) tensors in the data's [0, 1] scale.
    """

    higher_is_better = {"mse": False, "mae": False, "ssim": True, "psnr": True}

    def __init__(self):
        super().__init__()
        # psnr: the sum over frames whose MSE is not 0; exact: how many frames had MSE 0 (PSNR +inf)
        for name in ("se", "ae", "ssim", "psnr", "exact", "frames"):
            self.add_state(name, torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        if pred.shape != target.shape or pred.ndim != 5:
            raise DataError(
                f"video metrics expect pred and target of the same shape (B, T, C, H, W), "
                f"got {tuple(pred.shape)} and {tuple(target.shape)}"
            )
        p = pred.detach().double().flatten(0, 1)  # (B*T, C, H, W)
        y = target.detach().double().flatten(0, 1)
        self.se += (p - y).pow(2).sum().cpu()
        self.ae += (p - y).abs().sum().cpu()
        p = p.clamp(0, 1)
        frame_mse = (p - y).pow(2).mean(dim=(1, 2, 3))  # (B*T,)
        exact = frame_mse == 0
        self.psnr += (-10 * torch.log10(frame_mse[~exact])).sum().cpu()
        self.exact += exact.sum().cpu()
        self.ssim += frame_ssim(p, y).sum().cpu()
        self.frames += p.shape[0]

    def _compute(self) -> dict[str, float]:
        n = self.frames.item()
        if n == 0:
            raise DataError("video metrics: compute() called before any update()")
        return {
            "mse": (self.se / n).item(),
            "mae": (self.ae / n).item(),
            "ssim": (self.ssim / n).item(),
            "psnr": float("inf") if self.exact > 0 else (self.psnr / n).item(),  # OpenSTL: an exact frame is +inf
        }
