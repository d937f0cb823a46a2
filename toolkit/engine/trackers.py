"""Optional experiment trackers beside TensorBoard: MLflow and Weights & Biases.

Each is used only when its package is installed and the config's ``log`` section enables it
(``configs/_base_/runtime.py``)::

    log = dict(
        mlflow=dict(enabled=False, tracking_uri=None, experiment=None, upload_checkpoint=False),
        wandb=dict(enabled=False, project=None, mode="offline", upload_checkpoint=False),
    )

``python tools/train.py CFG --set log.mlflow.enabled=True`` then logs, from :class:`~toolkit.engine.runlog.RunLog`:
the resolved config flattened to ``section.key`` parameters, every record of ``metrics.jsonl``
(``train/loss``, ``val/psnr``, ... at its iteration, the scalars TensorBoard gets) and, at the end, the
paths of ``best.pt`` / ``last.pt`` as tags (MLflow) or summary values (W&B). Checkpoints are uploaded
only with ``upload_checkpoint=True`` and only by a run that finished; a run ended by an error or Ctrl-C is
marked FAILED or KILLED (MLflow status, W&B exit code 1). Pictures stay in ``vis/`` and TensorBoard.

- MLflow: ``tracking_uri=None`` is a SQLite store in the run folder (``sqlite:///<run>/mlflow.db``,
  artifacts in ``<run>/mlartifacts``); give ``'sqlite:///work_dirs/mlflow.db'`` to gather runs in one
  store, or a server's URL. The experiment defaults to the task's name, the run name to
  ``<config>/<timestamp>``. Browse with ``mlflow ui --backend-store-uri sqlite:///<run>/mlflow.db``.
- W&B: ``mode='offline'`` (the default: nothing goes over the network) writes ``<run>/wandb/``;
  ``wandb sync <run>/wandb/offline-run-*`` uploads it later; ``mode='online'`` logs live. The project
  defaults to the task's name.

The tracker runs' ids are kept in ``<run>/trackers.json``: a resumed run (``--resume``) continues the
same MLflow run and W&B run. Steps a killed run logged after its last checkpoint are logged again on
resume (TensorBoard and ``metrics.jsonl`` drop them; MLflow keeps both values of such a step, W&B
the later one when synced).
"""

from __future__ import annotations

import json
import logging
import secrets
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError

__all__ = ["TRACKERS", "check_trackers", "open_trackers", "flatten"]

# tracker -> (the keys of its section, the pip name that installs its module)
TRACKERS = {
    "mlflow": (("enabled", "tracking_uri", "experiment", "upload_checkpoint"), "mlflow"),
    "wandb": (("enabled", "project", "mode", "upload_checkpoint"), "wandb"),
}
_WANDB_MODES = ("offline", "online")
_IDS = "trackers.json"


