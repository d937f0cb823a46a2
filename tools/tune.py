"""Search hyper-parameters with Optuna: every trial is a normal training run, hopeless ones are pruned early.

    python tools/tune.py CFG [--trials N] [--workers N] [--storage URL] [--study NAME] [--timeout S]
        [--work-dir DIR] [--set KEY=VALUE ...]

The search space is the config's ``tune`` section, literals like the rest of the config::

    tune = dict(
        params={
            "optim.lr": dict(type="float", low=1e-4, high=1e-2, log=True),     # also step=...
            "model.hid_S": dict(type="int", low=8, high=32, step=8),           # also log=True
            "model.attn.type": dict(type="categorical", choices=["se", "cbam", "eca"]),
        },
        trials=20,        # finished trials (complete or pruned) the study should hold; --trials wins
        sampler="tpe",    # 'tpe' | 'random' | 'grid' (categorical and int params), or dict(type="tpe", **options)
        pruner="median",  # 'median' | 'percentile' | 'hyperband' | 'successive_halving' | 'threshold' | 'none',
                          # or dict(type="median", n_startup_trials=2, n_warmup_steps=0)
        seed=None,        # the sampler's seed (None: the config's seed)
    )

Every key of ``params`` is a config key checked like ``--set`` checks it (it must exist; every choice and
bound must have the default's type) before any trial starts. The objective is the Task's primary
metric (the one that picks ``best.pt``; its direction comes from the metric): a trial's value is its
best validation value. The Trainer reports every validation to the trial, and the pruner may stop it
there; ``train.early_stop`` still applies.

Files (study name: ``--study``, default the config's name): the default storage ``<work_dir>/tune/<study>.db``
(SQLite), and in the study folder ``<work_dir>/tune/<study>/``: ``trial_<n>/<config>/<time>/`` (each trial's
run folder, with ``trial.json``: its number, parameters, state ``running|complete|pruned|failed`` and why),
``tune.json``, ``trials.csv`` and ``trials.md`` (every trial), ``best_config.py`` (the best trial's resolved
config: ``python tools/train.py .../best_config.py`` trains it again), Optuna's matplotlib plots
``history.png`` (optimisation history), ``importances.png`` (fANOVA parameter importances; needs 2 complete
trials and 2 parameters) and ``parallel.png`` (parallel coordinates; needs 2 complete trials) -- a plot that
cannot be drawn yet is skipped with a line saying why -- and ``tb/trial_<n>/``, a TensorBoard HParams
session per finished trial (``tensorboard --logdir <study folder>/tb``, tab HPARAMS).

``--workers N`` runs N trials at a time on this machine: N processes of this tool sharing the study's storage,
each on its own GPU when there are GPUs (round robin when N exceeds them), else each with an equal share of
the CPU cores as threads. They take trials in turn under a file lock in the study folder, so together they
run exactly the missing trials. Several machines share one study through one ``--storage``: an RDB URL
(``sqlite:///path/study.db``, ``postgresql://user@host/db``, ``mysql://...``) or a journal file path ending in
``.log`` (a shared file system). The same command started again, or elsewhere, joins the study and runs
only the trials still missing from ``N`` (machines that start trials at the same moment may overshoot by
one each). A study resumes after an interruption: the finished trials stay, and a trial left running by
a killed process is marked failed and not counted -- at once when the process ran on this machine (its
pid is gone), else (RDB storage) after two missed heartbeats (a minute). Open the study in a browser with
``optuna-dashboard sqlite:///<work_dir>/tune/<study>.db`` (``pip install optuna-dashboard``, optional).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import _common  # also puts the repository on sys.path
from _tune_report import print_summary, public_url, summarise

TUNE_KEYS = ("params", "trials", "sampler", "pruner", "seed")
SPEC_KEYS = {
    "float": ("low", "high", "log", "step"),
    "int": ("low", "high", "log", "step"),
    "categorical": ("choices",),
}
SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler", "grid": "GridSampler"}
PRUNERS = {
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "hyperband": "HyperbandPruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "threshold": "ThresholdPruner",
    "none": "NopPruner",
}
HEARTBEAT_S = 30


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="config file with a tune = dict(params=...) section")
    p.add_argument(
        "--trials", type=int, metavar="N", help="finished trials the study should hold (default tune.trials)"
    )
    p.add_argument("--storage", metavar="URL", help="Optuna storage (default sqlite:///<work_dir>/tune/<study>.db)")
    p.add_argument("--study", metavar="NAME", help="study name (default: the config file's name)")
    p.add_argument(
        "--workers", type=_common.positive_int, default=1, metavar="N", help="trials run at a time on this machine"
    )
    p.add_argument("--timeout", type=float, metavar="S", help="start no trial after S seconds (a running one finishes)")
    p.add_argument("--work-dir", metavar="DIR", help="root of the study folder (default: the config's work_dir)")
    p.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)  # set by --workers for its processes
    _common.add_set_option(p, "overrides applied to every trial (e.g. train.max_iters=200)")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- the search space


def _fail(cfg, msg: str):
    from toolkit.errors import ConfigError

    return ConfigError(f"{cfg.get('_source_', 'config')}: {msg}")


def tune_section(cfg) -> dict[str, Any]:
    """The config's ``tune`` section as a plain dict, its keys and every parameter spec checked."""
    import difflib

    tune = cfg.get("tune")
    if not isinstance(tune, dict) or not tune.get("params"):
        raise _fail(
            cfg, "no search space: add tune = dict(params={'optim.lr': dict(type='float', low=1e-4, high=1e-2)})"
        )
    tune = tune.to_dict() if hasattr(tune, "to_dict") else dict(tune)
    for key in tune:
        if key not in TUNE_KEYS:
            close = difflib.get_close_matches(key, TUNE_KEYS, n=2)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise _fail(cfg, f"tune.{key}: unknown key.{hint} tune takes {', '.join(TUNE_KEYS)}")
    if not isinstance(tune["params"], dict):
        raise _fail(cfg, f"tune.params must be a dict of config key -> spec, got {type(tune['params']).__name__}")
    for key, spec in tune["params"].items():
        check_param(cfg, key, spec)
    return tune


