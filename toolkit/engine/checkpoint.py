"""Checkpoints: written atomically, loaded with ``weights_only=True``, errors that name the file.

A checkpoint is a dict of tensors and plain Python values: ``model`` (the unwrapped model's state
dict, no ``module.`` / ``_orig_mod.`` prefixes), ``optimizer``, ``scheduler``, ``scaler``, ``ema``,
``iter``, ``epoch``, ``best``, ``rng``, ``task`` (task state such as normalisation statistics),
``config`` and ``meta``.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from toolkit.errors import CheckpointError

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process umask (os.umask can only be read by setting it)

__all__ = ["save_checkpoint", "load_checkpoint", "load_weights", "rng_state", "set_rng_state", "clean_state_dict"]


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip the prefixes DDP (``module.``) and torch.compile (``_orig_mod.``) add to keys."""
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "_orig_mod."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key.replace("._orig_mod.", ".")] = value
    return out


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, fsync, then rename.

    An interrupted write leaves the previous file at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file private (0600); a checkpoint gets the usual mode
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a missing or corrupt file raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, pickle refused by weights_only, ...
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a toolkit checkpoint (got a {type(state).__name__})")
    return state


def _weights_from(state: dict[str, Any], prefer_ema: bool = False) -> dict[str, torch.Tensor]:
    if prefer_ema and state.get("ema") is not None:
        return state["ema"]
    if "model" in state and isinstance(state["model"], dict):
        return state["model"]
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        return state["state_dict"]
    return state  # a bare state dict


def load_weights(
    model: nn.Module,
    path: str | Path,
    *,
    strict: bool = True,
    prefer_ema: bool = False,
    state: dict[str, Any] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """Load model weights from a checkpoint; returns (missing, unexpected, shape-mismatched) keys.

    With ``strict=True`` (evaluation) a checkpoint of a different model raises CheckpointError naming
    the first mismatching keys and shapes; with ``strict=False`` (``--load-from``) matching tensors
    are loaded and the rest reported. ``state``: the checkpoint ``path`` already loaded (not read again).
    """
    weights = clean_state_dict(_weights_from(state if state is not None else load_checkpoint(path), prefer_ema))
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    mismatched = [
        f"{k}: checkpoint {tuple(weights[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in weights and hasattr(weights[k], "shape") and weights[k].shape != own[k].shape
    ]
    if strict and (missing or unexpected or mismatched):
        detail = "; ".join(
            part
            for part in (
                f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}" if missing else "",
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}" if unexpected else "",
                f"shape mismatch {mismatched[:3]}" if mismatched else "",
            )
            if part
        )
        raise CheckpointError(f"{path} does not match this model (a checkpoint of a different config?): {detail}")
    bad = [m.split(":")[0] for m in mismatched]
    model.load_state_dict({k: v for k, v in weights.items() if k in own and k not in bad}, strict=False)
    return missing, unexpected, bad


def rng_state() -> dict[str, Any]:
    """Every RNG the training loop touches, in a form ``weights_only`` loading accepts."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
