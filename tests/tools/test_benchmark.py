"""tools/benchmark.py: the JSON it writes, checked against published forward costs and its own arithmetic."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from toolkit.engine.dist import resolve_amp

ROOT = Path(__file__).resolve().parents[2]


def bench(config, tmp_path, *extra):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "tools/benchmark.py", config, "--steps", "1", "--warmup", "0", "--repeats", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(
        [*cmd, *extra, "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.parametrize(
    "config, params, gflops",
    [
        # the Moving MNIST setting (10x1x64x64, hid_S 64, hid_T 512, N_S 4, N_T 8): 38.7 and 32.9 GFLOP
        # per clip with torch's flop counter (multiply-add = 2), the figures of the reference measurement
        ("tasks/video_pred/simvp.py", 57_946_113, 38.7),
        pytest.param("tasks/video_pred/simvp_gsta.py", 46_769_665, 32.9, marks=pytest.mark.slow),  # 11 s
    ],
)
def test_forward_cost_and_size_match_the_reference(config, params, gflops, tmp_path):
    result, stdout = bench(config, tmp_path, "--batch-sizes", "1", "--no-data")
    (row,) = result["rows"]
    assert row["params"] == params
    assert row["gflops_forward_per_sample"] == pytest.approx(gflops, abs=0.05)
    assert "--batch-sizes 1" in result["command"] and "samples/s" in stdout


def test_rows_are_consistent(tmp_path):
    result, _ = bench("tasks/video_pred/simvp_tiny.py", tmp_path, "--batch-sizes", "2,4")
    rows = result["rows"]
    assert [r["batch_size"] for r in rows] == [2, 4]
    for r in rows:
        auto = resolve_amp("auto", torch.device("cpu"))[0]  # simvp_tiny's train.amp, as the Trainer resolves it
        assert r["device"].startswith("cpu") and r["amp"] == auto and r["params"] == 142_513
        assert r["train_samples_per_s"] == pytest.approx(r["batch_size"] / r["train_step_s_median"])
        assert r["infer_samples_per_s"] == pytest.approx(r["batch_size"] / r["infer_step_s_median"])
        # a training step counts as three forward passes
        achieved = 3 * r["gflops_forward_per_sample"] * 1e9 * r["batch_size"] / r["train_step_s_median"] / 1e12
        assert r["achieved_tflops"] == pytest.approx(achieved)
        assert r["data_s_per_step"] > 0 and r["peak_memory_gib"] > 0
        assert r["mfu"] is None  # no known peak for a CPU unless --peak-tflops is given
    assert rows[0]["gflops_forward_per_sample"] == rows[1]["gflops_forward_per_sample"]  # per sample


def test_against_fp32_eager_times_both_and_gives_their_ratio(tmp_path):
    result, stdout = bench(
        "tasks/video_pred/simvp_tiny.py", tmp_path, "--batch-sizes", "2", "--amp", "bf16", "--against", "fp32-eager"
    )
    fast, base = result["rows"]
    assert fast["amp"] == "bf16" and base["amp"] is None and not base["compile"] and not base["channels_last"]
    assert fast["params"] == base["params"] == 142_513
    # one repeat each: the ratio is the baseline's step time over the configured one
    assert fast["speedup_train"] == pytest.approx(base["train_step_s_median"] / fast["train_step_s_median"])
    assert fast["speedup_infer"] == pytest.approx(base["infer_step_s_median"] / fast["infer_step_s_median"])
    assert "speed-up over fp32 eager" in stdout