def check_param(cfg, key: str, spec: Any) -> None:
    """One ``tune.params`` entry: a known spec type with its keys, and values ``--set key=value`` accepts."""
    from toolkit.config import apply_overrides
    from toolkit.errors import ConfigError

    where = f"tune.params[{key!r}]"
    if not isinstance(spec, dict) or spec.get("type") not in SPEC_KEYS:
        raise _fail(cfg, f"{where} must be dict(type='float'|'int'|'categorical', ...), got {spec!r}")
    kind = spec["type"]
    extra = [k for k in spec if k != "type" and k not in SPEC_KEYS[kind]]
    if extra:
        raise _fail(cfg, f"{where}: {kind} takes {', '.join(SPEC_KEYS[kind])}; unknown {', '.join(extra)}")
    if kind == "categorical":
        values = spec.get("choices")
        plain = (type(None), bool, int, float, str)
        if not isinstance(values, (list, tuple)) or not values or not all(isinstance(v, plain) for v in values):
            raise _fail(cfg, f"{where}: choices must be a non-empty list of None, bools, numbers or strings")
    else:
        number = int if kind == "int" else (int, float)
        low, high = spec.get("low"), spec.get("high")
        if not all(isinstance(v, number) and not isinstance(v, bool) for v in (low, high)) or not low < high:
            raise _fail(cfg, f"{where}: {kind} needs numbers low < high, got low={low!r}, high={high!r}")
        if spec.get("log") and spec.get("step") is not None:
            raise _fail(cfg, f"{where}: give log=True or step, not both (Optuna samples one or the other)")
        if spec.get("log") and low <= 0:
            raise _fail(cfg, f"{where}: log=True needs low > 0, got {low}")
        values = [int(low) if kind == "int" else float(low), int(high) if kind == "int" else float(high)]
    for value in values:  # the same check as --set: the key exists and the value keeps the default's type
        try:
            apply_overrides(copy.deepcopy(cfg), [f"{key}={value!r}"])
        except ConfigError as exc:
            raise _fail(cfg, f"{where}: {exc}") from None


