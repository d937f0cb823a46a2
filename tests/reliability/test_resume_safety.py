"""Resume never damages a run folder, and a kill at any moment loses at most one checkpoint interval.

Kills are simulated in-process: an exception raised from inside the loop at a chosen moment (a
checkpoint write, a training step) stops the run exactly where a SIGKILL would.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from toolkit.config import load_config
from toolkit.engine import Trainer
from toolkit.engine.checkpoint import load_checkpoint
from toolkit.errors import CheckpointError

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "data.input_frames=2",
    "data.output_frames=2",
    "data.image_size=16",
    "data.digit_size=7",
    "data.splits.train.num_clips=32",  # 8 iterations per epoch at batch 4
    "data.splits.val.num_clips=4",
    "data.splits.test.num_clips=4",
    "model.hid_S=4",
    "model.hid_T=8",
    "model.N_T=2",
    "train.batch_size=4",
    "train.max_iters=12",
    "train.val_interval=4",
    "train.log_interval=2",
    "eval.batch_size=4",
]
TOY = ROOT / "tests" / "plugins" / "toy_denoise.py"


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the loop handles it."""


def video_cfg(*extra: str):
    return load_config(ROOT / "tasks/video_pred/simvp_tiny.py", [*TINY, *extra])


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def records(run: Path) -> list[tuple]:
    """(split, iter, values) of every metrics.jsonl line, without the wall-clock rate."""
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        out.append((r.pop("split"), r.pop("iter"), {k: v for k, v in r.items() if k != "it_per_s"}))
    return out


def kill_on_save(trainer: Trainer, name: str, nth: int) -> None:
    """Kill the run the ``nth`` time it is about to write checkpoint ``name``."""
    save, calls = trainer.save, {"n": 0}

    def dying_save(which, state=None):
        if which == name:
            calls["n"] += 1
            if calls["n"] == nth:
                raise Killed
        return save(which, state)

    trainer.save = dying_save


def kill_at_step(trainer: Trainer, step: int) -> None:
    """Kill the run inside training step ``step`` (1-based), before its optimiser update."""
    train_step, calls = trainer.task.train_step, {"n": 0}

    def dying_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            raise Killed
        return train_step(*args, **kwargs)

    trainer.task.train_step = dying_step


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """One uninterrupted run: the reference every resumed run must equal."""
    trainer = Trainer(video_cfg(), work_dir=tmp_path_factory.mktemp("straight"))
    trainer.train()
    return trainer


def assert_same_run(resumed: Trainer, straight: Trainer) -> None:
    got, want = resumed.model.state_dict(), straight.model.state_dict()
    for key in want:
        assert torch.equal(got[key], want[key]), key
    assert records(resumed.run_dir) == records(straight.run_dir)  # one record per step, as uninterrupted
    for name in ("best.pt", "last.pt"):
        a = load_checkpoint(resumed.run_dir / "checkpoints" / name)
        b = load_checkpoint(straight.run_dir / "checkpoints" / name)
        assert (a["iter"], a["best"]) == (b["iter"], b["best"]), name
    assert not list((resumed.run_dir / "checkpoints").glob("*.tmp"))


@pytest.mark.parametrize(
    "kill",
    [
        ("save", "best.pt", 2),  # validation logged, best.pt about to be written
        ("save", "last.pt", 2),  # best.pt written, last.pt not: the pair must still agree after resume
        ("step", None, 10),  # between checkpoints
    ],
    ids=["before-best", "between-best-and-last", "mid-interval"],
)
def test_a_kill_then_resume_equals_the_uninterrupted_run(kill, straight, tmp_path):
    trainer = Trainer(video_cfg(), work_dir=tmp_path)
    if kill[0] == "save":
        kill_on_save(trainer, kill[1], kill[2])
    else:
        kill_at_step(trainer, kill[2])
    with pytest.raises(Killed):
        trainer.train()
    (trainer.run_dir / "checkpoints" / ".last.pt.left.tmp").write_bytes(b"partial")  # what a killed write leaves
    resumed = Trainer(video_cfg(), work_dir=tmp_path, resume="auto")
    assert resumed.run_dir == trainer.run_dir
    resumed.train()
    assert_same_run(resumed, straight)


def test_resume_at_an_epoch_boundary_continues_with_the_next_epoch(tmp_path):
    # val_interval=None validates (and checkpoints) at the last iteration of every epoch
    cfg = ("train.val_interval=None", "train.max_iters=16")
    whole = Trainer(video_cfg(*cfg), work_dir=tmp_path / "a")
    whole.train()
    cut = Trainer(video_cfg(*cfg), work_dir=tmp_path / "b")
    kill_at_step(cut, 9)  # the first step of the second epoch, after the checkpoint at iteration 8
    with pytest.raises(Killed):
        cut.train()
    resumed = Trainer(video_cfg(*cfg), work_dir=tmp_path / "b", resume="auto")
    assert resumed.iter == 8
    resumed.train()
    assert_same_run(resumed, whole)


