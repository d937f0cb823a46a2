"""Bad input: one ``error:`` line naming the file, key or value, exit status 2, no traceback, nothing damaged.

Every case runs a real tool (``tools/train.py``, ``eval.py``, ``infer.py``, ``ablate.py``, ``benchmark.py``) in
this process through runpy, as tests/tools/test_cli_errors.py does, next to one tiny trained restoration run.
After every case no file that existed before has changed, and a case refused before training wrote no file at
all. Should a case be accepted by mistake, it trains one step only. A few cases are inputs whose documented
behaviour is to go on (``code=0``: a mask resized with a warning, ``--resume auto`` with no run yet): they must
exit 0 with no ``error:`` line and print what happened. docs/reliability.md shows this table with the messages
printed (``python tests/reliability/test_bad_input.py`` prints it, running each case as a real process).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import hashlib
import multiprocessing
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import warnings
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
HSI = "tasks/hsi/hybridsn_tiny.py"
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

    def raw(self, name: str, text: str) -> str:
        """A config file written as given (no _base_ added)."""
        path = self.bad / f"{name}.py"
        path.write_text(text)
        return str(path)

    @property
    def ckpt(self) -> str:
        return str(self.run / "checkpoints" / "best.pt")


def _png(path: Path, size: int | tuple[int, int] = 16, seed: int = 0, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = (size, size) if isinstance(size, int) else size
    shape = (h, w) if channels == 1 else (h, w, channels)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)).save(path)


class _RunsCode:
    """What a malicious checkpoint holds: unpickling it would run a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


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
    _bad_checkpoints(f, state)
    _bad_data(f)
    return f


def _bad_checkpoints(f: Files, state: dict) -> None:
    config = state["config"]
    torch.save({**state, "config": "task = 'restoration'"}, f.bad / "config_str.pt")
    torch.save({k: v for k, v in state.items() if k != "config"}, f.bad / "config_none.pt")
    torch.save({**state, "config": {**config, "task": ["restoration"]}}, f.bad / "task_list.pt")
    torch.save({**state, "config": {**config, "model": "safmn"}}, f.bad / "model_str.pt")
    torch.save({**state, "model": _RunsCode(f.tmp / "pwned")}, f.bad / "runs_code.pt")
    (f.bad / "empty.pt").write_bytes(b"")


def _bad_data(f: Files) -> None:
    """Data folders and files each with one mistake, for every task."""
    import cv2
    import scipy.io

    b = f.bad
    (b / "empty_dir").mkdir()
    (b / "not_image").mkdir()
    (b / "not_image" / "x.png").write_text("not an image")
    # hsi: a 16x16 scene of 8 bands, and label maps of the wrong size, rank or sign
    rng = np.random.default_rng(0)
    (b / "hsi").mkdir()
    cube, gt = rng.random((16, 16, 8)).astype(np.float32), np.repeat(np.arange(4), 64).reshape(16, 16)
    np.save(b / "hsi" / "cube.npy", cube)
    np.save(b / "hsi" / "gt.npy", gt)
    np.save(b / "hsi" / "gt_12.npy", gt[:12, :12])
    np.save(b / "hsi" / "cube_2d.npy", cube[..., 0])
    np.save(b / "hsi" / "gt_negative.npy", gt - 1)
    scipy.io.savemat(b / "hsi" / "scene.mat", {"cube": cube, "labels": gt})
    (b / "hsi" / "text.mat").write_text("not a MATLAB file")
    # sirst (folder layout): a mask of another size; an empty image folder; a split list naming a missing image
    for name in ("a", "b"):
        _png(b / "sirst_size" / "images" / f"{name}.png", size=24)
        _png(b / "sirst_size" / "masks" / f"{name}.png", size=20 if name == "a" else 24)
        _png(b / "sirst_list" / "images" / f"{name}.png", size=24)
        _png(b / "sirst_list" / "masks" / f"{name}.png", size=24)
        _png(b / "sirst_nomask" / "images" / f"{name}.png", size=24)
    _png(b / "sirst_nomask" / "masks" / "a.png", size=24)
    _png(b / "sirst_modes" / "images" / "a.png", size=24, channels=4)  # RGBA
    Image.fromarray(rng.integers(0, 65536, (24, 24), dtype=np.uint16)).save(b / "sirst_modes" / "images" / "b.png")
    for name in ("a", "b"):
        _png(b / "sirst_modes" / "masks" / f"{name}.png", size=24)
    (b / "sirst_empty" / "images").mkdir(parents=True)
    _png(b / "sirst_empty" / "masks" / "a.png", size=24)
    (b / "sirst_list" / "50_50").mkdir()
    (b / "sirst_list" / "50_50" / "train.txt").write_text("a\nghost\n")
    (b / "sirst_list" / "50_50" / "test.txt").write_text("b\n")
    # restoration: LQ/GT not 4x apart, unpaired names, a 1x1 image, a 16-bit image
    _png(b / "sr_ratio" / "lq" / "a.png", size=8, channels=3)
    _png(b / "sr_ratio" / "gt" / "a.png", size=16, channels=3)
    _png(b / "sr_unpaired" / "lq" / "a.png", size=8, channels=3)
    _png(b / "sr_unpaired" / "gt" / "b.png", size=32, channels=3)
    _png(b / "sr_1px" / "one.png", size=1, channels=3)
    (b / "sr_16bit").mkdir()
    cv2.imwrite(str(b / "sr_16bit" / "deep.png"), rng.integers(0, 65536, (32, 32, 3), dtype=np.uint16))
    # video: a clip too short for 5 + 5 frames, a clip whose frames differ in size, a file that is not MNIST
    for t in range(10):
        if t < 6:
            _png(b / "clips_short" / "clip0" / f"f{t}.png", seed=t)
        _png(b / "clips_sizes" / "clip0" / f"f{t}.png", size=20 if t == 5 else 16, seed=t)
    (b / "mnist").mkdir()
    (b / "mnist" / "train-images-idx3-ubyte").write_text("not MNIST, but long enough for a header")
    np.save(b / "clips_2d.npy", rng.random((4, 10)).astype(np.float32))
    # configs: a missing _base_, a cycle of _base_
    f.raw("base_missing", "_base_ = ['no_such_base.py']\n")
    f.raw("cycle_a", "_base_ = ['cycle_b.py']\nx = 1\n")
    f.raw("cycle_b", "_base_ = ['cycle_a.py']\ny = 2\n")


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