def suggest(trial, key: str, spec: dict) -> Any:
    """The trial's value of ``key`` drawn from ``spec`` (already checked by :func:`check_param`)."""
    kind = spec["type"]
    if kind == "categorical":
        return trial.suggest_categorical(key, list(spec["choices"]))
    opts = dict(log=bool(spec.get("log", False)))
    if spec.get("step") is not None:
        opts["step"] = spec["step"]
    if kind == "int":
        return trial.suggest_int(key, int(spec["low"]), int(spec["high"]), **opts)
    return trial.suggest_float(key, float(spec["low"]), float(spec["high"]), **opts)


def _component(cfg, section: str, spec: Any, table: dict[str, str], module, **fixed):
    """An Optuna sampler or pruner from ``'name'`` or ``dict(type='name', **options)``."""
    import inspect

    spec = {"type": spec} if isinstance(spec, str) else dict(spec or {})
    name = spec.pop("type", None)
    if name not in table:
        raise _fail(cfg, f"tune.{section}: {name!r} is not one of {', '.join(table)}")
    cls = getattr(module, table[name])
    params = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in fixed.items() if k in params} | spec
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        raise _fail(cfg, f"tune.{section}: {name}: {exc}; options: {', '.join(params)}") from None
    return cls(**kwargs)


def build_sampler(cfg, tune: dict, offset: int = 0):
    """The sampler of ``tune.sampler``, seeded with ``tune.seed`` (default: the config's seed) plus ``offset``."""
    import optuna

    seed = tune.get("seed")
    fixed: dict[str, Any] = {"seed": (cfg.get("seed", 0) if seed is None else seed) + offset}
    spec = tune.get("sampler", "tpe")
    if (spec if isinstance(spec, str) else (spec or {}).get("type")) == "grid":
        space = {}
        for key, p in tune["params"].items():
            if p["type"] == "categorical":
                space[key] = list(p["choices"])
            elif p["type"] == "int" and not p.get("log"):
                space[key] = list(range(int(p["low"]), int(p["high"]) + 1, int(p.get("step") or 1)))
            else:
                raise _fail(
                    cfg, f"tune.sampler 'grid': {key} is a {p['type']} range; grid takes categorical or int params"
                )
        fixed["search_space"] = space
    return _component(cfg, "sampler", spec, SAMPLERS, optuna.samplers, **fixed)


def build_pruner(cfg, tune: dict):
    import optuna

    return _component(cfg, "pruner", tune.get("pruner", "median"), PRUNERS, optuna.pruners)


def check_storage(url: str) -> None:
    """Refuse a storage that is neither an RDB URL nor a journal file, before anything is built."""
    from toolkit.errors import ConfigError

    if "://" not in url and not url.endswith(".log"):
        msg = "expected an RDB URL (sqlite:///path.db, postgresql://...) or a journal file ending in .log"
        raise ConfigError(f"--storage {url!r}: {msg}")


def open_storage(url: str, attempts: int = 3):
    """An RDB storage with heartbeats (URL) or a journal file (``*.log``) shared by several processes."""
    import optuna

    from toolkit.errors import ConfigError

    check_storage(url)
    for attempt in range(attempts):
        try:
            if url.endswith(".log") and "://" not in url:
                from optuna.storages.journal import JournalFileBackend

                Path(url).parent.mkdir(parents=True, exist_ok=True)
                return optuna.storages.JournalStorage(JournalFileBackend(url))
            # SQLite: wait up to a minute for another worker's write instead of failing after 5 s
            engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna's words; we rely on them
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S)
        except Exception as exc:  # noqa: BLE001 - any database driver's refusal becomes one line
            # NOTE: processes started together on a new database race to create its tables (the loser sees a
            # UNIQUE constraint fail); a second attempt finds them made
            if attempt + 1 == attempts:
                raise ConfigError(f"--storage {url}: cannot open: {str(exc).splitlines()[0][:300]}") from None
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- one trial


def write_trial(run_dir: Path, record: dict) -> None:
    (run_dir / "trial.json").write_text(json.dumps(record, indent=1, default=str) + "\n")


