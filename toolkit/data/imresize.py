"""MATLAB-compatible bicubic ``imresize`` in numpy and torch.

Super-resolution benchmarks make their low-resolution inputs with MATLAB's
``imresize(img, 1/s, 'bicubic')`` and report bicubic up-sampling baselines with the same
function, so matching published tables requires the same kernel, the same pixel grid and the same
boundary rule. The algorithm implemented here follows the documented behaviour of MATLAB's
``imresize`` (Image Processing Toolbox documentation; R. Keys, "Cubic convolution interpolation for
digital image processing", IEEE TASSP 1981):

- Keys' cubic kernel with ``a = -0.5``:
  ``h(x) = 1.5|x|^3 - 2.5|x|^2 + 1`` for ``|x| <= 1``,
  ``h(x) = -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2`` for ``1 < |x| <= 2``, else 0;
- output pixel ``i`` (1-based) samples input position ``u = i / s + (1 - 1 / s) / 2``;
- when down-scaling (``s < 1``) with antialiasing the kernel is widened to ``h(s x) * s`` (width
  ``4 / s`` input pixels), i.e. a low-pass filter matched to the output sampling rate;
- the weights of each output pixel are normalised to sum to 1;
- samples outside the image are mirrored symmetrically (``... 2 1 | 1 2 ... n | n n-1 ...``);
- the output length is ``ceil(s * n)``; the two axes are resized one after the other, the axis
  with the smaller scale first.

Each 1-D pass is a dense ``(out, in)`` matrix built once per size and cached, so resizing is two
matrix products and the numpy and torch versions share the same weights.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

__all__ = ["cubic", "resize_weights", "imresize", "imresize_tensor"]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (the kernel of MATLAB's ``'bicubic'``)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@functools.lru_cache(maxsize=64)
def resize_weights(in_len: int, out_len: int, scale: float, antialiasing: bool = True) -> np.ndarray:
    """Dense float64 matrix ``W`` of shape ``(out_len, in_len)`` with ``out = W @ in`` along one axis.

    Args:
        in_len: input length along the axis.
        out_len: output length along the axis.
        scale: output / input scale factor (``0.25`` for x4 down-scaling).
        antialiasing: widen the kernel when down-scaling (MATLAB's default).
    """
    if in_len < 1 or out_len < 1:
        raise ValueError(f"resize lengths must be positive, got {in_len} -> {out_len}")
    kernel_width = 4.0
    widen = scale < 1 and antialiasing
    if widen:
        kernel_width /= scale
    x = np.arange(1, out_len + 1, dtype=np.float64)  # output coordinates, 1-based as in MATLAB
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # (out,) input-space positions
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # (out, taps) 1-based input indices
    dist = u[:, None] - idx
    weights = scale * cubic(scale * dist) if widen else cubic(dist)  # (out, taps)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # symmetric boundary: index sequence 1..n, n..1 repeated
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    src = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]  # (out, taps) 0-based
    matrix = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.broadcast_to(np.arange(out_len)[:, None], src.shape)
    np.add.at(matrix, (rows, src), weights)
    matrix.setflags(write=False)
    return matrix


def _plan(shape_hw: tuple[int, int], scale, output_shape) -> list[tuple[int, int, int, float]]:
    """Per-axis ``(axis, in_len, out_len, scale)`` in MATLAB's order (smaller scale first)."""
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if output_shape is not None:
        out_hw = (int(output_shape[0]), int(output_shape[1]))
        scales = (out_hw[0] / shape_hw[0], out_hw[1] / shape_hw[1])
    else:
        scales = (float(scale), float(scale)) if np.isscalar(scale) else (float(scale[0]), float(scale[1]))
        if min(scales) <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        out_hw = tuple(int(math.ceil(s * n - 1e-9)) for s, n in zip(scales, shape_hw))
    # a stable sort keeps H before W for equal scales
    order = sorted(range(2), key=lambda a: scales[a])
    return [(axis, shape_hw[axis], out_hw[axis], scales[axis]) for axis in order]


def imresize(
    img: np.ndarray,
    scale: float | tuple[float, float] | None = None,
    output_shape: tuple[int, int] | None = None,
    *,
    antialiasing: bool = True,
) -> np.ndarray:
    """Resize an image like MATLAB's ``imresize(img, scale, 'bicubic')``.

    Args:
        img: (H, W) or (H, W, C) array, uint8 or floating point.
        scale: scale factor (``1/4`` to down-scale by 4, ``4`` to up-scale), or one per axis.
        output_shape: ``(H_out, W_out)`` instead of ``scale``.
        antialiasing: widen the kernel when down-scaling (MATLAB's default ``true``).

    Returns:
        The resized image. uint8 input gives uint8 output rounded half away from zero and clipped,
        as MATLAB does; floating input keeps its dtype (computed in float64, not clipped).

    Shape:
        - Input: (H, W) or (H, W, C)
        - Output: (ceil(s H), ceil(s W)) or (ceil(s H), ceil(s W), C)
    """
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize expects an (H, W) or (H, W, C) array, got shape {img.shape}")
    is_uint8 = img.dtype == np.uint8
    out_dtype = img.dtype if np.issubdtype(img.dtype, np.floating) else np.float64
    x = img.astype(np.float64)
    for axis, n_in, n_out, s in _plan(img.shape[:2], scale, output_shape):
        w = resize_weights(n_in, n_out, s, antialiasing)
        # contract W (out, in) with the image along `axis`, keeping the axis in place
        x = np.moveaxis(np.tensordot(w, np.moveaxis(x, axis, 0), axes=(1, 0)), 0, axis)
        if is_uint8:
            # NOTE: MATLAB resizes uint8 images one axis at a time and stores each pass as uint8,
            # so the intermediate result is rounded too; this reproduces its LR files bit for bit.
            x = np.clip(np.floor(x + 0.5), 0, 255)
    if is_uint8:
        return x.astype(np.uint8)
    return x.astype(out_dtype)


def imresize_tensor(
    x: torch.Tensor,
    scale: float | tuple[float, float] | None = None,
    output_shape: tuple[int, int] | None = None,
    *,
    antialiasing: bool = True,
) -> torch.Tensor:
    """Torch version of :func:`imresize` for float tensors on any device (no rounding, no clipping).

    The weights are the float64 matrices of :func:`resize_weights`, cast to the tensor's dtype
    (float16/bfloat16 inputs are computed in float32), so float64 input gives the numpy result.

    Shape:
        - Input: (..., H, W)
        - Output: (..., ceil(s H), ceil(s W))
    """
    if x.ndim < 2 or not x.is_floating_point():
        raise ValueError(f"imresize_tensor expects a floating (..., H, W) tensor, got {x.dtype} {tuple(x.shape)}")
    in_dtype = x.dtype
    work = x if in_dtype in (torch.float32, torch.float64) else x.float()
    for axis, n_in, n_out, s in _plan(tuple(x.shape[-2:]), scale, output_shape):
        w = torch.from_numpy(np.array(resize_weights(n_in, n_out, s, antialiasing))).to(work.device, work.dtype)
        if axis == 0:
            work = torch.matmul(w, work)  # (..., H_out, W)
        else:
            work = torch.matmul(work, w.t())  # (..., H, W_out)
    return work.to(in_dtype)
