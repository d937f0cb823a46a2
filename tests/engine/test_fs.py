"""check_writable refuses a folder a run could not write into, before anything is written; write_failed says
what a run folder keeps after a failed write. The tests run as any user: refusals are injected (the superuser
ignores permissions), except a file standing where a folder should be."""

from __future__ import annotations

import errno
import os
from collections import namedtuple

import pytest

from toolkit.engine import fs
from toolkit.engine.fs import check_writable, write_failed
from toolkit.errors import CheckpointError, ConfigError


def test_a_writable_folder_passes_and_nothing_is_left(tmp_path):
    check_writable(tmp_path)
    check_writable(tmp_path / "runs" / "simvp_tiny")  # not there yet: checked where it would be created
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_a_folder_should_be(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=rf"work_dir {blocker}/runs: {blocker} is a file, not a folder"):
        check_writable(blocker / "runs", what="work_dir")
    assert blocker.read_text() == "x"


def test_a_read_only_folder(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    real = os.access
    monkeypatch.setattr(fs.os, "access", lambda p, mode: False if str(p) == str(run) else real(p, mode))
    with pytest.raises(ConfigError, match=rf"run folder {run}: {run} is not writable .*nothing was written"):
        check_writable(run)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EPERM, errno.ENOSPC])
def test_a_folder_that_refuses_new_files(tmp_path, monkeypatch, code):
    # os.access may say yes (the superuser) while the file system says no (read-only mount, chattr +i, no inodes)
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fs.tempfile, "mkstemp", refuse)
    with pytest.raises(ConfigError, match=rf"cannot create files in {tmp_path}: {os.strerror(code)}"):
        check_writable(tmp_path)


def test_too_little_free_space(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(fs.shutil, "disk_usage", lambda p: usage(10 * 2**20, 9 * 2**20, 2**20))
    check_writable(tmp_path, need_bytes=2**19)
    with pytest.raises(ConfigError, match=r"1.0 MB free on its disk, but a checkpoint needs about 3.0 MB"):
        check_writable(tmp_path, need_bytes=3 * 2**20)


def test_write_failed_says_what_the_run_folder_keeps(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    target = run / "checkpoints" / "last.pt"
    err = write_failed(target, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), run)
    assert isinstance(err, CheckpointError)
    assert str(err) == (
        f"cannot write {target}: No space left on device. The run folder {run} keeps no checkpoint yet; "
        "once it can be written again: start the run again"
    )
    (run / "checkpoints" / "best.pt").write_bytes(b"0" * 2**20)
    target.write_bytes(b"0" * 2**20)
    (run / "metrics.jsonl").write_text('{"iter": 1}\n{"iter": 2}\n')
    torch_error = RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0\nmore")
    msg = str(write_failed(target, torch_error, run))
    assert msg.startswith(f"cannot write {target}: [enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0.")
    assert "keeps checkpoints/best.pt (1.0 MB, " in msg and "checkpoints/last.pt (1.0 MB, " in msg
    assert msg.endswith(f"and metrics.jsonl (2 records); once it can be written again: --resume {target}")
    assert "\n" not in msg