def test_a_failed_resume_leaves_every_run_folder_untouched(straight, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(straight.run_dir, runs / "video" / "run")
    before = folder_digest(runs)
    best = runs / "video" / "run" / "checkpoints" / "best.pt"
    toy = load_config(TOY)
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "plugins"))
    try:
        with pytest.raises(CheckpointError, match="checkpoint is of task 'video_pred'.*of task 'labtasks.toy_denoise'"):
            Trainer(toy, work_dir=runs / "toy", resume=str(best))
    finally:
        sys.path.remove(str(ROOT / "tests" / "plugins"))
    with pytest.raises(CheckpointError, match="does not match this model"):  # same task and model, other sizes
        Trainer(video_cfg("model.hid_S=8"), work_dir=runs, resume=str(best))
    weights_only = runs / "weights.pt"
    torch.save({"model": load_checkpoint(best)["model"]}, weights_only)
    before[weights_only.name] = hashlib.sha256(weights_only.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="not a training checkpoint.*use --load-from"):
        Trainer(video_cfg(), work_dir=runs, resume=str(weights_only))
    assert folder_digest(runs) == before


def test_resuming_a_file_outside_a_run_folder_starts_a_new_run(straight, tmp_path):
    loose = tmp_path / "x" / "weights.pt"
    loose.parent.mkdir()
    shutil.copy(straight.run_dir / "checkpoints" / "last.pt", loose)  # a finished run: nothing left to train
    trainer = Trainer(video_cfg(), work_dir=tmp_path / "work", resume=str(loose))
    assert trainer.run_dir.parent == tmp_path / "work" / "simvp_tiny" and trainer.iter == 12
    trainer.train()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work", "x"]  # nothing written beside the file
    assert [p.name for p in loose.parent.iterdir()] == ["weights.pt"]


def test_random_augmentation_is_the_same_with_workers_and_after_a_resume(tmp_path):
    # SIRST augments every sample at random (scale, crop, flips); with 2 workers and a kill in the
    # middle of an epoch, the resumed run must still see exactly the batches of a 0-worker straight run
    sets = [
        "train.batch_size=4",
        "train.max_iters=6",
        "train.val_interval=3",
        "train.log_interval=1",
        "eval.max_batches=1",
        "model.channels=[4, 8, 16, 32]",
        "data.crop_size=48",
        "data.base_size=56",
    ]
    sirst = ROOT / "tasks/sirst/dnanet_tiny.py"
    whole = Trainer(load_config(sirst, [*sets, "train.num_workers=0"]), work_dir=tmp_path / "a")
    whole.train()
    cut = Trainer(load_config(sirst, [*sets, "train.num_workers=2"]), work_dir=tmp_path / "b")
    kill_at_step(cut, 5)
    with pytest.raises(Killed):
        cut.train()
    resumed = Trainer(load_config(sirst, [*sets, "train.num_workers=2"]), work_dir=tmp_path / "b", resume="auto")
    assert resumed.iter == 3
    resumed.train()
    got, want = resumed.model.state_dict(), whole.model.state_dict()
    for key in want:
        assert torch.equal(got[key], want[key]), key
    assert records(resumed.run_dir) == records(whole.run_dir)


def test_checkpoints_take_the_process_umask_and_run_folders_are_claimed_once(tmp_path):
    import os

    from toolkit.engine.checkpoint import save_checkpoint
    from toolkit.engine.runlog import new_run_dir

    old = os.umask(0o027)
    try:
        from toolkit.engine import checkpoint

        checkpoint._UMASK = 0o027  # the module reads the umask once at import
        save_checkpoint({"iter": 1}, tmp_path / "c.pt")
        assert (tmp_path / "c.pt").stat().st_mode & 0o777 == 0o640  # not mkstemp's private 0600
    finally:
        os.umask(old)
        checkpoint._UMASK = old
    runs = [new_run_dir(tmp_path / "w", "cfg") for _ in range(3)]  # within one second
    assert len(set(runs)) == 3 and all(r.is_dir() for r in runs)


def test_resume_auto_under_a_relative_work_dir_rewinds_the_log(straight, tmp_path, monkeypatch):
    # the default work_dir ('work_dirs') is relative: the run folder found by --resume auto is too
    monkeypatch.chdir(tmp_path)
    trainer = Trainer(video_cfg(), work_dir="work")
    kill_at_step(trainer, 11)  # after the train record of iteration 10, two past the checkpoint at 8
    with pytest.raises(Killed):
        trainer.train()
    resumed = Trainer(video_cfg(), work_dir="work", resume="auto")
    resumed.train()
    assert records(resumed.run_dir) == records(straight.run_dir)
