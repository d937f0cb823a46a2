"""The tools turn user mistakes into one line naming the file or key, exit status 2, no traceback."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args, cwd=ROOT):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args, message",
    [
        (["tools/train.py", "tasks/video_pred/simvp_tny.py"], "config file not found: tasks/video_pred/simvp_tny.py"),
        (["tools/train.py", "tasks/video_pred/simvp_tiny.py", "--set", "train.lr=1"], "no key 'lr'"),
        (["tools/train.py", "tasks/video_pred/simvp_tiny.py", "--set", "train.max_iters=ten"], "expected int"),
        (
            ["tools/train.py", "tasks/video_pred/simvp_tiny.py", "--set", "model.type=simvpp"],
            "unknown type 'simvpp'. Did you mean 'simvp'",
        ),
        (
            ["tools/train.py", "tasks/video_pred/simvp_tiny.py", "--set", "data.mnist_root=/nonexistent/mnist"],
            "data.mnist_root=/nonexistent/mnist: folder not found",
        ),
        (
            ["tools/train.py", "tasks/video_pred/simvp_tiny.py", "--set", "+model.depth=3"],
            "cannot build 'simvp': unknown argument(s) ['depth']",
        ),
        (
            ["tools/train.py", "tasks/video_pred/simvp_tiny.py", "--set", "data.output_frames=7"],
            "data.output_frames=7 must equal data.input_frames=5",
        ),
        (
            ["tools/eval.py", "tasks/video_pred/simvp_tiny.py", "--checkpoint", "/nonexistent.pt"],
            "checkpoint not found: /nonexistent.pt",
        ),
        (
            ["tools/train.py", "tasks/video_pred/simvp_tiny.py", "--set", "train.max_iters=0"],
            "train.max_iters must be a positive whole number, got 0",
        ),
        (
            ["tools/train.py", "tasks/video_pred/simvp_tiny.py", "--set", "train.batch_size=-1"],
            "train.batch_size must be a positive whole number, got -1",
        ),
    ],
)
def test_one_clear_message(args, message, tmp_path, monkeypatch, capsys):
    # in-process (runpy) to keep the suite fast; the end-to-end test below uses real subprocesses
    if args[0] == "tools/train.py":
        args = [*args, "--work-dir", str(tmp_path)]
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    monkeypatch.setattr(sys, "argv", args)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / args[0]), run_name="__main__")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_eval_task_without_a_run_says_what_to_run(tmp_path):
    out = run("tools/eval.py", "--task", "video_pred", "--work-dir", str(tmp_path))
    assert out.returncode == 2
    assert "no trained checkpoint for task 'video_pred'" in out.stderr
    assert "python tools/train.py tasks/video_pred/simvp_tiny.py" in out.stderr


def test_train_then_eval_task_end_to_end(tmp_path):
    sets = [
        "data.splits.train.num_clips=64",
        "data.splits.val.num_clips=8",
        "data.splits.test.num_clips=8",
        "train.max_iters=3",
        "train.val_interval=3",
    ]
    out = run("tools/train.py", "tasks/video_pred/simvp_tiny.py", "--work-dir", str(tmp_path), "--set", *sets)
    assert out.returncode == 0, out.stderr[-2000:]
    out = run("tools/eval.py", "--task", "video_pred", "--work-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "copy-last-frame" in out.stdout and "mse" in out.stdout
    eval_dir = next(tmp_path.glob("simvp_tiny/*/eval_test_*"))
    assert (eval_dir / "metrics.json").exists() and list(eval_dir.glob("test_sample0.png"))


def test_file_system_refusals_are_one_line(tmp_path, monkeypatch, capsys):
    from toolkit.config import load_config
    from toolkit.engine import Trainer

    def tool(*args):
        monkeypatch.setattr(sys, "argv", list(args))
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(ROOT / args[0]), run_name="__main__")
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        return err

    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    err = tool("tools/train.py", "tasks/restoration/safmn_tiny.py", "--work-dir", str(blocker / "runs"))
    assert "is a file, not a folder" in err and str(blocker) in err
    trainer = Trainer(load_config(ROOT / "tasks/restoration/safmn_tiny.py", ["train.max_iters=1"]), work_dir=tmp_path)
    trainer.train()
    capsys.readouterr()
    ckpt = str(trainer.run_dir / "checkpoints" / "last.pt")
    photos = tmp_path / "in"
    photos.mkdir()
    from toolkit.data import write_image

    write_image(photos / "x.png", np.full((12, 16, 3), 128, np.uint8))
    err = tool("tools/infer.py", str(trainer.run_dir / "config.py"), "--checkpoint", ckpt, "--input", str(photos),
               "--out", str(blocker / "restored"))  # fmt: skip
    assert str(blocker) in err
    assert blocker.read_text() == "not a folder"
