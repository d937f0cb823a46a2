"""Resuming a run: find the checkpoint, check that it can continue this config, and say where the run goes.

Everything here only reads. The Trainer touches the run folder after the checkpoint has been checked
and loaded into the model, so a failed ``--resume`` leaves every existing run folder as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.config import Config
from toolkit.engine.runlog import latest_run_dir
from toolkit.errors import CheckpointError

__all__ = ["resolve_resume", "check_resumable", "saved_config", "check_task"]

# what a checkpoint written by the Trainer holds; a weights-only file lacks the training state
_TRAINING_KEYS = ("model", "optimizer", "iter", "epoch", "rng", "config")


def resolve_resume(resume: str, root: Path, stem: str) -> tuple[Path | None, Path | None]:
    """``(checkpoint, run folder)`` for ``--resume auto|RUN_FOLDER|CHECKPOINT``.

    The run folder is the one the checkpoint lies in (``<run>/checkpoints/<name>.pt`` beside
    ``<run>/config.py``); a checkpoint anywhere else continues in a new run folder (``None``).
    ``auto`` with no checkpoint yet (a first start, or a run killed before its first checkpoint)
    gives ``(None, None)``: a new run, so that a job scheduler can always pass ``--resume auto``.
    """
    if resume == "auto":
        run = latest_run_dir(root, stem)
        return (None, None) if run is None else (run / "checkpoints" / "last.pt", run)
    path = Path(resume)
    if path.is_dir():  # a run folder
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise CheckpointError(f"--resume: checkpoint not found: {path}")
    run = path.resolve().parent.parent
    in_run = path.resolve().parent.name == "checkpoints" and (run / "config.py").is_file()
    return path, (run if in_run else None)


def saved_config(state: dict[str, Any], path: Path | str, option: str = "--resume") -> dict[str, Any] | None:
    """The config a checkpoint was trained with (``None`` when it holds none, as released weights).

    A checkpoint is data from outside: its ``config`` entry must be what the Trainer saves, a dict with a
    task name and a model spec, before any value of it is compared or used.
    """
    saved = state.get("config")
    if saved is None:
        return None
    if not isinstance(saved, dict):
        raise CheckpointError(
            f"{option} {path}: its 'config' entry is a {type(saved).__name__}, not the config dict the Trainer saves"
        )
    task, model = saved.get("task"), saved.get("model")
    if not isinstance(task, str) or not task:
        raise CheckpointError(f"{option} {path}: its config's task {_short(task)} is not a task name")
    if not isinstance(model, dict) or not isinstance(model.get("type"), str):
        raise CheckpointError(
            f"{option} {path}: its config's model {_short(model)} is not a model spec (a dict with a 'type')"
        )
    return saved


def check_task(
    state: dict[str, Any], path: Path | str, cfg: Config, option: str = "--checkpoint"
) -> dict[str, Any] | None:
    """Refuse a checkpoint trained for another task than ``cfg``'s (evaluation, inference); return its config.

    Weights released by another code base (no ``model`` state dict) have no config of this toolkit to check:
    ``None``, and strict loading checks their tensors.
    """
    from toolkit.engine.task import task_module

    if not isinstance(state.get("model"), dict):
        return None
    saved = saved_config(state, path, option)
    ours = cfg.get("task")
    if saved is not None and isinstance(ours, str) and task_module(saved["task"]) != task_module(ours):
        raise CheckpointError(
            f"{option} {path} is of task {saved['task']!r}, the config ({cfg.get('_source_', 'config')}) of task "
            f"{ours!r}; use the config it was trained with (config.py in its run folder)"
        )
    return saved


def check_resumable(state: dict[str, Any], path: Path, cfg: Config) -> None:
    """Refuse a checkpoint that cannot continue ``cfg``: weights only, another task or another model."""
    missing = [k for k in _TRAINING_KEYS if state.get(k) is None]
    if missing:
        raise CheckpointError(
            f"--resume {path}: not a training checkpoint (no {', '.join(missing)}); "
            "to start from its weights use --load-from"
        )
    saved = saved_config(state, path)
    if not isinstance(state["iter"], int) or isinstance(state["iter"], bool) or state["iter"] < 0:
        raise CheckpointError(f"--resume {path}: its iteration counter {state['iter']!r} is not a count")
    for key, ours in (("task", cfg.get("task")), ("model", (cfg.get("model") or {}).get("type"))):
        theirs = saved["task"] if key == "task" else saved["model"]["type"]
        if theirs != ours:
            raise CheckpointError(
                f"--resume {path}: the checkpoint is of {key} {theirs!r}, this config "
                f"({cfg.get('_source_', 'config')}) of {key} {ours!r}; resume with the config it was trained with"
            )


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
