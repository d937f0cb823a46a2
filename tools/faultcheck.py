"""Kill training runs at random moments, resume them, and check that nothing was lost or damaged.

    python tools/faultcheck.py [--kills 40] [--seed 0] [--json benchmarks/results/cpu/faultcheck.json]

For each of the four tasks' tiny configs (shrunk to seconds with ``--set``), one uninterrupted run is
the reference. Then the same run is started, SIGKILLed at a random moment (during start-up, a training
step, a validation or a checkpoint write: whatever the moment is), and continued with ``--resume auto``,
over and over, until it finishes. After every kill the tool checks the run folder; at the end it
compares the finished run with the reference. It prints and writes:

- kills survived, and runs completed;
- iterations lost per kill (logged before the kill but not in ``last.pt``), which must not exceed one
  checkpoint interval (``train.val_interval``);
- unreadable checkpoints after a kill (must be 0) and temporary files left in a finished run (must be 0);
- whether each finished run equals its reference exactly: every weight, and every ``metrics.jsonl`` record.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import _common

# the tiny configs made small enough that a run takes seconds; checkpoints every `val_interval` iterations
CASES = {
    "video_pred": (
        "tasks/video_pred/simvp_tiny.py",
        [
            "data.input_frames=2",
            "data.output_frames=2",
            "data.image_size=16",
            "data.digit_size=7",
            "data.splits.train.num_clips=64",
            "data.splits.val.num_clips=8",
            "model.hid_S=4",
            "model.hid_T=8",
            "model.N_T=2",
            "train.batch_size=4",
            "train.max_iters=40",
            "train.val_interval=5",
            "train.log_interval=1",
            "eval.batch_size=8",
        ],
    ),
    "sirst": (
        "tasks/sirst/dnanet_tiny.py",
        [
            "model.channels=[4, 8, 16, 32]",
            "data.crop_size=48",
            "data.base_size=56",
            "train.batch_size=4",
            "train.max_iters=30",
            "train.val_interval=5",
            "train.log_interval=1",
            "eval.max_batches=2",
        ],
    ),
    "hsi": (
        "tasks/hsi/hybridsn_tiny.py",
        [
            "data.synthetic.height=48",  # a quarter of the default scene: validations of ~150 pixels
            "data.synthetic.width=48",
            "data.synthetic.fields_per_class=3.0",
            "train.max_iters=40",
            "train.val_interval=5",
            "train.log_interval=1",
        ],
    ),
    "restoration": (
        "tasks/restoration/safmn_tiny.py",
        ["train.max_iters=40", "train.val_interval=5", "train.log_interval=1"],
    ),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=40, help="kills in all, spread over the tasks")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    p.add_argument("--tasks", default=",".join(CASES), help="comma-separated subset of " + ", ".join(CASES))
    p.add_argument("--work-dir", default=None, help="where the runs go (default: a temporary folder)")
    p.add_argument("--json", default=None, help="write the figures here")
    return p.parse_args(argv)


def _train(cfg: str, sets: list[str], work: Path, resume: bool) -> subprocess.Popen:
    cmd = [sys.executable, "tools/train.py", cfg, "--work-dir", str(work), "--set", *sets]
    if resume:
        cmd += ["--resume", "auto"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, cwd=_common.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _run_folder(work: Path) -> Path | None:
    """The newest run folder with a checkpoint (a kill before the first checkpoint leaves one without)."""
    runs = sorted(p.parent.parent for p in work.glob("*/*/checkpoints/last.pt"))
    return runs[-1] if runs else None


def _records(run: Path) -> list[tuple]:
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        out.append((r.pop("split"), r.pop("iter"), {k: v for k, v in r.items() if k != "it_per_s"}))
    return out


def _inspect(run: Path | None) -> dict:
    """After a kill: which checkpoints load, the checkpoint iteration, the last logged iteration."""
    from toolkit.engine.checkpoint import load_checkpoint
    from toolkit.errors import CheckpointError

    info = {"unreadable": 0, "ckpt_iter": 0, "logged_iter": 0}
    if run is None:
        return info
    for name in ("last.pt", "best.pt"):
        path = run / "checkpoints" / name
        if path.exists():
            try:
                state = load_checkpoint(path)
                if name == "last.pt":
                    info["ckpt_iter"] = state["iter"]
            except CheckpointError:
                info["unreadable"] += 1
    metrics = run / "metrics.jsonl"
    if metrics.exists():
        for line in metrics.read_text().splitlines():
            try:
                info["logged_iter"] = max(info["logged_iter"], json.loads(line).get("iter", 0))
            except ValueError:
                pass  # a line cut by the kill
    return info


def check_task(name: str, kills: int, rng: random.Random, root: Path) -> dict:
    import torch

    from toolkit.engine.checkpoint import load_checkpoint

    cfg, sets = CASES[name]
    interval = int(next(s for s in sets if s.startswith("train.val_interval=")).split("=")[1])
    t0 = time.perf_counter()
    ref = _train(cfg, sets, root / name / "reference", resume=False)
    if ref.wait() != 0:
        raise RuntimeError(f"{name}: the reference run failed: {ref.stderr.read().decode()[-2000:]}")
    duration = time.perf_counter() - t0
    # episodes: a fresh run killed and resumed until it finishes, then compared with the reference;
    # as many episodes as it takes to reach `kills` kills (a resumed run may finish before its kill)
    lost, unreadable, survived, starts, episodes, exact_weights, exact_records, temp_left = (
        [],
        0,
        0,
        0,
        0,
        True,
        True,
        0,
    )
    while survived < kills or episodes == 0:
        episodes += 1
        work = root / name / f"killed{episodes}"
        while True:
            proc = _train(cfg, sets, work, resume=True)  # `--resume auto` starts afresh while there is no checkpoint
            starts += 1
            if survived < kills:
                try:
                    proc.wait(timeout=rng.uniform(0.0, duration))
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    survived += 1
                    info = _inspect(_run_folder(work))
                    unreadable += info["unreadable"]
                    lost.append(max(info["logged_iter"] - info["ckpt_iter"], 0))
                    continue
            else:
                proc.wait()
            if proc.returncode != 0:
                raise RuntimeError(f"{name}: a resumed run failed: {proc.stderr.read().decode()[-2000:]}")
            break
        run, reference = _run_folder(work), _run_folder(root / name / "reference")
        a = load_checkpoint(run / "checkpoints" / "last.pt")["model"]
        b = load_checkpoint(reference / "checkpoints" / "last.pt")["model"]
        exact_weights &= a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        exact_records &= _records(run) == _records(reference)
        temp_left += len(list((run / "checkpoints").glob("*.tmp")))
    return {
        "task": name,
        "config": cfg,
        "checkpoint_interval": interval,
        "reference_seconds": round(duration, 1),
        "kills": survived,
        "starts": starts,
        "runs_completed": episodes,
        "iterations_lost_max": max(lost, default=0),
        "iterations_lost": lost,
        "unreadable_checkpoints": unreadable,
        "temp_files_left": temp_left,
        "weights_equal_reference": exact_weights,
        "records_equal_reference": exact_records,
    }


def main() -> int:
    import tempfile

    args = parse_args()
    names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        from toolkit.errors import ConfigError

        raise ConfigError(f"--tasks: unknown {unknown}; known: {', '.join(CASES)}")
    rng = random.Random(args.seed)
    root = Path(args.work_dir or tempfile.mkdtemp(prefix="faultcheck_"))
    per_task = [args.kills // len(names) + (i < args.kills % len(names)) for i in range(len(names))]
    rows = []
    for name, kills in zip(names, per_task):
        row = check_task(name, kills, rng, root)
        rows.append(row)
        print(
            f"{name:<12} kills {row['kills']:>3}  runs {row['runs_completed']}  "
            f"lost <= {row['iterations_lost_max']} it (interval {row['checkpoint_interval']})  "
            f"unreadable {row['unreadable_checkpoints']}  temp left {row['temp_files_left']}  "
            f"weights equal {row['weights_equal_reference']}  records equal {row['records_equal_reference']}",
            flush=True,
        )
    total = {
        "kills": sum(r["kills"] for r in rows),
        "runs_completed": sum(r["runs_completed"] for r in rows),
        "iterations_lost_max": max(r["iterations_lost_max"] for r in rows),
        "lost_within_one_interval": all(r["iterations_lost_max"] <= r["checkpoint_interval"] for r in rows),
        "unreadable_checkpoints": sum(r["unreadable_checkpoints"] for r in rows),
        "temp_files_left": sum(r["temp_files_left"] for r in rows),
        "resume_exact": all(r["weights_equal_reference"] and r["records_equal_reference"] for r in rows),
    }
    print(json.dumps(total))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"command": " ".join(sys.argv), "total": total, "tasks": rows}, indent=2) + "\n")
        print(f"wrote {out}")
    ok = total["lost_within_one_interval"] and not total["unreadable_checkpoints"] and not total["temp_files_left"]
    return 0 if ok and total["resume_exact"] else 1


if __name__ == "__main__":
    _common.run_main(main)
