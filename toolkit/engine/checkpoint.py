"""Checkpoints: written atomically, loaded with ``weights_only=True``, errors that name the file.

A checkpoint is a dict of tensors and plain Python values: ``model`` (the unwrapped model's state
dict, no ``module.`` / ``_orig_mod.`` prefixes), ``optimizer``, ``scheduler``, ``scaler``, ``ema``,
``iter``, ``epoch``, ``best``, ``rng``, ``task`` (task state such as normalisation statistics),
``config`` and ``meta``.

Weights published with other code bases ("released" files: BasicSR's ``{'params', 'params_ema'}``, a
``state_dict`` entry, or a bare state dict) load through the same :func:`load_weights`: the entry is
chosen (``key``; default ``params_ema``, as BasicSR's test configs load, else ``params``), the names are
mapped by the model class's ``from_release(state) -> state`` classmethod when it has one (a list of
renaming rules, see :func:`rename_keys`), and the load is strict by default. Supporting the next
release (SAFMN's, Restormer's) needs only that classmethod.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from toolkit.errors import CheckpointError

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process umask (os.umask can only be read by setting it)

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "load_weights",
    "LoadReport",
    "is_toolkit_checkpoint",
    "rename_keys",
    "rng_state",
    "set_rng_state",
    "clean_state_dict",
]


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
        with warnings.catch_warnings():  # torch warns about the pickle protocol of files it then refuses
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, pickle refused by weights_only, ...
        raise CheckpointError(
            f"cannot read checkpoint {path}: {_unreadable(path, exc)}; a checkpoint is a file written by torch.save"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a toolkit checkpoint (got a {type(state).__name__})")
    return state


def _unreadable(path: Path, exc: Exception) -> str:
    """Why torch.load refused ``path``, in a few words (torch's own text advises unsafe loading: never shown)."""
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        return "the file is empty"
    refused = re.search(r"GLOBAL ([\w.]+)", str(exc))
    if refused:  # a pickled object of some class: unpickling it would import and call code named by the file
        return (
            f"it holds Python objects other than tensors and plain values ({refused[1]}), refused unread: "
            "loading them could run code from the file"
        )
    if head.startswith(b"PK\x03\x04"):
        return "a damaged or truncated zip archive, or one that torch.save did not write"
    return f"not a checkpoint (the file starts with {head!r})"


# entries holding the weights in other code bases' files, in the order they are looked for
_RELEASE_KEYS = ("params_ema", "params", "state_dict")


def is_toolkit_checkpoint(state: dict[str, Any]) -> bool:
    """Whether ``state`` has this toolkit's layout: a ``model`` state dict (full or weights-only checkpoint)."""
    return isinstance(state.get("model"), dict)


def rename_keys(
    state: dict[str, torch.Tensor], rules: list[tuple[re.Pattern, str]], where: str
) -> dict[str, torch.Tensor]:
    """Rename every key of ``state`` by the first rule whose pattern matches the whole key.

    Args:
        state: a released state dict.
        rules: ``(compiled pattern, replacement)`` pairs, tried in order (``re.fullmatch`` and ``expand``).
        where: the mapping's name for messages, e.g. ``'CAMixerSR.from_release'``.

    Raises:
        CheckpointError: a key no rule matches, or two keys mapped to one name.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        match = next(((m, repl) for pat, repl in rules if (m := pat.fullmatch(key))), None)
        if match is None:
            raise CheckpointError(f"{where} has no rule for the key {key!r} (is this a checkpoint of that model?)")
        new = match[0].expand(match[1])
        if new in out:
            raise CheckpointError(f"{where} maps two keys onto {new!r}; the second is {key!r}")
        out[new] = value
    return out


@dataclass
class LoadReport:
    """What :func:`load_weights` loaded: the entry used, the name mapping, and the keys that did not match."""

    path: str
    source: str  # the entry the weights came from: 'model', 'ema', 'params_ema', 'params', 'state_dict', 'bare'
    released: bool  # written by another code base (not a toolkit checkpoint)
    mapping: str | None  # e.g. 'CAMixerSR.from_release'; None when the names were used as they are
    loaded: int
    total: int  # tensors in the model's state dict
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # 'key: checkpoint (..) vs model (..)'

    def __iter__(self):  # (missing, unexpected, shape-mismatched keys), as load_weights returned before
        return iter((self.missing, self.unexpected, [m.split(":")[0] for m in self.mismatched]))

    def summary(self) -> str:
        """One line: what was loaded from where, and every kind of key that did not match (first few of each)."""
        how = f"{self.source}" + (f", names mapped by {self.mapping}" if self.mapping else "")
        parts = [f"loaded {self.loaded} of {self.total} tensors from {self.path} ({how})"]
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected), ("shape", self.mismatched)):
            parts.append(f"{len(keys)} {label if label != 'shape' else 'with other shapes'}" + _first(keys))
        return "; ".join(parts)


def _first(keys: list[str], n: int = 4) -> str:
    return f" {keys[:n]}{'...' if len(keys) > n else ''}" if keys else ""


def _weights_from(
    state: dict[str, Any], path: str | Path, key: str | None, prefer_ema: bool
) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict inside a checkpoint and the entry it came from (see :func:`load_weights`)."""
    entries = [k for k, v in state.items() if isinstance(v, dict) and v and all(torch.is_tensor(t) for t in v.values())]
    if key is not None:
        if key not in entries:
            raise CheckpointError(f"{path} has no weights under {key!r}; entries holding weights: {entries or 'none'}")
        return state[key], key
    if is_toolkit_checkpoint(state):
        if prefer_ema and state.get("ema") is not None:
            return state["ema"], "ema"
        return state["model"], "model"
    for name in _RELEASE_KEYS:
        if name in entries:
            return state[name], name
    if state and all(torch.is_tensor(v) for v in state.values()):
        return state, "bare"
    raise CheckpointError(
        f"{path}: no weights found (looked for a toolkit checkpoint, the entries {list(_RELEASE_KEYS)} and a bare "
        f"state dict; entries holding weights: {entries or 'none'}); name one with the weights key option"
    )


def load_weights(
    model: nn.Module,
    path: str | Path,
    *,
    strict: bool = True,
    prefer_ema: bool = False,
    state: dict[str, Any] | None = None,
    key: str | None = None,
) -> LoadReport:
    """Load model weights from a toolkit checkpoint or a released file; returns a :class:`LoadReport`.

    With ``strict=True`` (evaluation, released weights) any missing, unexpected or differently
    shaped tensor raises CheckpointError naming the first keys and shapes; with ``strict=False``
    (``--load-from`` a toolkit checkpoint) matching tensors are loaded and the rest reported.

    Args:
        state: the checkpoint ``path`` already loaded (not read again).
        prefer_ema: from a toolkit checkpoint, the EMA weights when it has them.
        key: the entry holding the weights (``'params'``, ``'params_ema'``, ``'model'``, ``'ema'``, ...);
            default: ``ema``/``model`` for toolkit checkpoints; ``params_ema``, ``params``, ``state_dict``
            or the bare dict for released files.

    Names are mapped by ``type(model).from_release`` when the model class defines it and none of the
    file's names is one of the model's (a file of the authors' code base); otherwise they are used as
    they are (after removing DDP / torch.compile prefixes).
    """
    state = state if state is not None else load_checkpoint(path)
    weights, source = _weights_from(state, path, key, prefer_ema)
    released = not is_toolkit_checkpoint(state)
    weights = clean_state_dict(weights)
    own = model.state_dict()
    mapper = getattr(type(model), "from_release", None)
    mapping = None
    if mapper is not None and not any(k in own for k in weights):
        mapping = f"{type(model).__name__}.from_release"
        try:
            weights = mapper(weights)
        except CheckpointError as exc:
            raise CheckpointError(f"{path} ({source}): {exc}") from None
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    mismatched = [
        f"{k}: checkpoint {tuple(weights[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in weights and hasattr(weights[k], "shape") and weights[k].shape != own[k].shape
    ]
    bad = {m.split(":")[0] for m in mismatched}
    loaded = len(own) - len(missing) - len(bad)
    report = LoadReport(str(path), source, released, mapping, loaded, len(own), missing, unexpected, mismatched)
    if strict and (missing or unexpected or mismatched):
        detail = "; ".join(
            part
            for part in (
                f"{len(missing)} missing{_first(missing)}" if missing else "",
                f"{len(unexpected)} unexpected{_first(unexpected)}" if unexpected else "",
                f"shape mismatch {mismatched[:3]}" if mismatched else "",
            )
            if part
        )
        what = f"{source}, names mapped by {mapping}" if mapping else f"{source}; a checkpoint of a different config?"
        raise CheckpointError(f"{path} does not match this model ({what}): {detail}")
    model.load_state_dict({k: v for k, v in weights.items() if k in own and k not in bad}, strict=False)
    return report


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