def make_objective(args, tune: dict, metric: str, study_dir: Path, started, tag: str = ""):
    """The Optuna objective: build the trial's config, train it, report validations, return its best value.

    ``started()`` is called once the trial exists in the storage (it releases the workers' lock).
    """
    import optuna

    from toolkit.config import apply_overrides, load_config
    from toolkit.engine import Trainer, TrainingDiverged

    choices = {k: spec["choices"] for k, spec in tune["params"].items() if spec["type"] == "categorical"}

    def objective(trial) -> float:
        started()
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        values = {key: suggest(trial, key, spec) for key, spec in tune["params"].items()}
        sets = [f"{k}={v!r}" for k, v in values.items()]
        cfg = load_config(args.config, args.set)
        apply_overrides(cfg, sets)
        trainer = Trainer(cfg, work_dir=study_dir / f"trial_{trial.number:04d}", argv=sys.argv)
        run_dir = trainer.run_dir
        trial.set_user_attr("run_dir", str(run_dir))
        record = dict(
            study=trial.study.study_name,
            trial=trial.number,
            params=values,
            metric=metric,
            state="running",
            reproduce=["python", "tools/train.py", str(args.config), "--set", *args.set, *sets],
        )
        write_trial(run_dir, record)
        print(f"---{tag} trial {trial.number}: {', '.join(sets)} -> {run_dir}", flush=True)

        pruned: list[str] = []

        def report(step: int, results: dict) -> str | None:
            value = results[metric]
            trial.report(value, step)
            if trial.should_prune():
                pruner = type(trial.study.pruner).__name__
                pruned.append(f"pruned by Optuna's {pruner} ({metric} {value:.6g} at iteration {step})")
                return pruned[-1]
            return None

        def hparams(state: str, value: float | None) -> None:  # one row of TensorBoard's HParams dashboard
            row = {**values, "trial": trial.number, "state": state}
            _common.write_hparams(study_dir / "tb" / f"trial_{trial.number:04d}", row, {metric: value}, choices)

        trainer.on_validation.append(report)
        try:
            trainer.train()
        except TrainingDiverged as exc:
            write_trial(run_dir, {**record, "state": "failed", "reason": str(exc)})
            trial.set_user_attr("reason", "diverged")
            raise
        best = trainer.best
        if pruned and trainer.stop_reason == pruned[-1]:
            write_trial(run_dir, {**record, "state": "pruned", "reason": trainer.stop_reason, "best": best})
            hparams("pruned", best)  # its best validation before it was stopped
            raise optuna.TrialPruned(trainer.stop_reason)
        write_trial(run_dir, {**record, "state": "complete", "value": best, "stop_reason": trainer.stop_reason})
        hparams("complete", best)
        return best

    return objective


# --------------------------------------------------------------------------- running trials


