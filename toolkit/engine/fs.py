"""File-system checks made before a run writes anything, and the message a failed write leaves behind.

A run writes into its folder for hours. A folder it cannot write into (read-only, immutable, a file where a
folder should be, a full disk) should stop it at the start with one line, not at the first checkpoint; and a
write that fails later should say what the run folder still holds and how to continue.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from toolkit.errors import CheckpointError, ConfigError

__all__ = ["check_writable", "write_failed"]


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def check_writable(folder: str | Path, *, what: str = "run folder", need_bytes: int = 0) -> None:
    """Raise unless files can be created in ``folder``, with at least ``need_bytes`` free on its disk.

    A folder that does not exist yet is checked where it would be created: in its nearest existing parent.
    The check creates and removes one empty file there (permissions alone do not tell: the superuser
    ignores them, while read-only mounts and immutable folders refuse everyone).

    Args:
        folder: the run folder (``--resume``) or the root runs are created under (``work_dir``).
        what: how messages name ``folder``, e.g. ``'work_dir'``.
        need_bytes: free space required, e.g. the size of one checkpoint; 0 skips the space check.

    Raises:
        ConfigError: naming ``folder``, the path that refused and the reason.
    """
    folder = Path(folder)
    target = folder
    while not target.exists() and not target.is_symlink() and target.parent != target:
        target = target.parent
    if not target.is_dir():
        raise ConfigError(f"{what} {folder}: {target} is a file, not a folder; choose another folder")
    if not os.access(target, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{what} {folder}: {target} is not writable (read-only or no permission); nothing was written"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".write_check.", dir=target)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            f"{what} {folder}: cannot create files in {target}: {exc.strerror or exc}; nothing was written"
        ) from None
    if need_bytes > 0:
        free = shutil.disk_usage(target).free
        if free < need_bytes:
            raise ConfigError(
                f"{what} {folder}: {_mb(free)} free on its disk, but a checkpoint needs about {_mb(need_bytes)}; "
                "free some space or choose another folder"
            )


def write_failed(path: str | Path, exc: BaseException, run_dir: str | Path) -> CheckpointError:
    """The error to raise when writing ``path`` in ``run_dir`` failed: the reason, what the folder keeps, what next.

    ``raise write_failed(path, exc, run_dir) from None`` turns an ``OSError`` (full disk, folder made read-only)
    or torch's ``RuntimeError`` ("file write failed") into one line such as ``cannot write .../last.pt: No space
    left on device. The run folder keeps checkpoints/best.pt (1.2 MB, 14:02:11), checkpoints/last.pt (1.2 MB,
    14:02:11) and metrics.jsonl (35 records); once it can be written again: --resume .../last.pt``. Checkpoints
    are written atomically, so the files listed are complete.
    """
    path, run_dir = Path(path), Path(run_dir)
    reason = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    kept = []
    for name in ("checkpoints/best.pt", "checkpoints/last.pt"):
        f = run_dir / name
        if f.is_file():
            stamp = time.strftime("%H:%M:%S", time.localtime(f.stat().st_mtime))
            kept.append(f"{name} ({_mb(f.stat().st_size)}, {stamp})")
    log = run_dir / "metrics.jsonl"
    if log.is_file():
        with open(log, "rb") as f:
            kept.append(f"metrics.jsonl ({sum(1 for line in f if line.strip())} records)")
    held = ", ".join(kept[:-1]) + (" and " if len(kept) > 1 else "") + kept[-1] if kept else "no checkpoint yet"
    last = run_dir / "checkpoints" / "last.pt"
    then = f"--resume {last}" if last.is_file() else "start the run again"
    return CheckpointError(
        f"cannot write {path}: {reason}. The run folder {run_dir} keeps {held}; once it can be written again: {then}"
    )
