"""Paired augmentation of a training batch where it already lives (GPU or CPU), with kornia.augmentation.

A task applies :class:`PairedBatchAugment` to the batch tensors in its ``train_step``: an input and its
target (a degraded image and the clean one, possibly ``scale`` times larger; a clip's context frames and
its future frames) get the same random flips and 90-degree rotations, drawn once per sample and applied to
every channel and frame of that sample. Configs set it as ``data.batch_aug`` (``None``: off).

Randomness. kornia draws its parameters from torch's global generator; here every call draws them inside
``torch.random.fork_rng`` from a generator seeded with ``(seed, rank, call number)``, so the draws neither
depend on nor shift the model's random stream, and the call counter travels in the task's checkpoint state
(``state_dict``): a resumed run augments its remaining batches exactly as the uninterrupted run does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from toolkit.errors import ConfigError, DataError

__all__ = ["PairedBatchAugment", "build_batch_augment"]

_KEYS = ("hflip", "vflip", "rot90")


class PairedBatchAugment:
    """The same random flips and 90-degree rotations on every tensor of a batch, per sample.

    Args:
        hflip: probability of a horizontal flip (left-right) of each sample.
        vflip: probability of a vertical flip (up-down) of each sample.
        rot90: rotate each sample by 0, 90, 180 or 270 degrees, each with probability 1/4 (square images).
        seed: base seed of the draws (the run's ``seed``).
        where: the config key named in error messages.

    With ``hflip=0.5, vflip=0.5, rot90=True`` each sample receives one of the 8 flips/rotations of the
    square, uniformly. Flips and rotations move pixels without interpolation, so the outputs hold exactly
    the input values (tested against ``torch.flip`` / ``torch.rot90``).

    Shape:
        - Inputs: tensors (B, ..., H, W) with the same B, e.g. (B, C, h, w) and (B, C, h*s, w*s), or
          (B, T, C, H, W) clips; every leading axis after B is carried along (frames and channels alike).
        - Outputs: the same shapes, dtypes and devices.
    """

    def __init__(
        self, hflip: float = 0.0, vflip: float = 0.0, rot90: bool = False, *, seed: int = 0, where: str = "batch_aug"
    ):
        import kornia.augmentation as K

        self.hflip, self.vflip, self.rot90 = float(hflip), float(vflip), bool(rot90)
        self.seed, self.where, self.step = int(seed), where, 0
        stages = []
        if self.hflip > 0:
            stages.append(K.RandomHorizontalFlip(p=self.hflip))
        if self.vflip > 0:
            stages.append(K.RandomVerticalFlip(p=self.vflip))
        if self.rot90:
            # NOTE: kornia samples `times` uniformly in a continuous range and rounds it, so its (0, 3) would
            # give the four rotations probabilities 1/6, 1/3, 1/3, 1/6; (-1.5, 2.5) rounds to -1, 0, 1, 2
            # with 1/4 each (-1 = 270 degrees). Nearest sampling keeps the warp exact (no interpolation).
            stages.append(K.RandomRotation90(times=(-1.5, 2.5), resample="nearest", p=1.0))
        self._pipeline = K.AugmentationSequential(*stages, data_keys=["input"])

    def _generator_seed(self) -> int:
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        return int(np.random.SeedSequence([self.seed % 2**32, rank, self.step]).generate_state(1)[0])

    def __call__(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Augment ``tensors`` (one batch's input, target, ...) with one draw per sample; advances the counter."""
        if not tensors:
            return ()
        shapes = [tuple(t.shape) for t in tensors]
        if any(len(s) < 3 for s in shapes) or len({s[0] for s in shapes}) > 1:
            raise DataError(f"{self.where}: expected tensors (B, ..., H, W) with one batch size B, got {shapes}")
        if self.rot90 and any(s[-2] != s[-1] for s in shapes):
            raise DataError(
                f"{self.where}.rot90 needs square images (a rotation would change H x W), got shapes {shapes}; "
                "use square training crops or rot90=False"
            )
        folded = [t.reshape(t.shape[0], -1, *t.shape[-2:]) for t in tensors]  # (B, everything else, H, W)
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(self._generator_seed())
            params = self._pipeline.forward_parameters(folded[0].shape)
        self.step += 1
        out = self._pipeline(*folded, params=params, data_keys=["input"] * len(folded))
        out = out if isinstance(out, (list, tuple)) else [out]
        return tuple(o.reshape(t.shape).to(t.dtype) for o, t in zip(out, tensors))

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("step", 0))

    def __repr__(self) -> str:
        return f"PairedBatchAugment(hflip={self.hflip}, vflip={self.vflip}, rot90={self.rot90})"


def _probability(spec: dict, key: str, where: str) -> float:
    value = spec.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{where}.{key} must be a probability in [0, 1], got {value!r}")
    return float(value)


def build_batch_augment(spec: Any, *, seed: int = 0, where: str = "data.batch_aug") -> PairedBatchAugment | None:
    """``None`` for ``spec=None``; else a :class:`PairedBatchAugment` from ``dict(hflip=p, vflip=p, rot90=bool)``.

    A spec that is not such a dict, has unknown keys or would change nothing is a :class:`ConfigError`.
    """
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be None or a dict like dict(hflip=0.5, vflip=0.5, rot90=True), got {spec!r}")
    unknown = sorted(set(spec) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {list(_KEYS)}")
    hflip, vflip = _probability(spec, "hflip", where), _probability(spec, "vflip", where)
    rot90 = spec.get("rot90", False)
    if not isinstance(rot90, bool):
        raise ConfigError(f"{where}.rot90 must be True or False, got {rot90!r}")
    if hflip == 0 and vflip == 0 and not rot90:
        raise ConfigError(
            f"{where}={spec!r} changes nothing (no flip probability above 0, rot90 False); set it to None"
        )
    return PairedBatchAugment(hflip, vflip, rot90, seed=seed, where=where)