@contextlib.contextmanager
def study_lock(study_dir: Path):
    """An exclusive lock on ``<study folder>/.lock`` shared by this machine's workers; ``release()`` ends it early.

    Held from counting the study's trials until the next trial exists in the storage, so that workers never
    start more trials than are missing. Without ``fcntl`` (Windows) it locks nothing.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        fcntl = None
    with open(study_dir / ".lock", "a") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)

        def release() -> None:
            if fcntl is not None:
                fcntl.flock(f, fcntl.LOCK_UN)

        try:
            yield release
        finally:
            release()


def fail_dead_trials(study, storage, tag: str = "") -> list[int]:
    """Mark failed the trials left running by a process of this machine that no longer exists (killed).

    Prints a line for each and returns their numbers. Trials of other machines are left to the storage's
    heartbeats.
    """
    import optuna

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    host, failed = socket.gethostname(), []
    study_id = storage.get_study_id_from_name(study.study_name)
    for t in running:
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or not isinstance(pid, int) or _alive(pid):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        reason = f"its process {pid} on {host} ended before the trial did (killed?)"
        try:
            storage.set_trial_user_attr(trial_id, "reason", reason)
            storage.set_trial_state_values(trial_id, state=optuna.trial.TrialState.FAIL)
        except RuntimeError:  # another process marked it first (Optuna's UpdateFinishedTrialError)
            continue
        run_dir = t.user_attrs.get("run_dir")
        if run_dir and (Path(run_dir) / "trial.json").is_file():
            record = json.loads((Path(run_dir) / "trial.json").read_text())
            write_trial(Path(run_dir), {**record, "state": "failed", "reason": reason})
        failed.append(t.number)
        print(f"---{tag} trial {t.number}: failed (left running by a process that no longer exists)", flush=True)
    return failed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def run_trials(args, study, storage, cfg, tune, objective_args, total: int, tag: str = "") -> None:
    """Start trials one at a time until the study holds ``total`` finished or running ones (or the timeout)."""
    import optuna

    from toolkit.engine import TrainingDiverged

    states = optuna.trial.TrialState
    start = time.monotonic()
    while True:
        if args.timeout is not None and time.monotonic() - start > args.timeout:
            done = len(study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED)))
            print(f"timeout{tag}: {args.timeout:g} s passed; {done} of {total} trials finished", flush=True)
            return
        with study_lock(objective_args["study_dir"]) as release:
            fail_dead_trials(study, storage, tag)
            taken = len(study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED, states.RUNNING)))
            if taken >= total:
                return
            if len(study.get_trials(deepcopy=False, states=(states.FAIL,))) >= total:
                print(f"stopped{tag}: the study holds {total} failed trials (see their trial.json)", flush=True)
                return
            # NOTE: one trial per call, the sampler seeded with seed + the trials the study holds: a study resumed
            # between trials draws what an uninterrupted one would have (one seeded generator would replay its
            # first draws), and workers, counting under the lock, never share a seed
            study.sampler = build_sampler(cfg, tune, offset=len(study.get_trials(deepcopy=False)))
            objective = make_objective(**objective_args, started=release, tag=tag)
            announce = _announce(objective_args["metric"], tag)
            study.optimize(objective, n_trials=1, catch=(TrainingDiverged,), callbacks=[announce])


def worker_plan(cfg, workers: int) -> list[tuple[dict[str, str], str]]:
    """Each worker's environment and a word on its share: one GPU each (round robin), else CPU threads split."""
    import torch

    from toolkit.errors import ConfigError

    device = str(cfg.get("device", "auto"))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if device.startswith("cuda:"):
        raise ConfigError(f"--workers {workers}: device={device!r} names one GPU; use 'auto' or 'cuda' to give each "
                          "worker its own")  # fmt: skip
    gpus: list[str] = []
    if device != "cpu" and torch.cuda.is_available():
        gpus = [g.strip() for g in visible.split(",") if g.strip()] if visible else []
        gpus = gpus or [str(i) for i in range(torch.cuda.device_count())]
    plan = []
    if gpus:
        for i in range(workers):
            gpu = gpus[i % len(gpus)]
            plan.append(({"CUDA_VISIBLE_DEVICES": gpu}, f"GPU {gpu}"))
        return plan
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // workers)
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():  # a cap the user set stays a cap
        threads = max(1, min(threads, int(os.environ["OMP_NUM_THREADS"])))
    share = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return [(share, f"{threads} CPU thread(s) of {cores} cores") for _ in range(workers)]


def start_workers(args, cfg, url: str, name: str, work_root: Path, workers: int, total: int) -> int:
    """Run ``workers`` processes of this tool on the study; wait for them; return how many failed."""
    plan = worker_plan(cfg, workers)
    cmd = [sys.executable, str(Path(__file__).resolve()), str(args.config), "--trials", str(total)]
    cmd += ["--storage", url, "--study", name, "--work-dir", str(work_root)]
    if args.timeout is not None:
        cmd += ["--timeout", repr(args.timeout)]
    if args.set:
        cmd += ["--set", *args.set]
    procs = []
    try:
        for i, (env, share) in enumerate(plan):
            print(f"worker {i + 1}/{workers}: {share}", flush=True)
            procs.append(subprocess.Popen([*cmd, "--worker-index", str(i + 1)], env={**os.environ, **env}))
        codes = [p.wait() for p in procs]
    finally:
        for p in procs:  # Ctrl-C or an error here: no worker outlives the command
            if p.poll() is None:
                p.terminate()
                p.wait()
    for i, code in enumerate(codes):
        if code:
            print(f"worker {i + 1} exited with status {code} (its error is printed above)", file=sys.stderr)
    return sum(bool(c) for c in codes)


