"""Bad input: one ``error:`` line naming the file, key or value, exit status 2, no traceback, nothing damaged.

Every case runs a real tool (``tools/train.py``, ``eval.py``, ``infer.py``) in this process through runpy, as
tests/tools/test_cli_errors.py does, next to one tiny trained restoration run. After every case no file that
existed before has changed, and a case refused before training wrote no file at all. Should a case be accepted
by mistake, it trains one step only. docs/reliability.md shows this table with the messages printed
(``python tests/reliability/test_bad_input.py`` prints it, running each case as a real process).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import hashlib
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
VIDEO = "tasks/video_pred/simvp_tiny.py"
CLIPS = "tasks/video_pred/clips_example.py"
SIRST = "tasks/sirst/dnanet_tiny.py"
SR = "tasks/restoration/safmn_tiny.py"
ONE_STEP = ["train.max_iters=1", "train.val_interval=1"]
TINY_CLIPS = ["train.batch_size=2", "eval.batch_size=2", "model.hid_S=4", "model.hid_T=8", "model.N_T=2"]
TINY_SIRST = ["train.batch_size=2", "data.crop_size=16", "data.base_size=16", "data.layout=folder"]


@dataclass
class Files:
    """What the cases point at: the work dir with one trained run, bad configs, data and checkpoints."""

    tmp: Path  # everything below; hashed before and after each case
    work: Path  # the work dir holding the trained run
    run: Path  # the trained restoration run folder
    bad: Path  # bad configs, data and checkpoints

    def cfg(self, name: str, text: str, base: str = VIDEO) -> str:
        path = self.bad / f"{name}.py"
        path.write_text(f"_base_ = [{str(ROOT / base)!r}]\n{text}\n")
        return str(path)

    @property
    def ckpt(self) -> str:
        return str(self.run / "checkpoints" / "best.pt")


def _png(path: Path, size: int = 16, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)).save(path)


def make_files(tmp: Path) -> Files:
    from toolkit.config import load_config
    from toolkit.engine import Trainer

    trainer = Trainer(load_config(ROOT / SR, ONE_STEP), work_dir=tmp / "work")
    trainer.train()
    f = Files(tmp=tmp, work=tmp / "work", run=trainer.run_dir, bad=tmp / "bad")
    f.bad.mkdir()
    state = torch.load(f.ckpt, weights_only=True)
    torch.save({"model": state["model"]}, f.bad / "weights_only.pt")
    torch.save({**state, "config": {**state["config"], "task": "sirst"}}, f.bad / "crafted_task.pt")
    torch.save({**state, "iter": "12; rm -rf /"}, f.bad / "crafted_iter.pt")
    (f.bad / "text.pt").write_text("not a checkpoint\n")
    (f.bad / "cut.pt").write_bytes(Path(f.ckpt).read_bytes()[:20_000])
    (f.bad / "a_file").write_text("a regular file")
    for c in range(10):  # ten clips of ten 16x16 frames; clip 8 is the validation split of clips_example's ratios
        for t in range(10):
            _png(f.bad / "clips" / f"clip{c}" / f"f{t}.png", seed=10 * c + t)
    frame = f.bad / "clips" / "clip8" / "f3.png"
    frame.write_bytes(frame.read_bytes()[:-120])  # cut inside the pixel data
    for i in range(4):  # SIRST in the folder layout: float TIFF images, one NaN pixel in the second
        img = np.random.default_rng(i).random((24, 24)).astype(np.float32)
        if i == 1:
            img[5, 7] = np.nan
        (f.bad / "sirst" / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(f.bad / "sirst" / "images" / f"im{i}.tif")
        _png(f.bad / "sirst" / "masks" / f"im{i}.png", size=24, seed=i)
    _png(f.bad / "photos" / "p.png", size=24)
    return f


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    return make_files(tmp_path_factory.mktemp("bad_input"))


# ----------------------------------------------------------------------------- the cases


def _train(config: str, *sets: str) -> Callable[[Files], list[str]]:
    return lambda f: ["tools/train.py", config, *(["--set", *sets] if sets else [])]


def _resume(checkpoint: Callable[[Files], str], config: str = SR) -> Callable[[Files], list[str]]:
    return lambda f: ["tools/train.py", config, "--work-dir", str(f.work), "--resume", checkpoint(f)]


def _infer(*extra: str, src: str = "photos") -> Callable[[Files], list[str]]:
    return lambda f: ["tools/infer.py", str(f.run / "config.py"), "--checkpoint", f.ckpt,
                      "--input", str(f.bad / src), "--out", str(f.tmp / "restored"), *extra]  # fmt: skip


def _read_only(monkeypatch, f: Files) -> None:
    """The run folder refuses writes as a read-only mount would (the superuser ignores permissions)."""
    real_access, real_mkstemp = os.access, tempfile.mkstemp

    def access(path, mode, *args, **kwargs):
        return False if str(path).startswith(str(f.run)) else real_access(path, mode, *args, **kwargs)

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and str(dir).startswith(str(f.run)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def _quick_worker_exit(monkeypatch, f: Files) -> None:
    """Not a fault: a DataLoader freed in-process waits up to MP_STATUS_CHECK_INTERVAL (5 s) for a worker that
    raised to exit; a process that ends does not wait. Shortened to keep the suite fast."""
    import torch.utils.data._utils as loader_utils

    monkeypatch.setattr(loader_utils, "MP_STATUS_CHECK_INTERVAL", 0.2)


def _full_disk(monkeypatch, f: Files) -> None:
    """The first checkpoint write finds the disk full (what torch.save raises on /dev/full)."""

    def save(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", save)


@dataclass
class Case:
    name: str
    argv: Callable[[Files], list[str]]
    message: str  # part of the one error line
    writes: bool = False  # refused after the run folder was made: new files allowed, changed ones never
    inject: Callable | None = None  # (monkeypatch, files) before the command: a fault of the machine, or speed
    pending: str = ""  # why the case fails today (strict xfail: it fails loudly once fixed, to drop the mark)


CASES = [
    # ---- config files and --set
    Case("unknown key in a config file", lambda f: ["tools/train.py", f.cfg("typo", "train = dict(max_iter=100)")],
         "typo.py:2: train.max_iter: no key 'max_iter' in train, which the _base_ configs define"),
    Case("unknown nested key (data)", lambda f: ["tools/train.py", f.cfg("typo2", "data = dict(digit_sise=7)")],
         "typo2.py:2: data.digit_sise: no key 'digit_sise' in data"),
    Case("200,000-term sum", lambda f: ["tools/train.py", f.cfg("sum", "x = " + " + ".join(["1"] * 200_000))],
         "sum.py:2: expression too deeply nested to parse"),
    Case("150-term sum", lambda f: ["tools/train.py", f.cfg("sum150", "x = " + " + ".join(["1"] * 150))],
         "sum150.py:2: expression nested deeper than 100 levels"),
    Case("x = 10 ** 10 ** 9", lambda f: ["tools/train.py", f.cfg("pow", "x = 10 ** 10 ** 9")],
         "pow.py:2: 10 ** 1000000000 has about 3,000,000,000 bits; configs allow 4096"),
    Case("x = [0] * 10 ** 9", lambda f: ["tools/train.py", f.cfg("rep", "x = [0] * 10 ** 9")],
         "rep.py:2: repeats a sequence 1000000000 times"),
    Case("task = '../../x'", lambda f: ["tools/train.py", f.cfg("task_path", "task = '../../x'")],
         "task = '../../x' is not a task name"),
    Case("task = 'my-task'", lambda f: ["tools/train.py", f.cfg("task_dash", "task = 'my-task'")],
         "task = 'my-task' is not a task name"),
    Case("task = 'nosuch'", lambda f: ["tools/train.py", f.cfg("task_none", "task = 'nosuch'")],
         "task 'nosuch': no package tasks/nosuch/"),
    Case("import in a config", lambda f: ["tools/train.py", f.cfg("imp", "import os")],
         "imp.py:2: imports are not allowed in config files"),
    Case("syntax error in a config", lambda f: ["tools/train.py", f.cfg("syn", "x = (1,")], "syn.py:2: syntax error"),
    Case("config file missing", _train("tasks/video_pred/simvp_tny.py"),
         "config file not found: tasks/video_pred/simvp_tny.py"),
    Case("--set unknown key", _train(VIDEO, "train.max_iter=5"),
         "override train.max_iter: no key 'max_iter' in the config. Did you mean max_iters"),
    Case("--set wrong type", _train(VIDEO, "train.max_iters=ten"),
         "override train.max_iters: expected int like the default 1, got str 'ten'"),
    Case("train.batch_size=-1", _train(VIDEO, "train.batch_size=-1"),
         "train.batch_size must be a positive whole number, got -1"),
    Case("train.max_iters=0", _train(VIDEO, "train.max_iters=0"),
         "train.max_iters must be a positive whole number, got 0"),
    Case("model.type typo", _train(VIDEO, "model.type=simvpp"), "unknown type 'simvpp'. Did you mean 'simvp'"),
    # ---- data
    Case("truncated clip frame, DataLoader worker",
         lambda f: _train(CLIPS, f"data.path={f.bad / 'clips'}", *TINY_CLIPS, "eval.num_workers=1")(f),
         "clip8/f3.png: image file is truncated", writes=True, inject=_quick_worker_exit),
    Case("truncated clip frame, no workers",
         lambda f: _train(CLIPS, f"data.path={f.bad / 'clips'}", *TINY_CLIPS, "eval.num_workers=0")(f),
         "clip8/f3.png: image file is truncated", writes=True),
    Case("NaN pixel in a float TIFF (SIRST)", lambda f: _train(SIRST, f"data.root={f.bad / 'sirst'}", *TINY_SIRST)(f),
         "im1.tif: 1 NaN or infinite pixel(s) of 576 (first at row 5, column 7)"),
    Case("clip folder missing", lambda f: _train(CLIPS, f"data.path={f.bad / 'none'}")(f), "none: not found"),
    # ---- inference
    Case("infer --tile 16 --tile-overlap 32", _infer("--tile", "16", "--tile-overlap", "32"),
         "--tile-overlap 32 must be smaller than --tile 16"),
    Case("infer --tile-overlap -1", _infer("--tile", "16", "--tile-overlap", "-1"),
         "--tile 16 and --tile-overlap -1: the tile must be positive, the overlap >= 0"),
    Case("infer --tile-overlap 600 (automatic tile)", _infer("--tile-overlap", "600"),
         "--tile-overlap 600 must be smaller than automatic tile 512"),
    Case("infer --input missing", _infer(src="nope"), "nope does not exist"),
    Case("infer --out under a regular file", lambda f: [*_infer()(f)[:-2], "--out", str(f.bad / "a_file" / "out")],
         "a_file"),
    # ---- checkpoints, resume, run folders
    Case("--resume a run of another task", _resume(lambda f: f.ckpt, VIDEO),
         "the checkpoint is of task 'restoration', this config (tasks/video_pred/simvp_tiny.py) of task 'video_pred'"),
    Case("--resume a weights-only checkpoint", _resume(lambda f: str(f.bad / "weights_only.pt")),
         "not a training checkpoint (no optimizer, iter, epoch, rng, config); to start from its weights use"),
    Case("--resume a checkpoint with a crafted task", _resume(lambda f: str(f.bad / "crafted_task.pt")),
         "the checkpoint is of task 'sirst'"),
    Case("--resume a checkpoint with a crafted iter", _resume(lambda f: str(f.bad / "crafted_iter.pt")),
         "its iteration counter '12; rm -rf /' is not a count"),
    Case("--resume a text file", _resume(lambda f: str(f.bad / "text.pt")), "cannot read checkpoint"),
    Case("--resume a cut checkpoint", _resume(lambda f: str(f.bad / "cut.pt")), "cannot read checkpoint"),
    Case("--resume a missing file", _resume(lambda f: str(f.bad / "none.pt")), "checkpoint not found"),
    Case("eval a text file",
         lambda f: ["tools/eval.py", str(f.run / "config.py"), "--checkpoint", str(f.bad / "text.pt")],
         "cannot read checkpoint"),
    Case("work dir under a regular file",
         lambda f: ["tools/train.py", SR, "--work-dir", str(f.bad / "a_file" / "runs")], "is a file, not a folder"),
    Case("--resume into a read-only run folder", _resume(lambda f: str(f.run)), "is not writable", inject=_read_only),
    Case("full disk at the first checkpoint", _train(SR), "No space left on device. The run folder", writes=True,
         inject=_full_disk),
]  # fmt: skip


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def command(case: Case, f: Files, work: Path) -> list[str]:
    argv = case.argv(f)
    if argv[0] == "tools/train.py":
        argv[2:2] = ["--set", *ONE_STEP]  # the case's own --set come later and win
        if "--work-dir" not in argv:
            argv += ["--work-dir", str(work)]
    return argv


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.xfail(reason=c.pending, strict=True)) if c.pending else c for c in CASES],
    ids=[c.name for c in CASES],
)
def test_bad_input_is_one_line_and_damages_nothing(case, files, monkeypatch, capsys, tmp_path):
    argv = command(case, files, tmp_path if case.writes else files.work)
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    monkeypatch.setattr(sys, "argv", argv)
    restored = files.tmp / "restored"
    shutil.rmtree(restored, ignore_errors=True)  # an earlier failed case's output stays out of this one's check
    before = digest(files.tmp)
    if case.inject:
        case.inject(monkeypatch, files)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / argv[0]), run_name="__main__")
    code, exit_info = exit_info.value.code, None
    gc.collect()  # frees a failed DataLoader and its workers now, as the end of a process would
    monkeypatch.undo()  # the injected fault ends with the command
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert "Traceback" not in err
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], err
    assert case.message in lines[-1], err
    after = digest(files.tmp)
    assert {k: after.get(k) for k in before} == before  # no file that existed changed or went
    if not case.writes:
        assert sorted(after) == sorted(before), sorted(set(after) - set(before))  # and none was written
    assert not restored.exists()  # inference refused before making its output folder


@pytest.mark.parametrize(
    "error, message",
    [
        (lambda: _raise_data_error(), "cannot read image file a/b.png: image file is truncated"),
        (lambda: open("/nonexistent/x.png"), "[Errno 2] No such file or directory: '/nonexistent/x.png'"),
        (lambda: _raise_data_error(""), ""),
    ],
)
def test_an_error_from_a_dataloader_worker_prints_its_own_message(error, message, monkeypatch):
    # torch re-raises a worker's error as the same type holding "Caught X in DataLoader worker process N" and the
    # worker's traceback; the tools print the message the error was raised with, as without workers
    from torch._utils import ExceptionWrapper

    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    import _common

    try:
        error()
    except Exception:
        wrapped = ExceptionWrapper(where="in DataLoader worker process 0")
    with pytest.raises(Exception) as caught:
        wrapped.reraise()
    assert "Original Traceback" in str(caught.value)
    assert _common.error_message(caught.value) == message


def _raise_data_error(text: str = "cannot read image file a/b.png: image file is truncated") -> None:
    from toolkit.errors import DataError

    try:
        raise KeyError("inner")
    except KeyError:
        raise DataError(text) from None


def _table() -> None:
    """Print the table of docs/reliability.md: every input case run as a real process (injected faults skipped)."""
    with tempfile.TemporaryDirectory() as tmp:
        with contextlib.redirect_stdout(sys.stderr):  # the tiny run's training log
            f = make_files(Path(tmp) / "files")
        print("| case | command | exit | stderr lines | message printed | verdict |\n|---|---|---|---|---|---|")
        for i, case in enumerate(c for c in CASES if c.inject in (None, _quick_worker_exit)):
            argv = command(case, f, Path(tmp) / f"case{i}")
            before = digest(f.tmp)
            out = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                                 env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
            changed = sum(before[k] != digest(f.tmp).get(k) for k in before)
            lines = out.stderr.strip().splitlines()
            ok = out.returncode == 2 and "Traceback" not in out.stderr and case.message in lines[-1] and not changed
            verdict = "one line, nothing damaged" if ok else f"FAILS ({changed} files changed)"
            shown = " ".join(a if len(a) < 40 else "…/" + Path(a).name for a in argv if a not in ONE_STEP)
            shown = shown.replace(" --set --", " --").replace(str(f.tmp), "$TMP").replace(tmp, "$WORK")
            msg = lines[-1].replace(str(f.tmp), "$TMP").replace("|", "\\|") if lines else ""
            print(f"| {case.name} | `{shown}` | {out.returncode} | {len(lines)} | {msg} | {verdict} |")


if __name__ == "__main__":
    _table()