def check_trackers(section: Any) -> list[str]:
    """Validate the config's ``log`` section; return the names of the enabled trackers.

    Raises:
        ConfigError: an unknown tracker or key, a value of the wrong kind, or an enabled tracker whose
            package is not installed (naming the ``pip install`` that fixes it).
    """
    if section is None:
        return []
    if not isinstance(section, dict):
        raise ConfigError(f"log must be a dict of trackers ({', '.join(TRACKERS)}), got {section!r}")
    enabled = []
    for name, options in section.items():
        if name not in TRACKERS:
            raise ConfigError(f"log.{name}: unknown tracker; log holds {', '.join(TRACKERS)}")
        keys, pip_name = TRACKERS[name]
        if options is None:
            continue
        if not isinstance(options, dict):
            raise ConfigError(f"log.{name} must be a dict with keys {', '.join(keys)}, got {options!r}")
        unknown = sorted(set(options) - set(keys))
        if unknown:
            raise ConfigError(f"log.{name}: unknown key(s) {unknown}; the keys are {', '.join(keys)}")
        for flag in ("enabled", "upload_checkpoint"):
            if not isinstance(options.get(flag, False), bool):
                raise ConfigError(f"log.{name}.{flag} must be True or False, got {options[flag]!r}")
        for key in ("tracking_uri", "experiment", "project"):
            value = options.get(key)
            if value is not None and not (isinstance(value, str) and value):
                raise ConfigError(f"log.{name}.{key} must be a non-empty string or None, got {value!r}")
        if name == "wandb" and options.get("mode", "offline") not in _WANDB_MODES:
            raise ConfigError(f"log.wandb.mode must be 'offline' or 'online', got {options.get('mode')!r}")
        if not options.get("enabled", False):
            if options.get("upload_checkpoint"):  # an option with no effect
                raise ConfigError(f"log.{name}.upload_checkpoint=True needs log.{name}.enabled=True")
            continue
        try:
            __import__(name)
        except ImportError:
            raise ConfigError(
                f"log.{name}.enabled=True but {name} is not installed: pip install {pip_name} "
                "(or pip install 'dense-toolkit[trackers]')"
            ) from None
        enabled.append(name)
    return enabled


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{'train': {'lr': 1}, 'loss': [{'type': 'mse'}]}`` -> ``{'train.lr': 1, 'loss.0.type': 'mse'}``.

    Empty dicts and lists stay as one entry (``'metrics': []``); keys starting with ``_`` are left out.
    """
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not str(k).startswith("_"):
                out.update(flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(value, (list, tuple)) and value and any(isinstance(v, (dict, list, tuple)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: value}


def open_trackers(cfg: Any, run_dir: Path, info: Callable[[str], None]) -> list[Any]:
    """Start (or continue, by the ids in ``<run_dir>/trackers.json``) the trackers ``cfg.log`` enables.

    Each logs the flattened config as its parameters here; ``info`` receives a line per tracker.
    """
    names = check_trackers(cfg.get("log"))
    if not names:
        return []
    ids_path = run_dir / _IDS
    ids = json.loads(ids_path.read_text()) if ids_path.is_file() else {}
    params = flatten(cfg.to_dict())
    context = {"task": str(cfg.get("task")), "run_name": f"{run_dir.parent.name}/{run_dir.name}"}
    trackers = []
    for name in names:
        kind = _MLflow if name == "mlflow" else _Wandb
        try:
            tracker = kind(cfg.log[name], run_dir, ids.get(name), context, info)
            tracker.log_params(params)
        except Exception as exc:  # an unreachable server, a store it cannot open: one line, not its traceback
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise ConfigError(f"log.{name}: cannot start the {name} run ({type(exc).__name__}: {first})") from None
        ids[name] = tracker.ids()
        trackers.append(tracker)
    tmp = ids_path.with_name(f".{_IDS}.tmp")
    tmp.write_text(json.dumps(ids, indent=1) + "\n")
    tmp.replace(ids_path)
    return trackers


def _checkpoints(run_dir: Path) -> dict[str, Path]:
    """``{'best': path, 'last': path}`` of the checkpoints the run folder holds."""
    paths = {name: run_dir / "checkpoints" / f"{name}.pt" for name in ("best", "last")}
    return {name: path for name, path in paths.items() if path.is_file()}


class _MLflow:
    """One MLflow run through ``MlflowClient`` (no process-global active run: runs of one process stay apart)."""

    def __init__(self, options: dict, run_dir: Path, saved: dict | None, context: dict, info: Callable[[str], None]):
        from mlflow.tracking import MlflowClient

        # its "Creating initial MLflow database tables..." lines would break into the run's log
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        self.options, self.info, self.run_dir = options, info, run_dir
        own_store = options.get("tracking_uri") is None
        # NOTE: SQLite, not MLflow's ./mlruns file store: MLflow 3 refuses the file store unless an
        # environment variable opts in, and SQLite needs no server.
        uri = f"sqlite:///{(run_dir / 'mlflow.db').resolve()}" if own_store else options["tracking_uri"]
        if saved and saved.get("run_id"):  # a resumed run folder: the store and run it began with
            if saved["tracking_uri"] != uri:
                where = saved["tracking_uri"]
                info(f"mlflow: log.mlflow.tracking_uri={uri} ignored: this run folder's run is in {where}")
            self.uri, self.run_id = saved["tracking_uri"], saved["run_id"]
            self.client = MlflowClient(tracking_uri=self.uri)
            self.client.update_run(self.run_id, status="RUNNING")
            info(f"mlflow: continuing run {self.run_id} in {self.uri}")
            return
        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        experiment = options.get("experiment") or context["task"]
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            where = (run_dir / "mlartifacts").resolve().as_uri() if own_store else None
            exp_id = self.client.create_experiment(experiment, artifact_location=where)
        else:
            exp_id = found.experiment_id
        run = self.client.create_run(exp_id, run_name=context["run_name"], tags={"run_dir": str(run_dir)})
        self.run_id = run.info.run_id
        info(f"mlflow: run {self.run_id} of experiment {experiment!r} in {uri}")

    def ids(self) -> dict:
        return {"run_id": self.run_id, "tracking_uri": self.uri}

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        logged = self.client.get_run(self.run_id).data.params
        new = {k: _param_text(v) for k, v in params.items()}
        changed = sorted(k for k, v in new.items() if k in logged and logged[k] != v)
        if changed:  # MLflow parameters cannot change: the first session's values stay
            self.info(f"mlflow: parameters changed since the run began, kept as first logged: {changed[:8]}")
        fresh = [Param(k, v) for k, v in new.items() if k not in logged]
        for i in range(0, len(fresh), 100):  # MLflow takes at most 100 parameters per batch
            self.client.log_batch(self.run_id, params=fresh[i : i + 100])

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, int(step)) for k, v in values.items()])

    def finish(self, status: str = "FINISHED") -> None:
        for name, path in _checkpoints(self.run_dir).items():
            self.client.set_tag(self.run_id, f"checkpoint.{name}", str(path.resolve()))
            if self.options.get("upload_checkpoint") and status == "FINISHED":
                self.client.log_artifact(self.run_id, str(path), artifact_path="checkpoints")
        self.client.set_terminated(self.run_id, status)


class _Wandb:
    """One W&B run (offline by default) written under ``<run_dir>/wandb``."""

    def __init__(self, options: dict, run_dir: Path, saved: dict | None, context: dict, info: Callable[[str], None]):
        import wandb

        self.options, self.run_dir = options, run_dir
        alphabet = string.ascii_lowercase + string.digits  # W&B run ids: 8 of these, like its own
        run_id = (saved or {}).get("run_id") or "".join(secrets.choice(alphabet) for _ in range(8))
        mode = options.get("mode", "offline")
        self.run = wandb.init(
            project=options.get("project") or (saved or {}).get("project") or context["task"],
            name=context["run_name"],
            id=run_id,
            resume="allow",
            dir=str(run_dir),
            mode=mode,
            # NOTE: console capture off: the progress bar and log lines stay as they are on the terminal
            settings=wandb.Settings(silent=True, console="off"),
        )
        self.project = self.run.project
        where = getattr(self.run.settings, "sync_dir", None) or run_dir / "wandb"
        verb = "continuing" if saved else "run"
        tail = f"; upload it with: wandb sync {where}" if mode == "offline" else ""
        info(f"wandb: {verb} {run_id} ({mode}) of project {self.project!r} in {where}{tail}")

    def ids(self) -> dict:
        return {"run_id": self.run.id, "project": self.project}

    def log_params(self, params: dict[str, Any]) -> None:
        self.run.config.update(params, allow_val_change=True)

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=int(step))

    def finish(self, status: str = "FINISHED") -> None:
        for name, path in _checkpoints(self.run_dir).items():
            self.run.summary[f"checkpoint/{name}"] = str(path.resolve())
            if self.options.get("upload_checkpoint") and status == "FINISHED":
                import wandb

                artifact = wandb.Artifact(f"{self.run.id}-{name}", type="model")
                artifact.add_file(str(path))
                self.run.log_artifact(artifact)
        self.run.finish(exit_code=0 if status == "FINISHED" else 1)


def _param_text(value: Any) -> str:
    # MLflow stores parameters as text of at most 6000 characters
    text = json.dumps(value) if isinstance(value, (list, tuple, dict)) else str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."