def _announce(metric: str, tag: str = ""):
    def announce(study, trial) -> None:  # this process's trial, once finished
        shown = "" if trial.value is None else f" {metric} {trial.value:.6g}"
        if trial.intermediate_values and trial.state.name == "PRUNED":
            shown = f" at iteration {max(trial.intermediate_values)} ({shown.strip()} at its last validation)"
        print(f"---{tag} trial {trial.number}: {trial.state.name.lower()}{shown}", flush=True)

    return announce


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    args = parse_args(argv)
    from toolkit.config import load_config
    from toolkit.engine import build_task
    from toolkit.errors import ConfigError

    cfg = load_config(args.config, args.set)
    tune = tune_section(cfg)  # every key and bound checked before anything is written
    total = args.trials if args.trials is not None else tune.get("trials")
    if not isinstance(total, int) or isinstance(total, bool) or total < 1:
        raise ConfigError(f"give --trials N or tune.trials (a positive whole number), got {total!r}")
    if args.timeout is not None and args.timeout <= 0:
        raise ConfigError(f"--timeout must be positive seconds, got {args.timeout}")
    sampler, pruner = build_sampler(cfg, tune), build_pruner(cfg, tune)
    if args.storage:
        check_storage(args.storage)
    task = build_task(cfg)
    metric = task.primary_metric
    higher = task.build_metrics().higher_is_better(metric)  # as the Trainer picks best.pt

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the tool prints its own line per trial
    name = args.study or Path(args.config).stem
    work_root = Path(args.work_dir or cfg.get("work_dir", "work_dirs"))
    study_dir = work_root / "tune" / name
    study_dir.mkdir(parents=True, exist_ok=True)
    url = args.storage or f"sqlite:///{(work_root / 'tune' / f'{name}.db').resolve()}"
    direction = "maximize" if higher else "minimize"
    storage = open_storage(url)
    study = optuna.create_study(
        study_name=name, storage=storage, sampler=sampler, pruner=pruner, direction=direction, load_if_exists=True
    )
    space = json.dumps(tune["params"], sort_keys=True)
    saved = study.user_attrs.get("search_space")
    if saved is None:
        study.set_user_attr("search_space", space)
        study.set_user_attr("metric", metric)
    elif saved != space or study.direction.name.lower() != direction:
        raise ConfigError(
            f"study {name!r} in {public_url(url)} was created with another search space or direction "
            f"({study.direction.name.lower()} {study.user_attrs.get('metric')}, {saved}); "
            "use --study NEW_NAME for this one"
        )

    counted = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    if args.worker_index is None:
        finished = len(study.get_trials(deepcopy=False, states=counted))
        print(f"study {name}: {finished} of {total} trials finished; folder {study_dir}; {direction} {metric}")
    failed = 0
    with study_lock(study_dir):
        fail_dead_trials(study, storage)  # before the workers start: they would each find them
        taken = len(study.get_trials(deepcopy=False, states=(*counted, optuna.trial.TrialState.RUNNING)))
    if args.workers > 1 and taken < total:  # the study exists now: the workers do not race to create its tables
        failed = start_workers(args, cfg, url, name, work_root, min(args.workers, total - taken), total)
    else:
        tag = "" if args.worker_index is None else f" [worker {args.worker_index}]"
        objective_args = dict(args=args, tune=tune, metric=metric, study_dir=study_dir)
        run_trials(args, study, storage, cfg, tune, objective_args, total, tag)
    if args.worker_index is not None:  # the command that started the workers writes the summary
        return 0
    summary = summarise(study, metric, higher, study_dir, url)
    print_summary(summary)
    print((study_dir / "trials.md").read_text())
    for plot, state in summary["plots"].items():
        if state != "written":
            print(f"{plot} {state}")
    written = ["tune.json", "trials.csv", "trials.md", *[p for p, st in summary["plots"].items() if st == "written"]]
    written += ["best_config.py"] if summary["best"] else []
    print(f"wrote into {study_dir}: {', '.join(written)}; HParams: tensorboard --logdir {study_dir / 'tb'}")
    return 1 if failed else 0


if __name__ == "__main__":
    _common.run_main(main)