def _eval(*extra: str, config: str | None = None, checkpoint: str = "") -> Callable[[Files], list[str]]:
    """tools/eval.py on the trained run's config (or ``config``) and best.pt (or ``$bad/<checkpoint>``)."""
    return lambda f: ["tools/eval.py", config or str(f.run / "config.py"), "--checkpoint",
                      str(f.bad / checkpoint) if checkpoint else f.ckpt, *extra]  # fmt: skip


def _data(config: str, *sets: str, tiny: tuple[str, ...] = ()) -> Callable[[Files], list[str]]:
    """tools/train.py ``config`` with ``--set`` values where ``$bad`` stands for the folder of bad files."""
    return lambda f: _train(config, *(s.replace("$bad", str(f.bad)) for s in sets), *tiny)(f)


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
    code: int = 2  # 0: the documented behaviour is to go on (message: what it prints, e.g. a warning)


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
    # ---- more configs and --set
    Case("_base_ file missing", lambda f: ["tools/train.py", str(f.bad / "base_missing.py")],
         "base_missing.py: _base_ file not found: no_such_base.py"),
    Case("_base_ cycle", lambda f: ["tools/train.py", str(f.bad / "cycle_a.py")], "_base_ cycle: "),
    Case("--set list index out of range", _train(SR, "loss.5.weight=1"),
         "override loss.5: index 5 is out of range: loss is a list of 2 items"),
    Case("--set without '='", _train(SR, "train.max_iters"),
         "override 'train.max_iters' must look like key.path=value"),
    Case("--set a dict where a number is expected", _train(SR, "train.max_iters={'a': 1}"),
         "override train.max_iters: expected int like the default 1, got dict {'a': 1}"),
    Case("--set a key below a number", _train(SR, "train.max_iters.x=1"),
         "override train.max_iters.x: train.max_iters is an int (1), not a dict or list"),
    Case("optim.type typo", _train(SR, "optim.type=adamm"), "optim.type must be one of"),
    Case("optim.lr negative", _train(SR, "optim.lr=-0.001"), "optim.lr=-0.001: the learning rate must be >= 0"),
    Case("optim option of another optimiser", _train(SR, "+optim.momentum=0.9"),
         "optim: adam does not take ['momentum']"),
    Case("sched.type unknown", _train(SR, "sched.type=cosin"),
         "sched.type must be onecycle, cosine, multistep or None, got 'cosin'"),
    Case("attention type typo (before the data)", _data(SIRST, "model.attn.type=cbamm", "data.root=$bad/nowhere"),
         "model.attn.type: ATTENTION: unknown type 'cbamm'. Did you mean 'cbam'"),
    Case("loss type typo (before the data)", _data(SR, "loss.0.type=l11", "data.train.gt=$bad/nowhere"),
         "loss.0.type: LOSSES: unknown type 'l11'"),
    Case("metric name typo (before training)", _train(SR, "metrics=['psnr', 'ssim_yy']"),
         "metrics.1: METRICS: unknown type 'ssim_yy'. Did you mean 'ssim_y'"),
    Case("train.grad_clip negative", _train(SR, "train.grad_clip=-1.0"),
         "train.grad_clip must be a positive number or None, got -1.0"),
    Case("train.ema without decay", _train(SR, "train.ema={'decy': 0.9}"),
         "train.ema must be None or dict(decay=d) with 0 < d < 1, got {'decy': 0.9}"),
    Case("train.early_stop patience 0", _train(SR, "train.early_stop={'patience': 0}"),
         "train.early_stop must be None or dict(patience=N) with N >= 1, got {'patience': 0}"),
    Case("train.amp unknown", _train(SR, "train.amp=fp32"),
         "train.amp must be 'bf16', 'fp16', 'auto' or None, got 'fp32'"),
    Case("device name unknown", _train(SR, "device=gpu"), "device='gpu' is not a device"),
    Case("train.py unknown flag", lambda f: ["tools/train.py", SR, "--epochs", "3"],
         "unrecognized arguments: --epochs 3"),
    # ---- more checkpoints and run folders
    Case("--resume a checkpoint whose config is a string", _resume(lambda f: str(f.bad / "config_str.pt")),
         "its 'config' entry is a str, not the config dict the Trainer saves"),
    Case("--resume a checkpoint without config", _resume(lambda f: str(f.bad / "config_none.pt")),
         "not a training checkpoint (no config)"),
    Case("--resume a checkpoint whose task is not a string", _resume(lambda f: str(f.bad / "task_list.pt")),
         "its config's task ['restoration'] is not a task name"),
    Case("--resume a checkpoint whose model is a string", _resume(lambda f: str(f.bad / "model_str.pt")),
         "its config's model 'safmn' is not a model spec (a dict with a 'type')"),
    Case("--resume a checkpoint that runs code", _resume(lambda f: str(f.bad / "runs_code.pt")),
         "holds Python objects other than tensors and plain values (posix.system), refused unread"),
    Case("--resume an empty file", _resume(lambda f: str(f.bad / "empty.pt")), "empty.pt: the file is empty"),
    Case("--resume a folder that is not a run", _resume(lambda f: str(f.bad / "photos")),
         "photos/checkpoints/last.pt"),
    Case("--resume auto, no run yet: a new run", lambda f: ["tools/train.py", SR, "--resume", "auto"],
         "run folder: ", writes=True, code=0),
    Case("--load-from a text file", lambda f: ["tools/train.py", SR, "--load-from", str(f.bad / "text.pt")],
         "text.pt: not a checkpoint"),
    Case("--load-from a checkpoint of another task", lambda f: ["tools/train.py", VIDEO, "--load-from", f.ckpt],
         "none of its tensors fits this model (78 missing, 40 unexpected, 0 of other shapes)"),
    Case("--work-dir is a file", lambda f: ["tools/train.py", SR, "--work-dir", str(f.bad / "a_file")],
         "is a file, not a folder"),
    # ---- evaluation
    Case("eval a checkpoint of another task", _eval(config=VIDEO),
         "is of task 'restoration', the config (tasks/video_pred/simvp_tiny.py) of task 'video_pred'"),
    Case("eval a model config unlike the checkpoint", _eval("--set", "model.channels=8"),
         "does not match this model"),
    Case("eval scale 3 with a x4 checkpoint", _eval("--set", "data.scale=3"),
         "model 'safmn' up-scales by 4 but data.scale is 3"),
    Case("eval a checkpoint whose config is a string", _eval(checkpoint="config_str.pt"),
         "its 'config' entry is a str"),
    Case("eval --task with no runs", lambda f: ["tools/eval.py", "--task", "hsi", "--work-dir", str(f.work)],
         "no trained checkpoint for task 'hsi'"),
    Case("eval --task unknown", lambda f: ["tools/eval.py", "--task", "segmentation"],
         "task 'segmentation': no package tasks/segmentation/"),
    Case("eval an unknown split", _eval("--split", "training"),
         "restoration data has the splits 'train', 'val' and 'test', not 'training'"),
    Case("eval --max-batches 0", _eval("--max-batches", "0"), "argument --max-batches: must be a positive integer"),
    Case("eval without config or --task", lambda f: ["tools/eval.py"], "give CFG --checkpoint PATH, or --task NAME"),
    # ---- inference
    Case("infer a checkpoint of another task",
         lambda f: ["tools/infer.py", VIDEO, "--checkpoint", f.ckpt, "--input", str(f.bad / "clips_2d.npy"),
                    "--out", str(f.tmp / "restored" / "p.npy")],
         "is of task 'restoration', the config (tasks/video_pred/simvp_tiny.py) of task 'video_pred'"),
    Case("infer a model option the checkpoint contradicts", _infer("--set", "model.channels=8"),
         "model.channels=8 but the checkpoint's model has 16"),
    Case("infer scale 3 with a x4 checkpoint", _infer("--set", "data.scale=3"),
         "model 'safmn' up-scales by 4 but data.scale is 3"),
    Case("infer --input an empty folder", _infer(src="empty_dir"), "no images"),
    Case("infer --input a file that is not an image", _infer(src="not_image"), "x.png: unreadable or not an image"),
    Case("infer --batch-size 0", _infer("--batch-size", "0"), "argument --batch-size: must be a positive integer"),
    # ---- data: hsi
    Case("hsi: label map smaller than the cube",
         _data(HSI, "data.cube=$bad/hsi/cube.npy", "data.gt=$bad/hsi/gt_12.npy"),
         "cube.npy is 16x16 pixels (shape (16, 16, 8)) but"),
    Case("hsi: a 2-D cube", _data(HSI, "data.cube=$bad/hsi/cube_2d.npy", "data.gt=$bad/hsi/gt.npy"),
         "cube_2d.npy: expected a cube (H, W, bands), got shape (16, 16)"),
    Case("hsi: negative labels", _data(HSI, "data.cube=$bad/hsi/cube.npy", "data.gt=$bad/hsi/gt_negative.npy"),
         "gt_negative.npy: labels must be >= 0 (0 = unlabelled), found -1"),
    Case("hsi: window larger than the scene",
         _train(HSI, "data.synthetic.height=40", "data.synthetic.width=40", "data.window=41"),
         "data.window=41 is larger than the scene (40x40 pixels)"),
    Case("hsi: .mat without the named array", _data(HSI, "data.cube=$bad/hsi/scene.mat", "data.cube_key=indian_pines"),
         "scene.mat has no numeric array 'indian_pines'; it holds ['cube', 'labels']"),
    Case("hsi: a text file named .mat", _data(HSI, "data.cube=$bad/hsi/text.mat", "data.gt=$bad/hsi/gt.npy"),
         "text.mat as a MATLAB file"),
    # ---- data: sirst
    Case("sirst: mask size differs (size_mismatch=error)",
         _data(SIRST, "data.root=$bad/sirst_size", "data.size_mismatch=error", tiny=tuple(TINY_SIRST)),
         "masks/a.png is 20x20 but image"),
    Case("sirst: mask size differs (default: resized, warned)",
         _data(SIRST, "data.root=$bad/sirst_size", tiny=tuple(TINY_SIRST)),
         "masks/a.png is 20x20 but image", writes=True, code=0),
    Case("sirst: an RGBA and a 16-bit image (read as grey, as documented)",
         _data(SIRST, "data.root=$bad/sirst_modes", tiny=tuple(TINY_SIRST)), "done: 1 iterations", writes=True, code=0),
    Case("sirst: empty images folder", _data(SIRST, "data.root=$bad/sirst_empty", tiny=tuple(TINY_SIRST)),
         "no images (.png"),
    Case("sirst: split list names a missing image",
         _data(SIRST, "data.root=$bad/sirst_list", *TINY_SIRST[:-1], "data.layout=50_50"),
         "entry 'ghost' has no image"),
    Case("sirst: image without a mask", _data(SIRST, "data.root=$bad/sirst_nomask", tiny=tuple(TINY_SIRST)),
         "b.png has no mask"),
    # ---- data: restoration
    Case("restoration: LQ/GT sizes not 4x apart",
         _data(SR, "data.val.gt=$bad/sr_ratio/gt", "data.val.lq=$bad/sr_ratio/lq"),
         "lq/a.png is 8x8 px, so its ground truth", writes=True),
    Case("restoration: unpaired file names",
         _data(SR, "data.train.gt=$bad/sr_unpaired/gt", "data.train.lq=$bad/sr_unpaired/lq"),
         "unpaired restoration files"),
    Case("restoration: a 1x1 image", _data(SR, "data.val.gt=$bad/sr_1px"), "one.png: 1x1 px", writes=True),
    Case("restoration: a 16-bit image", _data(SR, "data.val.gt=$bad/sr_16bit"), "deep.png is a 16-bit", writes=True),
    # ---- data: video
    Case("video: clip shorter than input + output",
         _data(CLIPS, "data.path=$bad/clips_short", tiny=tuple(TINY_CLIPS)),
         "clip0: 6 frames, but a clip needs at least 10 frames"),
    Case("video: frames of different sizes in a clip",
         _data(CLIPS, "data.path=$bad/clips_sizes", tiny=tuple(TINY_CLIPS)), "f5.png: frame of 20x20 but f0.png"),
    Case("video: mnist_root holds a file that is not MNIST", _data(VIDEO, "data.mnist_root=$bad/mnist"),
         "train-images-idx3-ubyte: not an idx3 image file"),
    Case("video: mnist_root is a file", _data(VIDEO, "data.mnist_root=$bad/a_file"), "a_file is a file, not a folder"),
    Case("video: clips array of the wrong rank", _data(CLIPS, "data.path=$bad/clips_2d.npy"),
         "clips_2d.npy: expected clips of shape (N, T, H, W) or (N, T, C, H, W), got shape (4, 10)"),
    Case("video: output_frames != input_frames", _train(VIDEO, "data.output_frames=3"),
         "data.output_frames=3 must equal data.input_frames=5"),
    # ---- the other tools
    Case("ablate --vary without values", lambda f: ["tools/ablate.py", SR, "--vary", "model.attn.type",
                                                    "--out", str(f.tmp / "restored")],
         "--vary 'model.attn.type' must look like key.path=value1,value2"),
    Case("ablate --vary an unknown attention", lambda f: ["tools/ablate.py", SR, "--vary", "model.attn.type=se,cbamm",
                                                         "--set", *ONE_STEP, "--out", str(f.tmp / "restored")],
         "ATTENTION: unknown type 'cbamm'"),
    Case("benchmark --batch-sizes 16,x", lambda f: ["tools/benchmark.py", SR, "--batch-sizes", "16,x", "--json",
                                                   str(f.tmp / "restored" / "b.json")],
         "argument --batch-sizes: expected whole numbers >= 1 separated by commas, got '16,x'"),
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
    with pytest.raises(SystemExit) as exit_info, warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")  # as a process prints them (pytest would collect them instead)
        runpy.run_path(str(ROOT / argv[0]), run_name="__main__")
    code, exit_info = exit_info.value.code, None
    if multiprocessing.active_children():  # a failed DataLoader's workers: freed now, as the end of a process would
        gc.collect()  # (only then: a collection takes about 0.3 s with torch loaded)
    monkeypatch.undo()  # the injected fault ends with the command
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == case.code, err
    assert "Traceback" not in err
    assert "`weights_only` set to `False`" not in err  # torch's advice to load unsafely never reaches the user
    if case.code == 2:
        assert [line for line in lines if line.startswith("error:")] == lines[-1:], err
        assert case.message in lines[-1], err
    else:  # the documented behaviour is to go on: no error, and the message (a warning, a note) says what happened
        assert not [line for line in lines if line.startswith("error:")], err
        said = out + err + "".join(f"{w.category.__name__}: {w.message}\n" for w in warned)
        assert case.message in said, said
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
            errors = [line for line in lines if line.startswith("error:")]
            if case.code == 2:
                said = lines[-1] if lines else ""
                ok = errors == lines[-1:] and case.message in said
                verdict = "one line, nothing damaged"
            else:  # goes on as documented: the line that says what happened
                said = next((x for x in (out.stdout + out.stderr).splitlines() if case.message in x), "")
                ok, verdict = not errors and bool(said), "went on as documented, nothing damaged"
            ok = ok and out.returncode == case.code and "Traceback" not in out.stderr and not changed
            verdict = verdict if ok else f"FAILS ({changed} files changed)"
            shown = " ".join(a if len(a) < 40 else "…/" + Path(a).name for a in argv if a not in ONE_STEP)
            shown = shown.replace(" --set --", " --").replace(str(f.tmp), "$TMP").replace(tmp, "$WORK")
            msg = said.replace(str(f.tmp), "$TMP").replace(tmp, "$WORK").replace("|", "\\|")
            print(f"| {case.name} | `{shown}` | {out.returncode} | {len(lines)} | {msg} | {verdict} |")


if __name__ == "__main__":
    _table()
