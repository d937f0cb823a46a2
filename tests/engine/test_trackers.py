"""Optional experiment trackers: the config section, one-line errors, what RunLog forwards, MLflow and W&B runs.

The MLflow and W&B runs are marked slow (MLflow creates its SQLite tables, ~7 s; W&B starts its service)
and skip when the package is not installed (CI installs `.[dev]` only; `.[trackers]` brings them).
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

from toolkit.config import load_config
from toolkit.engine import runlog as runlog_module
from toolkit.engine.runlog import RunLog
from toolkit.engine.trackers import check_trackers, flatten
from toolkit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"
TOY = PLUGINS / "toy_denoise.py"


def test_defaults_are_off_and_wandb_offline():
    cfg = load_config(TOY)
    assert cfg.log.mlflow.enabled is False and cfg.log.wandb.enabled is False
    assert cfg.log.wandb.mode == "offline" and cfg.log.mlflow.tracking_uri is None
    assert check_trackers(cfg.log) == [] and check_trackers(None) == []


@pytest.mark.parametrize(
    "section, message",
    [
        ({"mlfow": {}}, "log.mlfow: unknown tracker; log holds mlflow, wandb"),
        ({"mlflow": {"enabled": True, "uri": "x"}}, "log.mlflow: unknown key(s) ['uri']"),
        ({"wandb": {"enabled": True, "mode": "online2"}}, "log.wandb.mode must be 'offline' or 'online'"),
        ({"wandb": {"enabled": "yes"}}, "log.wandb.enabled must be True or False"),
        ({"mlflow": {"enabled": False, "upload_checkpoint": True}}, "needs log.mlflow.enabled=True"),
        ({"mlflow": {"enabled": True, "experiment": ""}}, "log.mlflow.experiment must be a non-empty string"),
    ],
)
def test_bad_sections_are_errors(section, message):
    with pytest.raises(ConfigError) as info:
        check_trackers(section)
    assert message in str(info.value)


def test_a_typo_in_a_config_override_names_the_keys():
    with pytest.raises(ConfigError, match="no key 'enable'"):
        load_config(TOY, ["log.mlflow.enable=True"])


@pytest.mark.parametrize("name", ["mlflow", "wandb"])
def test_enabled_but_not_installed_is_one_line(name, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, name, None)  # import fails as if absent
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    args = ["tools/train.py", "tasks/video_pred/simvp_tiny.py", "--work-dir", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", [*args, "--set", f"log.{name}.enabled=True"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(ROOT / "tools/train.py"), run_name="__main__")
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"log.{name}.enabled=True but {name} is not installed: pip install {name}" in err
    assert not list(tmp_path.iterdir())  # stopped before a run folder was made


def test_flatten_gives_dotted_keys():
    cfg = {"train": {"lr": 0.1, "ema": None}, "loss": [{"type": "mse", "weight": 1.0}], "metrics": [], "_source_": "x"}
    assert flatten(cfg) == {
        "train.lr": 0.1,
        "train.ema": None,
        "loss.0.type": "mse",
        "loss.0.weight": 1.0,
        "metrics": [],
    }
    assert flatten({"sizes": [3, 5]}) == {"sizes": [3, 5]}  # a list of plain values stays one parameter


class _Recorder:
    def __init__(self):
        self.metrics, self.finished = [], []

    def log_metrics(self, values, step):
        self.metrics.append((step, dict(values)))

    def log_params(self, params):
        pass

    def ids(self):
        return {}

    def finish(self, status="FINISHED"):
        self.finished.append(status)


def test_runlog_forwards_params_records_and_the_end(tmp_path, monkeypatch):
    recorder, opened = _Recorder(), []

    def fake_open(cfg, run_dir, info):
        opened.append((cfg.task, run_dir))
        return [recorder]

    monkeypatch.setattr(runlog_module, "open_trackers", fake_open)
    monkeypatch.setattr(runlog_module, "environment_report", lambda: "")  # its imports take seconds
    log = RunLog(tmp_path, tensorboard=False)
    log.write_setup(load_config(TOY), ["train.py"])
    log.metrics({"loss": 0.5, "lr": 0.1, "epoch": 0}, prefix="train", step=3)
    log.metrics({"mse": 0.25, "epoch": 1}, prefix="val", step=6)
    log.close()
    assert opened == [("labtasks.toy_denoise", tmp_path)]
    assert recorder.metrics == [(3, {"train/loss": 0.5, "train/lr": 0.1}), (6, {"val/mse": 0.25})]
    assert recorder.finished == ["FINISHED"]
    log.close()
    assert recorder.finished == ["FINISHED"]  # a second close ends nothing twice


class _Unreachable(_Recorder):
    def finish(self, status="FINISHED"):
        raise ConnectionError("tracking server unreachable")


def test_one_failing_tracker_does_not_keep_the_others_running(tmp_path, monkeypatch):
    first, second = _Unreachable(), _Recorder()
    monkeypatch.setattr(runlog_module, "open_trackers", lambda cfg, run_dir, info: [first, second])
    monkeypatch.setattr(runlog_module, "environment_report", lambda: "")
    log = RunLog(tmp_path, tensorboard=False)
    log.write_setup(load_config(TOY), ["train.py"])
    with pytest.raises(ConnectionError):
        log.close()
    assert second.finished == ["FINISHED"]


def test_the_run_error_survives_a_tracker_that_fails_to_close(tmp_path, monkeypatch, capsys):
    from toolkit.engine import Trainer

    monkeypatch.setattr(runlog_module, "open_trackers", lambda cfg, run_dir, info: [_Unreachable()])
    monkeypatch.syspath_prepend(str(PLUGINS))
    trainer = Trainer(load_config(TOY, ["device='cpu'"]), work_dir=tmp_path)

    def step(batches):
        raise RuntimeError("the run's own error")

    trainer.step = step
    with pytest.raises(RuntimeError, match="the run's own error"):
        trainer.train()
    assert "closing the run's logs failed too: tracking server unreachable" in capsys.readouterr().err


@pytest.mark.parametrize(("error", "status"), [(RuntimeError("boom"), "FAILED"), (KeyboardInterrupt(), "KILLED")])
def test_a_crashed_or_interrupted_run_ends_its_tracker_run_with_that_status(tmp_path, monkeypatch, error, status):
    from toolkit.engine import Trainer

    recorder = _Recorder()
    monkeypatch.setattr(runlog_module, "open_trackers", lambda cfg, run_dir, info: [recorder])
    monkeypatch.syspath_prepend(str(PLUGINS))
    trainer = Trainer(load_config(TOY, ["device='cpu'"]), work_dir=tmp_path)
    calls = []

    def step(batches):
        calls.append(1)
        if len(calls) == 3:
            raise error
        return real_step(batches)

    real_step, trainer.step = trainer.step, step
    with pytest.raises(type(error)):
        trainer.train()
    assert recorder.finished == [status] and len(calls) == 3


# ---------------------------------------------------------------- the real trackers (slow)
def _train(tmp_path, monkeypatch, *sets, resume=None):
    from toolkit.engine import Trainer

    monkeypatch.syspath_prepend(str(PLUGINS))
    cfg = load_config(TOY, ["device='cpu'", *sets])
    trainer = Trainer(cfg, work_dir=tmp_path, resume=resume)
    trainer.train()
    return trainer.run_dir


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_mlflow_run_holds_the_config_and_every_record_and_resumes(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    run_dir = _train(tmp_path, monkeypatch, "log.mlflow.enabled=True")
    saved = json.loads((run_dir / "trackers.json").read_text())["mlflow"]
    assert saved["tracking_uri"] == f"sqlite:///{(run_dir / 'mlflow.db').resolve()}"  # in the run folder
    client = MlflowClient(saved["tracking_uri"])
    run = client.get_run(saved["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == f"toy_denoise/{run_dir.name}"
    params = run.data.params
    assert params["optim.lr"] == "0.2" and params["train.batch_size"] == "8" and params["loss.0.type"] == "mse"
    assert params["model.in_channels"] == "2"  # the data-derived size, as written back into the config
    assert run.data.tags["checkpoint.best"] == str((run_dir / "checkpoints" / "best.pt").resolve())
    assert client.list_artifacts(saved["run_id"]) == []  # nothing uploaded by default

    def history(client, run_id):
        found = {}
        for key in client.get_run(run_id).data.metrics:
            for m in client.get_metric_history(run_id, key):
                found.setdefault((key, m.step), []).append(m.value)
        return found

    expected = {}
    for r in _records(run_dir):
        for key, value in r.items():
            if key not in ("split", "iter", "epoch"):
                expected[(f"{r['split']}/{key}", r["iter"])] = [value]
    assert history(client, saved["run_id"]) == expected  # equal to metrics.jsonl, value for value

    # resume with more iterations: the same MLflow run continues; this time the checkpoints are uploaded
    sets = ["log.mlflow.enabled=True", "log.mlflow.upload_checkpoint=True", "train.max_iters=18"]
    again = _train(tmp_path, monkeypatch, *sets, resume="auto")
    assert again == run_dir and json.loads((run_dir / "trackers.json").read_text())["mlflow"] == saved
    steps = sorted(step for key, step in history(client, saved["run_id"]) if key == "val/mse")
    assert steps == [6, 12, 18] and client.get_run(saved["run_id"]).info.status == "FINISHED"
    uploaded = [a.path for a in client.list_artifacts(saved["run_id"], "checkpoints")]
    assert uploaded == ["checkpoints/best.pt", "checkpoints/last.pt"]
    assert (run_dir / "mlartifacts").is_dir()  # beside the store, in the run folder


@pytest.mark.slow
def test_wandb_offline_writes_a_run_folder_and_resumes_the_same_id(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = _train(tmp_path, monkeypatch, "log.wandb.enabled=True")
    saved = json.loads((run_dir / "trackers.json").read_text())["wandb"]
    assert saved["project"] == "labtasks.toy_denoise"
    (first,) = (run_dir / "wandb").glob(f"offline-run-*-{saved['run_id']}")
    assert (first / f"run-{saved['run_id']}.wandb").stat().st_size > 0
    _train(tmp_path, monkeypatch, "log.wandb.enabled=True", "train.max_iters=18", resume="auto")
    assert json.loads((run_dir / "trackers.json").read_text())["wandb"] == saved
    assert len(list((run_dir / "wandb").glob(f"offline-run-*-{saved['run_id']}"))) == 2  # one per session, one id
