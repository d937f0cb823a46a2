"""Synthetic infrared scenes with small targets: the embedded default data of the SIRST task.

Scenes are written in the NUAA-SIRST layout (``images/<id>.png``, ``masks/<id>_pixels0.png`` with values
0/255, split lists ``50_50/{train,test}.txt`` with CRLF endings, ``img_idx/{train,test}_SynthSIRST.txt``
and ``idx_427/{trainval,test}.txt``) in mixed image modes (L, RGB, palette, RGBA), so that everything
downstream of the loader is exercised exactly as with real data.

Each scene is a background of one kind -- smooth cloud-like sky, sea with horizontal swell, textured
ground, or a horizon between sky and ground -- plus bright clutter (points, streaks and larger warm
blobs that are not targets), 0-4 small targets (anisotropic Gaussian spots of 1-80 px at half maximum,
with signal-to-clutter ratio 2-10 against the local background) and sensor noise (Gaussian read noise
and column fixed-pattern noise). Generation is deterministic given the seed; image ``i`` depends only on
``(seed, i)``. Folders are written atomically (temporary folder, then rename), so parallel users agree.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["DEFAULT_SIZES", "render_scene", "generate_dataset", "ensure_dataset", "default_cache_dir"]

DEFAULT_SIZES = ((128, 128), (120, 160), (96, 136), (101, 127))  # (H, W); some not multiples of 32
_NAME = "SynthSIRST"


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigmas: Sequence[float], decay: float
) -> np.ndarray:
    """Sum of Gaussian-filtered white noise octaves, normalised to zero mean and unit std."""
    out = np.zeros(shape)
    amp = 1.0
    for s in sigmas:
        layer = ndimage.gaussian_filter(rng.standard_normal(shape), s, mode="wrap")
        out += amp * layer / (layer.std() + 1e-12)
        amp *= decay
    return (out - out.mean()) / (out.std() + 1e-12)


def _background(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, str]:
    kind = rng.choice(["sky", "sea", "ground", "horizon"])
    rows = np.linspace(0, 1, h)[:, None]
    if kind == "sky":
        clouds = _smooth_noise(rng, (h, w), (12, 6, 3), 0.5)
        img = 70 + 40 * rows + 18 * np.maximum(clouds, 0) ** 1.5 + 4 * clouds
    elif kind == "sea":
        swell = ndimage.gaussian_filter(rng.standard_normal((h, w)), (1.0, 8.0), mode="wrap")
        swell /= swell.std() + 1e-12
        img = 60 + 25 * rows + 7 * swell + 3 * _smooth_noise(rng, (h, w), (10,), 1.0)
    elif kind == "ground":
        img = 95 + 14 * _smooth_noise(rng, (h, w), (8, 3, 1.2), 0.7)
    else:
        sky = 75 + 30 * rows + 8 * np.maximum(_smooth_noise(rng, (h, w), (10, 4), 0.5), 0)
        ground = 110 + 12 * _smooth_noise(rng, (h, w), (6, 2, 1), 0.7)
        y0 = rng.uniform(0.35, 0.75) * h + rng.uniform(-0.15, 0.15) * h * (np.arange(w)[None, :] / w - 0.5)
        edge = 1 / (1 + np.exp(-(np.arange(h)[:, None] - y0) / 1.5))  # soft horizon line
        img = sky * (1 - edge) + ground * edge
    return img, str(kind)


def _spot(h: int, w: int, cy: float, cx: float, sy: float, sx: float, theta: float) -> np.ndarray:
    """Anisotropic Gaussian with peak 1 centred at (cy, cx), rotated by ``theta``."""
    yy, xx = np.mgrid[0:h, 0:w]
    dy, dx = yy - cy, xx - cx
    c, s = np.cos(theta), np.sin(theta)
    u, v = c * dx + s * dy, -s * dx + c * dy
    return np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))


def render_scene(rng: np.random.Generator, h: int, w: int, max_targets: int = 4) -> tuple[np.ndarray, np.ndarray, dict]:
    """One scene: uint8 image (H, W), uint8 mask (H, W) with values 0/1 and a small info dict."""
    img, kind = _background(rng, h, w)
    local_std = np.sqrt(np.maximum(ndimage.uniform_filter(img**2, 9) - ndimage.uniform_filter(img, 9) ** 2, 1.0))
    # bright clutter that is not a target: points, streaks and warm blobs
    for _ in range(rng.integers(0, 6)):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        shape = rng.choice(["point", "streak", "blob"])
        if shape == "point":
            sy = sx = rng.uniform(0.5, 1.0)
            amp = rng.uniform(10, 30)
        elif shape == "streak":
            sy, sx = rng.uniform(0.6, 1.0), rng.uniform(5, 12)
            amp = rng.uniform(15, 35)
        else:
            sy, sx = rng.uniform(5, 9), rng.uniform(5, 9)
            amp = rng.uniform(20, 40)
        img = img + amp * _spot(h, w, cy, cx, sy, sx, rng.uniform(0, np.pi))
    mask = np.zeros((h, w), dtype=bool)
    n_targets = int(rng.integers(0, max_targets + 1)) if rng.uniform() < 0.1 else int(rng.integers(1, max_targets + 1))
    centres: list[tuple[float, float]] = []
    scrs = []
    for _ in range(n_targets):
        for _attempt in range(20):  # keep targets apart so that each is one component
            cy, cx = rng.uniform(2, h - 3), rng.uniform(2, w - 3)
            if all((cy - y) ** 2 + (cx - x) ** 2 > 15**2 for y, x in centres):
                break
        else:
            continue
        centres.append((cy, cx))
        sy, sx = rng.uniform(0.6, 2.8), rng.uniform(0.6, 2.8)
        profile = _spot(h, w, cy, cx, sy, sx, rng.uniform(0, np.pi))
        scr = rng.uniform(2.0, 10.0)
        amp = scr * local_std[int(cy), int(cx)] + rng.uniform(5, 15)
        img = img + amp * profile
        blob = profile > 0.5
        blob[int(round(cy)), int(round(cx))] = True  # at least the centre pixel
        mask |= blob
        scrs.append(round(float(scr), 2))
    img = img + rng.uniform(1.0, 4.0) * rng.standard_normal((h, w))  # read noise
    img = img + rng.uniform(0.0, 2.0) * rng.standard_normal((1, w))  # column fixed-pattern noise
    info = {"background": kind, "targets": len(centres), "scr": scrs}
    return np.clip(np.round(img), 0, 255).astype(np.uint8), mask.astype(np.uint8), info


def _save_image(img: np.ndarray, path: Path, mode: str) -> None:
    if mode == "L":
        Image.fromarray(img).save(path)
    elif mode == "RGB":
        Image.fromarray(np.repeat(img[..., None], 3, axis=2)).save(path)
    elif mode == "RGBA":
        rgba = np.concatenate([np.repeat(img[..., None], 3, axis=2), np.full(img.shape + (1,), 255, np.uint8)], axis=2)
        Image.fromarray(rgba).save(path)
    else:  # palette image with a grey ramp: lossless
        p = Image.frombytes("P", (img.shape[1], img.shape[0]), img.tobytes())
        p.putpalette([v for g in range(256) for v in (g, g, g)])
        p.save(path)


def generate_dataset(
    root: str | Path,
    num_train: int = 160,
    num_test: int = 40,
    seed: int = 0,
    sizes: Sequence[Sequence[int]] = DEFAULT_SIZES,
    max_targets: int = 4,
) -> Path:
    """Write ``num_train + num_test`` scenes under ``root`` (which must not exist yet)."""
    root = Path(root)
    for sub in ("images", "masks", "50_50", "img_idx", "idx_427"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    modes = ["L"] * 6 + ["RGB"] * 2 + ["P", "RGBA"]
    ids = []
    for i in range(num_train + num_test):
        rng = np.random.default_rng([seed, i])
        h, w = sizes[int(rng.integers(len(sizes)))]
        img, mask, _ = render_scene(rng, int(h), int(w), max_targets)
        name = f"Synth_{i:04d}"
        _save_image(img, root / "images" / f"{name}.png", modes[i % len(modes)])
        Image.fromarray(mask * 255).save(root / "masks" / f"{name}_pixels0.png")
        ids.append(name)
    train, test = ids[:num_train], ids[num_train:]
    for folder, names in (("50_50", ("train", "test")), ("idx_427", ("trainval", "test"))):
        for split_name, part in zip(names, (train, test)):
            (root / folder / f"{split_name}.txt").write_bytes("".join(f"{n}\r\n" for n in part).encode())
    for split_name, part in (("train", train), ("test", test)):
        (root / "img_idx" / f"{split_name}_{_NAME}.txt").write_text("\n".join(part))  # LF, no final newline
    return root


def default_cache_dir() -> Path:
    """``data_cache/`` in the repository root (git-ignored), or ``$TOOLKIT_DATA_CACHE`` when set."""
    env = os.environ.get("TOOLKIT_DATA_CACHE")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data_cache"


def ensure_dataset(cache_dir: str | Path | None = None, **params) -> Path:
    """Path of the generated dataset for ``params`` (see :func:`generate_dataset`), generating it once.

    The folder name carries a hash of the parameters, so changing them generates a new set.
    """
    spec = {"num_train": 160, "num_test": 40, "seed": 0, "sizes": [list(s) for s in DEFAULT_SIZES], "max_targets": 4}
    unknown = set(params) - set(spec)
    if unknown:
        from toolkit.errors import ConfigError

        raise ConfigError(f"data.synth: unknown key(s) {sorted(unknown)}; expected {sorted(spec)}")
    spec.update({k: ([list(s) for s in v] if k == "sizes" else v) for k, v in params.items()})
    key = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    final = cache / f"sirst_synth_{key}"
    if (final / "synth.json").is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".sirst_synth_{key}_", dir=cache))
    try:
        generate_dataset(tmp / "data", **spec)
        (tmp / "data" / "synth.json").write_text(json.dumps(spec, indent=1) + "\n")
        try:
            os.rename(tmp / "data", final)
        except OSError:  # another process finished first
            if not (final / "synth.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
