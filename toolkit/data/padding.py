"""Bottom/right padding of image tensors to a size or a size multiple, and the crop that undoes it.

Models with down-sampling stages need H and W divisible by their total stride; batches of images of
different sizes need one size. Padding only at the bottom and right keeps pixel (0, 0) in place, so
the output is cropped back with a plain slice, at any output scale (super-resolution).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["PAD_MODES", "pad_to", "pad_to_multiple", "crop_to"]

PAD_MODES = ("constant", "reflect", "replicate")


def pad_to(x: torch.Tensor, size: Sequence[int], mode: str = "constant") -> torch.Tensor:
    """Pad the last two dimensions of ``x`` at the bottom and right up to ``size`` = (H', W').

    Args:
        x: image tensor, (B, C, H, W) or (C, H, W).
        size: target (H', W'), each at least the current size.
        mode: ``'constant'`` (zeros), ``'reflect'`` or ``'replicate'``. ``'reflect'`` needs a pad
            smaller than the side it mirrors; when it is not, the whole tensor is padded with
            ``'replicate'`` instead.

    Returns ``x`` itself when it already has the size.

    Shape:
        - Input: (..., H, W)
        - Output: (..., H', W')
    """
    if mode not in PAD_MODES:
        raise ValueError(f"pad mode must be one of {PAD_MODES}, got {mode!r}")
    h, w = x.shape[-2:]
    ph, pw = int(size[0]) - h, int(size[1]) - w
    if ph < 0 or pw < 0:
        raise ValueError(f"cannot pad {h}x{w} to the smaller size {size[0]}x{size[1]}")
    if not (ph or pw):
        return x
    if mode == "reflect" and not (ph < h and pw < w):
        mode = "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)  # (..., H + ph, W + pw)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "constant") -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) at the bottom and right to the next multiple of ``multiple`` in H and W.

    Args:
        x: image tensor.
        multiple: size multiple (1 leaves ``x`` as it is).
        mode: see :func:`pad_to`.

    Returns:
        The padded tensor (``x`` itself when no padding is needed) and the original ``(H, W)``, for
        :func:`crop_to`.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, ceil(H / m) * m, ceil(W / m) * m)
    """
    m = int(multiple)
    if m < 1:
        raise ValueError(f"pad multiple must be a positive integer, got {multiple!r}")
    h, w = int(x.shape[-2]), int(x.shape[-1])
    return pad_to(x, (h + (-h) % m, w + (-w) % m), mode), (h, w)


def crop_to(x: torch.Tensor, size: Sequence[int], scale: int = 1) -> torch.Tensor:
    """Undo :func:`pad_to` / :func:`pad_to_multiple`: keep the top-left ``size`` times ``scale``.

    Args:
        x: padded tensor, or a model's output on it.
        size: the original (H, W) of the input.
        scale: output pixels per input pixel (the super-resolution factor; 1 otherwise).

    Shape:
        - Input: (..., H' * scale, W' * scale)
        - Output: (..., H * scale, W * scale)
    """
    return x[..., : int(size[0]) * scale, : int(size[1]) * scale]
