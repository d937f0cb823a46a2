"""Whole-image and tiled inference with padding to the model's size multiple and blended seams.

Large images are cut into overlapping tiles of ``tile`` px (input side), restored tile by tile
(``batch_size`` tiles per forward pass) and put back together with a weighted average. Each
tile's weight is zero within ``overlap // 4`` px of an edge it shares with a neighbour, rises
linearly over the next ``overlap - 2 (overlap // 4)`` px and is 1 elsewhere (image borders keep
full weight). Every output pixel therefore comes only from tiles in which it lies at least
``overlap // 4`` px inside: for a model whose receptive field reaches no further than that (any
convolutional network of that radius), tiled output equals whole-image output up to float
rounding. Models with image-wide operations (Restormer's channel attention, SAFM's adaptive
pooling) see less context per tile, so their tiled output is close to, not equal to, the
whole-image output, as in the tile modes of the public Restormer and SwinIR test scripts.
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.data import crop_to, pad_to_multiple
from toolkit.errors import ConfigError

__all__ = ["forward_padded", "tile_starts", "blend_weights", "tiled_forward", "tile_size"]


def _multiple(model: nn.Module, multiple: int | None) -> int:
    return int(multiple if multiple is not None else getattr(model, "size_multiple", 1) or 1)


def tile_size(
    model: nn.Module,
    tile: int,
    overlap: int,
    multiple: int | None = None,
    *,
    names: tuple[str, str] = ("tile", "overlap"),
) -> int:
    """The tile side :func:`tiled_forward` uses: ``tile`` rounded down to the model's size multiple (at least one).

    Raises:
        ConfigError: ``tile`` or ``overlap`` is negative, or ``overlap`` is not smaller than that tile side;
            the message calls them ``names`` (``('--tile', '--tile-overlap')`` for the command line).
    """
    m = _multiple(model, multiple)
    if tile <= 0 or overlap < 0:
        raise ConfigError(f"{names[0]} {tile} and {names[1]} {overlap}: the tile must be positive, the overlap >= 0")
    side = max(m, tile // m * m)
    if overlap >= side:
        rounded = f" ({tile} rounded down to the model's size multiple {m})" if side != tile else ""
        raise ConfigError(f"{names[1]} {overlap} must be smaller than {names[0]} {side}{rounded}")
    return side


def forward_padded(model: nn.Module, x: torch.Tensor, multiple: int | None = None, **kwargs):
    """``model(x, **kwargs)`` on (B, C, H, W) of any size: pad to the model's ``size_multiple``, crop the output.

    The output scale (1 for denoising, s for super-resolution) is read from the output's size. A model
    returning ``(pred, aux)`` (``return_aux=True``) gets ``pred`` cropped and ``aux`` passed through.
    """
    xp, size = pad_to_multiple(x, _multiple(model, multiple), mode="reflect")  # replicate when too small
    out = model(xp, **kwargs)
    pred = out[0] if isinstance(out, tuple) else out
    pred = crop_to(pred, size, scale=pred.shape[-1] // xp.shape[-1])
    return (pred, *out[1:]) if isinstance(out, tuple) else pred


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px with at least ``overlap`` px shared."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)  # the last tile ends flush with the image
    return starts


def _ramp(n: int, start: int, size: int, overlap: int, scale: int, device, dtype) -> torch.Tensor:
    """1-D weight of a tile at ``start`` (input px) of ``size`` px on an axis of ``n`` px, at output scale."""
    margin = overlap // 4
    ramp = max(1, overlap - 2 * margin)
    j = (torch.arange(size * scale, device=device, dtype=torch.float64) + 0.5) / scale  # input-px position in tile
    w = torch.ones_like(j)
    if start > 0:  # left/top edge is shared with a neighbour
        w = w * ((j - margin) / ramp).clamp(0, 1)
    if start + size < n:  # right/bottom edge is shared
        w = w * ((size - j - margin) / ramp).clamp(0, 1)
    return w.to(dtype)


def blend_weights(
    shape: tuple[int, int], start: tuple[int, int], size: tuple[int, int], overlap: int, scale: int, device, dtype
) -> torch.Tensor:
    """(H_tile * scale, W_tile * scale) weight map of one tile (see the module docstring)."""
    wy = _ramp(shape[0], start[0], size[0], overlap, scale, device, dtype)
    wx = _ramp(shape[1], start[1], size[1], overlap, scale, device, dtype)
    return wy[:, None] * wx[None, :]


@torch.no_grad()
def tiled_forward(
    model: nn.Module,
    x: torch.Tensor,
    tile: int,
    overlap: int = 32,
    *,
    multiple: int | None = None,
    batch_size: int = 1,
) -> torch.Tensor:
    """Restore (B, C, H, W) tile by tile and blend the tiles into one output.

    Args:
        model: maps (B, C, h, w) to (B, C', h * s, w * s) for an integer scale s.
        x: input images.
        tile: tile side in input pixels (rounded down to the model's size multiple).
        overlap: pixels shared by neighbouring tiles; the output is exact for models whose
            receptive radius is at most ``overlap // 4``.
        multiple: size multiple the model needs (default: ``model.size_multiple`` or 1).
        batch_size: tiles per forward pass.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C', H * s, W * s)
    """
    m = _multiple(model, multiple)
    tile = tile_size(model, tile, overlap, m)
    b, _, h, w = x.shape
    th, tw = min(tile, h), min(tile, w)
    boxes = [(y0, x0) for y0 in tile_starts(h, th, overlap) for x0 in tile_starts(w, tw, overlap)]
    out = weight = None
    scale = 1
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i : i + batch_size]
        tiles = torch.cat([x[..., y0 : y0 + th, x0 : x0 + tw] for y0, x0 in chunk], dim=0)  # (n*B, C, th, tw)
        pred = forward_padded(model, tiles, m)  # (n*B, C', th*s, tw*s)
        if out is None:
            scale = pred.shape[-1] // tw
            out = x.new_zeros((b, pred.shape[1], h * scale, w * scale), dtype=torch.float32)
            weight = x.new_zeros((1, 1, h * scale, w * scale), dtype=torch.float32)
        for k, (y0, x0) in enumerate(chunk):
            wmap = blend_weights((h, w), (y0, x0), (th, tw), overlap, scale, x.device, torch.float32)
            ys, xs = slice(y0 * scale, (y0 + th) * scale), slice(x0 * scale, (x0 + tw) * scale)
            out[..., ys, xs] += pred[k * b : (k + 1) * b].float() * wmap
            weight[..., ys, xs] += wmap
    return (out / weight).to(x.dtype)
