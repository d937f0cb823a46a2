"""Two-process DDP on CPU (gloo): training runs, and evaluation metrics equal a single process exactly."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
SETS = [
    "data.input_frames=2",
    "data.output_frames=2",
    "data.image_size=16",
    "data.digit_size=7",
    "data.splits.train.num_clips=32",
    "data.splits.val.num_clips=5",
    "data.splits.test.num_clips=7",  # odd: shards of 4 and 3, no padding allowed
    "model.hid_S=4",
    "model.hid_T=8",
    "model.N_T=2",
    "train.batch_size=4",
    "train.max_iters=4",
    "train.val_interval=2",
    "eval.batch_size=2",
]


def run(args, nproc):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd = (launcher if nproc > 1 else [sys.executable]) + args
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout


def test_two_process_training_and_equal_metrics(tmp_path):
    cfg = "tasks/video_pred/simvp_tiny.py"
    log = run(["tools/train.py", cfg, "--work-dir", str(tmp_path), "--set", *SETS], nproc=2)
    assert "world size 2" in log
    ckpt = next(tmp_path.glob("simvp_tiny/*/checkpoints/best.pt"))
    results = {}
    for nproc in (1, 2):
        out = tmp_path / f"eval{nproc}"
        run(["tools/eval.py", cfg, "--checkpoint", str(ckpt), "--out", str(out), "--set", *SETS], nproc=nproc)
        results[nproc] = json.loads((out / "metrics.json").read_text())
    assert results[1]["samples"] == results[2]["samples"] == 7
    for key, value in results[1]["metrics"].items():
        assert results[2]["metrics"][key] == value or abs(results[2]["metrics"][key] - value) <= 1e-12 * abs(value), key


def test_gradient_accumulation_equals_a_large_batch_and_all_reduces_once_per_step(tmp_path):
    # two processes; 2 micro-batches of 4 per optimiser step vs one batch of 8: same samples, same update
    common = ["train.max_iters=3", "train.val_interval=3", "optim.lr=0.2"]
    worker = "tests/engine/ddp_accum_worker.py"
    run([worker, str(tmp_path / "accum.pt"), *common, "train.batch_size=4", "train.accum_steps=2"], nproc=2)
    run([worker, str(tmp_path / "large.pt"), *common, "train.batch_size=8", "train.accum_steps=1"], nproc=2)
    accum, large = torch.load(tmp_path / "accum.pt"), torch.load(tmp_path / "large.pt")
    assert accum["iters"] == large["iters"] == 3
    assert not torch.equal(accum["weights"]["conv.weight"], torch.zeros_like(accum["weights"]["conv.weight"]))
    for key, value in large["weights"].items():
        torch.testing.assert_close(accum["weights"][key], value, rtol=1e-5, atol=1e-6)
    # the toy model's gradients fit in one bucket: one all-reduce per optimiser step, none per micro-step
    assert accum["allreduces"] == large["allreduces"] == 3
