"""The run folder and everything written into it: config, command, environment, logs, pictures.

``work_dirs/<config-stem>/<timestamp>/`` holds ``config.py`` and ``config.json`` (resolved),
``cmd.txt``, ``env.txt``, ``log.txt``, ``metrics.jsonl``, ``tb/`` (TensorBoard), ``checkpoints/``
and ``vis/``; with the optional trackers enabled (``toolkit/engine/trackers.py``) also ``trackers.json``
and ``mlflow.db`` or ``wandb/``. Only rank 0 writes; other ranks get a logger that prints nothing.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.engine.pictures import enlarge
from toolkit.engine.trackers import open_trackers
from toolkit.errors import ConfigError

__all__ = ["RunLog", "new_run_dir", "latest_run_dir", "environment_report", "save_picture"]


def save_picture(img: np.ndarray, stem: Path) -> Path:
    """Save uint8 (H, W, 3) as ``<stem>.png``, or (F, H, W, 3) frames as a looping ``<stem>.gif`` (4 fps).

    A picture under 256 px on its short side is enlarged first (whole factor, nearest neighbour).
    """
    from PIL import Image

    img = np.ascontiguousarray(enlarge(img))
    if img.ndim == 4:
        path = stem.with_name(stem.name + ".gif")
        frames = [Image.fromarray(f) for f in img]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=250, loop=0)
    else:
        path = stem.with_name(stem.name + ".png")
        Image.fromarray(img).save(path)
    return path


def _step_of(line: str) -> float:
    try:
        return float(json.loads(line).get("iter", 0))
    except (ValueError, AttributeError):
        return float("inf")  # a line cut by a kill: dropped


def new_run_dir(work_dir: str | Path, config_stem: str) -> Path:
    """Create and return a fresh ``<work_dir>/<config_stem>/<timestamp>`` folder (suffixed if taken).

    The folder is claimed with an atomic ``mkdir``, so two runs started in the same second never share it.
    """
    base = Path(work_dir) / config_stem
    stamp = time.strftime("%Y%m%d_%H%M%S")
    try:
        base.mkdir(parents=True, exist_ok=True)
        for i in itertools.count(1):
            path = base / (stamp if i == 1 else f"{stamp}_{i}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    except OSError as exc:
        raise ConfigError(f"work_dir {work_dir}: cannot create a run folder in {base}: {exc.strerror or exc}") from None
    raise AssertionError("unreachable")


def latest_run_dir(work_dir: str | Path, config_stem: str, checkpoint: str = "last.pt") -> Path | None:
    """The newest run of ``config_stem`` that has ``checkpoints/<checkpoint>``, or ``None``."""
    base = Path(work_dir) / config_stem
    runs = sorted(p.parent.parent for p in base.glob(f"*/checkpoints/{checkpoint}"))
    return runs[-1] if runs else None


def environment_report() -> str:
    """Python, torch, CUDA, package versions and the git commit, for ``env.txt``."""
    import torch

    lines = [
        f"python: {sys.version.split()[0]} ({platform.platform()})",
        f"torch: {torch.__version__}",
        f"cuda available: {torch.cuda.is_available()}",
    ]
    if torch.cuda.is_available():
        lines.append(f"cuda: {torch.version.cuda}, device: {torch.cuda.get_device_name(0)}")
    # versions from the installed distributions' metadata: pytorch_msssim has no __version__, and nothing is imported
    for name in ("numpy", "albumentations", "kornia", "pytorch-msssim", "scikit-learn", "scipy"):
        try:
            lines.append(f"{name}: {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{name}: not installed")
    try:
        root = Path(__file__).resolve().parents[2]
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        lines.append(f"git: {commit or 'unknown'}{' (uncommitted changes)' if dirty else ''}")
    except (OSError, subprocess.SubprocessError):
        lines.append("git: unknown")
    return "\n".join(lines) + "\n"


class RunLog:
    """Text log, JSON-lines metrics, TensorBoard scalars and images, PNG pictures; rank 0 only."""

    def __init__(
        self, run_dir: Path | None, *, enabled: bool = True, tensorboard: bool = True, resume_step: int | None = None
    ):
        """Open the run folder's logs; ``resume_step`` continues a run whose last checkpoint is at that step.

        On resume, records logged after ``resume_step`` (by a run killed before its next checkpoint) are
        dropped from ``metrics.jsonl`` and TensorBoard, since the resumed run logs those steps again,
        and temporary checkpoint files left by a kill are removed.
        """
        self.run_dir = run_dir
        self.enabled = enabled and run_dir is not None
        self._tb = None
        self._trackers: list[Any] = []  # MLflow / W&B, started by write_setup when the config enables them
        if self.enabled:
            for sub in ("checkpoints", "vis", "tb"):
                (run_dir / sub).mkdir(parents=True, exist_ok=True)
            if resume_step is not None:
                self._rewind(resume_step)
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter

                    self._tb = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step)
                except ImportError:  # tensorboard is a dependency, but do not fail a run over logging
                    self._tb = None

    def _rewind(self, step: int) -> None:
        for tmp in (self.run_dir / "checkpoints").glob(".*.tmp"):  # a write interrupted by a kill
            tmp.unlink(missing_ok=True)
        path = self.run_dir / "metrics.jsonl"
        if not path.is_file():
            return
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if _step_of(line) <= step]
        if len(kept) != len(lines):
            tmp = path.with_name(".metrics.jsonl.tmp")
            tmp.write_text("".join(kept))
            tmp.replace(path)

    def write_setup(self, cfg: Any, argv: list[str]) -> None:
        if not self.enabled:
            return
        cfg.dump(self.run_dir / "config.py")
        cfg.dump(self.run_dir / "config.json")
        with open(self.run_dir / "cmd.txt", "a") as f:
            f.write(" ".join(shlex.quote(a) for a in argv) + "\n")
        (self.run_dir / "env.txt").write_text(environment_report())
        self._trackers = open_trackers(cfg, self.run_dir, self.info)  # logs the flattened config as parameters

    echo = None  # how lines reach the terminal (a progress bar sets its own writer); None = print

    def info(self, msg: str, *, echo: bool = True) -> None:
        """``msg`` with the time to ``log.txt``, and to the terminal unless ``echo=False``."""
        if not self.enabled:
            return
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        if echo:
            (self.echo or _print)(line)
        with open(self.run_dir / "log.txt", "a") as f:
            f.write(line + "\n")

    def metrics(self, record: dict[str, Any], *, prefix: str, step: int) -> None:
        if not self.enabled:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"split": prefix, "iter": step, **record}) + "\n")
        scalars = {
            f"{prefix}/{key}": value
            for key, value in record.items()
            if isinstance(value, (int, float)) and key not in ("iter", "epoch")
        }
        if self._tb is not None:
            for key, value in scalars.items():
                self._tb.add_scalar(key, value, step)
        for tracker in self._trackers:
            tracker.log_metrics(scalars, step)

    def images(self, pictures: dict[str, np.ndarray], *, step: int, tag: str = "val") -> list[Path]:
        """Write ``{name: uint8 (H, W, 3) or frames (F, H, W, 3)}`` to vis/ (PNG or GIF) and TensorBoard."""
        if not self.enabled or not pictures:
            return []
        paths = []
        for name, img in pictures.items():
            img = enlarge(img)  # a no-op at 256 px and more: the Tasks draw their pictures at a visible size
            paths.append(save_picture(img, self.run_dir / "vis" / f"{tag}_iter{step:07d}_{name}"))
            if self._tb is not None:  # an animation is logged as its last frame (the full prediction)
                self._tb.add_image(f"{tag}/{name}", img[-1] if img.ndim == 4 else img, step, dataformats="HWC")
        return paths

    def close(self, status: str = "FINISHED") -> None:
        """Flush TensorBoard; end the trackers' runs (``status`` FINISHED, FAILED or KILLED) with the
        checkpoints' paths as tags. A second call does nothing."""
        trackers, self._trackers = self._trackers, []
        errors = []
        for tracker in trackers:  # every tracker is ended even when one of them fails
            try:
                tracker.finish(status)
            except Exception as exc:  # noqa: BLE001 - raised below, after the others and TensorBoard
                errors.append(exc)
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None
        if errors:
            raise errors[0]


def _print(line: str) -> None:
    print(line, flush=True)
