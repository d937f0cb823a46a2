"""tools/tune.py: a seeded toy study finds the planted rate, prunes, resumes; workers, plots, HParams."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.config import load_config
from toolkit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
PLUGINS = ROOT / "tests" / "plugins"
TOY = PLUGINS / "toy_denoise.py"
HOPELESS, GOOD = 1e-7, 0.2  # SGD learning rates: the first leaves the identity start (MSE ~ 0.09) in place

STUDY = f"""
_base_ = [{str(TOY)!r}]
train = dict(max_iters=4, val_interval=2, log_interval=2)
tune = dict(
    params={{"optim.lr": dict(type="categorical", choices=[{GOOD!r}, {HOPELESS!r}])}},
    trials=4,
    sampler="random",
    pruner=dict(type="median", n_startup_trials=1),
    seed=1,  # with the sampler seeded per trial, the draws are the hopeless rate, the good one, and so on
)
"""


def _config(tmp_path: Path, text: str = STUDY) -> Path:
    path = tmp_path / "toy_tune.py"
    path.write_text(text)
    return path


def _val_iters_and_best(run: Path) -> tuple[list[int], float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if r["split"] == "val"]
    return [r["iter"] for r in val], min(r["mse"] for r in val)


def _dead_pid() -> int:
    """The pid of a process of this machine that has ended (a stand-in for a killed worker)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _hparams(folder: Path) -> tuple[dict, dict]:
    """The HParams session TensorBoard reads from ``folder``: hyper-parameters and the last value of each metric."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(folder))
    acc.Reload()
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    hparams = {k: getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    return hparams, {tag: acc.Scalars(tag)[-1].value for tag in acc.Tags()["scalars"]}


def test_a_seeded_study_finds_the_planted_rate_prunes_the_hopeless_and_resumes(tune, tmp_path, capsys):
    import optuna

    cfg = _config(tmp_path)
    # a journal file, not the default SQLite, keeps this test fast (a new SQLite schema takes 1.6 s); the slow
    # tests below use the default SQLite study
    journal = tmp_path / "study.log"
    common = [str(cfg), "--work-dir", str(tmp_path), "--storage", str(journal)]
    assert tune.main([*common, "--trials", "2"]) == 0
    # a worker killed during its trial leaves it running in the storage: the next start fails it and goes on
    study = optuna.load_study(study_name="toy_tune", storage=tune.open_storage(str(journal)))
    orphan = study.ask()
    orphan.set_user_attr("host", socket.gethostname())
    orphan.set_user_attr("pid", _dead_pid())
    capsys.readouterr()
    assert tune.main(common) == 0  # tune.trials=4: the study is loaded and only the missing trials run
    printed = capsys.readouterr().out
    assert f"--- trial {orphan.number}: failed (left running by a process that no longer exists)" in printed
    study_dir = tmp_path / "tune" / "toy_tune"
    summary = json.loads((study_dir / "tune.json").read_text())
    trials = [t for t in summary["trials"] if t["number"] != orphan.number]
    assert orphan.number == 2 and summary["trials"][2]["state"] == "fail"
    assert [t["number"] for t in trials] == [0, 1, 3, 4] and summary["counts"]["fail"] == 1
    completed_good = False
    for t in trials:  # the median pruner's rule with one startup trial, worked out for these two rates
        lr = t["params"]["optim.lr"]
        run = Path(t["run_dir"])
        record = json.loads((run / "trial.json").read_text())
        iters, best = _val_iters_and_best(run)
        if lr == HOPELESS and completed_good:
            assert t["state"] == "pruned" and record["state"] == "pruned" and "MedianPruner" in record["reason"]
            assert iters == [2]  # stopped at the first validation of four iterations
            assert "stopped at iteration 2: pruned by" in (run / "log.txt").read_text()
        else:
            assert t["state"] == "complete" and record["state"] == "complete" and iters == [2, 4]
            assert t["value"] == pytest.approx(best, abs=1e-12)  # a trial's value is its best validation
        completed_good |= lr == GOOD and t["state"] == "complete"
        # TensorBoard's HParams dashboard: the trial's rate, state and value (pruned: its best before the stop)
        hparams, scalars = _hparams(study_dir / "tb" / f"trial_{t['number']:04d}")
        assert hparams == {"optim.lr": pytest.approx(lr), "trial": t["number"], "state": t["state"]}
        assert scalars["mse"] == pytest.approx(best, rel=1e-6)
    assert [t["params"]["optim.lr"] for t in trials] == [HOPELESS, GOOD, GOOD, HOPELESS]  # the seeded draws
    assert [t["state"] for t in trials] == ["complete", "complete", "complete", "pruned"]
    # the planted optimum: every trial of the good rate beats every complete trial of the hopeless one
    complete = [t for t in trials if t["state"] == "complete"]
    best = min(complete, key=lambda t: t["value"])
    assert summary["best"]["number"] == best["number"] and best["params"] == {"optim.lr": GOOD}
    assert max(t["value"] for t in complete if t["params"]["optim.lr"] == GOOD) < min(
        t["value"] for t in complete if t["params"]["optim.lr"] == HOPELESS
    )
    assert summary["direction"] == "minimize" and summary["metric"] == "mse"
    assert load_config(study_dir / "best_config.py").optim.lr == GOOD
    with open(study_dir / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == [t["state"] for t in summary["trials"]]
    for name in ("history.png", "parallel.png"):
        assert (study_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and summary["plots"][name] == "written"
    # one parameter: fANOVA importances say nothing, and the plot is skipped with the reason
    assert not (study_dir / "importances.png").exists()
    assert "importances.png skipped: needs 2 complete trial(s) and 2 parameter(s), the study has 3 and 1" in printed


def test_workers_get_one_gpu_each_or_a_share_of_the_cores(tune, monkeypatch):
    import torch

    cfg = load_config(TOY)  # device 'auto'
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(tune.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert [env["OMP_NUM_THREADS"] for env, _ in tune.worker_plan(cfg, 3)] == ["5", "5", "5"]  # 16 // 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's cap stays a cap
    assert [env["OMP_NUM_THREADS"] for env, _ in tune.worker_plan(cfg, 2)] == ["2", "2"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [env for env, _ in tune.worker_plan(cfg, 3)] == [{"CUDA_VISIBLE_DEVICES": g} for g in "010"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")  # ids as this process sees them
    assert [env["CUDA_VISIBLE_DEVICES"] for env, _ in tune.worker_plan(cfg, 2)] == ["5", "7"]
    cfg["device"] = "cpu"
    assert "OMP_NUM_THREADS" in tune.worker_plan(cfg, 2)[0][0]
    cfg["device"] = "cuda:1"
    with pytest.raises(ConfigError, match="--workers 2: device='cuda:1' names one GPU"):
        tune.worker_plan(cfg, 2)


def test_unknown_search_keys_are_one_error_line(tune, tmp_path):
    cfg = load_config(_config(tmp_path, STUDY.replace('"optim.lr"', '"optim.lrr"')))
    with pytest.raises(ConfigError, match=r"tune.params\['optim.lrr'\]: override optim.lrr: no key 'lrr'.*lr"):
        tune.tune_section(cfg)
    cfg = load_config(_config(tmp_path, STUDY.replace("trials=4", "trails=4")))
    with pytest.raises(ConfigError, match="tune.trails: unknown key. Did you mean trials"):
        tune.tune_section(cfg)
    bad = STUDY.replace(f"choices=[{GOOD!r}, {HOPELESS!r}]", "choices=['fast']")
    with pytest.raises(ConfigError, match="expected float"):  # --set's type check: lr is a float
        tune.tune_section(load_config(_config(tmp_path, bad)))


def _run(cfg: Path, tmp_path: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PLUGINS), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "tools/tune.py", str(cfg), "--work-dir", str(tmp_path), *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _study(tmp_path: Path):
    import optuna

    return optuna.load_study(study_name="toy_tune", storage=f"sqlite:///{tmp_path / 'tune' / 'toy_tune.db'}")


@pytest.mark.slow
def test_a_killed_study_resumes_with_the_trials_it_had(tmp_path):
    cfg = _config(tmp_path)
    proc = _run(cfg, tmp_path, "--trials", "3")  # the default storage: <work_dir>/tune/toy_tune.db
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("--- trial 1: optim.lr="):  # trial 0 is complete and trial 1 has started
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    before = {t.number: t for t in _study(tmp_path).get_trials()}
    assert before[0].state.name == "COMPLETE" and before[1].state.name == "RUNNING"

    proc = _run(cfg, tmp_path, "--trials", "3")  # the same command again
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    after = {t.number: t for t in _study(tmp_path).get_trials()}
    # the finished trial is kept as it was (not run again), the killed one is failed, two new ones finish
    assert after[0].value == before[0].value and after[0].params == before[0].params
    assert after[0].user_attrs["run_dir"] == before[0].user_attrs["run_dir"]
    assert after[1].state.name == "FAIL" and "ended before the trial did" in after[1].user_attrs["reason"]
    record = json.loads((Path(after[1].user_attrs["run_dir"]) / "trial.json").read_text())
    assert record["state"] == "failed"
    assert sorted(after) == [0, 1, 2, 3] and all(after[n].state.is_finished() for n in (2, 3))
    assert "--- trial 0:" not in out and "--- trial 1: failed (left running" in out
    assert "3 complete, 0 pruned, 1 failed" in out or "2 complete, 1 pruned, 1 failed" in out


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(tmp_path):
    cfg = _config(tmp_path, STUDY.replace('sampler="random"', 'sampler="tpe"'))
    proc = _run(cfg, tmp_path, "--workers", "2")
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out
    trials = _study(tmp_path).get_trials()
    # exactly the 4 trials of tune.trials, each once, each in its own run folder
    assert sorted(t.number for t in trials) == [0, 1, 2, 3] and all(t.state.is_finished() for t in trials)
    assert len({t.user_attrs["run_dir"] for t in trials}) == 4
    # two processes took them (each worker starts one trial at once, under the study's lock)
    assert len({t.user_attrs["pid"] for t in trials}) == 2 and "[worker 1] trial" in out and "[worker 2] trial" in out
    assert "worker 1/2: 1 CPU thread(s)" in out and "4 trials, " in out


def test_bad_arguments_are_one_line(tune, capsys):
    with pytest.raises(SystemExit) as stop:
        tune.parse_args(["cfg.py", "--workers", "0"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: argument --workers: must be a positive integer, got 0")
    assert len(err.strip().splitlines()) == 1
