"""The Trainer: one loop over iterations, readable top to bottom.

Everything generic lives here (device, AMP, optimiser, schedule, accumulation, clipping, EMA, DDP,
checkpoints, best-checkpoint selection, early stopping, logging, progress); everything task-specific
is asked of the Task (``toolkit/engine/task.py``); validation is the function
:func:`toolkit.engine.evaluate.evaluate`, which ``tools/eval.py`` uses too.

The loop does not wait for the device between batches: losses are summed on the device and read,
and checked for NaN, only at ``train.log_interval`` and before a checkpoint is written.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from toolkit.config import Config
from toolkit.engine import dist
from toolkit.engine.checkpoint import (
    clean_state_dict,
    is_toolkit_checkpoint,
    load_checkpoint,
    load_weights,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from toolkit.engine.dist import resolve_device
from toolkit.engine.ema import EMA
from toolkit.engine.evaluate import evaluate
from toolkit.engine.fs import check_writable, write_failed
from toolkit.engine.loader import eval_loader, keeps_partial_batch, to_device, train_loader
from toolkit.engine.optim import build_optimizer, build_scheduler, check_optimizer, check_scheduler
from toolkit.engine.progress import Progress
from toolkit.engine.resume import check_resumable, resolve_resume
from toolkit.engine.runlog import RunLog, new_run_dir
from toolkit.engine.task import build_task
from toolkit.engine.trackers import check_trackers
from toolkit.errors import CheckpointError, ConfigError, DeviceError, ToolkitError

__all__ = ["Trainer", "TrainingDiverged", "resolve_device"]


class TrainingDiverged(ToolkitError):
    """The loss became NaN or infinite."""


class Trainer:
    """Train a Task from a config.

    Args:
        cfg: the resolved config.
        work_dir: run folder root (default ``cfg.work_dir``); the run goes to
            ``<work_dir>/<config-stem>/<timestamp>/``.
        resume: ``'auto'`` (newest run of this config with a ``last.pt``; none yet: a new run) or a
            checkpoint path; the run continues in the checkpoint's run folder.
        load_from: a checkpoint whose weights initialise the model: a toolkit checkpoint loads what matches
            and reports the rest; released weights of another code base (``checkpoint.load_weights``) load
            strictly unless ``load_partial``.
        weights_key: the entry of ``load_from`` holding the weights (``params`` / ``params_ema``, ``model`` / ``ema``).
        load_partial: released weights: load the tensors that match and report the rest.
        argv: the command line, written to ``cmd.txt``.

    Attributes:
        eval_seconds: wall time spent validating so far (training throughput excludes it).
        on_validation: callables ``fn(iteration, results) -> str | None`` called in list order after every
            validation (its record and checkpoints are written by then; ``results`` holds every metric). A
            returned string stops training like early stopping does, with that reason logged and kept in
            ``stop_reason`` (``tools/tune.py`` prunes trials this way).
        stop_reason: why training stopped before ``max_iters`` (early stop or a callback), else ``None``.
    """

    def __init__(
        self,
        cfg: Config,
        *,
        work_dir: str | Path | None = None,
        resume: str | None = None,
        load_from: str | None = None,
        weights_key: str | None = None,
        load_partial: bool = False,
        argv: list[str] | None = None,
    ):
        if (weights_key or load_partial) and not load_from:
            raise ConfigError("--weights-key and --load-partial apply to --load-from, which is not given")
        self.cfg = cfg
        tcfg = cfg.train
        device = resolve_device(cfg.get("device", "auto"), int(os.environ.get("LOCAL_RANK", "0")))
        self.rank, self.world, local_rank = dist.init_distributed(device.type)
        self.device = resolve_device(cfg.get("device", "auto"), local_rank)
        self._check_settings()
        self._seed(cfg.get("seed", 0) + self.rank, cfg.get("deterministic", False))
        if self.device.type == "cuda" and not cfg.get("deterministic", False):
            # fixed input shapes: let cuDNN pick the fastest kernels (off with train.cudnn_benchmark=False)
            torch.backends.cudnn.benchmark = bool(tcfg.get("cudnn_benchmark", True))

        # --- what to resume: checked before anything is built or written ---
        stem = Path(cfg.get("_source_", "run")).stem
        root = Path(work_dir or cfg.get("work_dir", "work_dirs"))
        resume_path, run_dir, state = None, None, None
        if resume:
            resume_path, run_dir = resolve_resume(resume, root, stem)
        if resume_path is not None:
            state = load_checkpoint(resume_path)
            check_resumable(state, resume_path, cfg)

        if self.rank == 0:  # a folder the run cannot write into stops it now, not at the first checkpoint
            check_writable(run_dir or root, what="--resume run folder" if run_dir else "work_dir")

        # --- task, data, model ---
        self.task = build_task(cfg)
        self.task.check_components()  # a mistyped model, attention, loss or metric fails before data is read
        if state is not None:  # task state (e.g. normalisation stats) before the datasets
            self.task.load_state_dict(state.get("task") or {})
        self.train_set = self.task.build_dataset("train")
        self.val_set = self.task.build_dataset("val")
        self.model = self.task.build_model().to(self.device)
        if tcfg.get("channels_last"):
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss_fn = self.task.build_loss().to(self.device)
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, None: None}[tcfg.get("amp")]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.iter, self.epoch, self.best, self.stale, self.epoch_batches = 0, 0, None, 0, 0
        self.eval_seconds, self._higher = 0.0, None
        # NOTE: a callback may stop the run (STYLE.md keeps callbacks to side effects): a hyper-parameter
        # search must end a hopeless trial early, and a returned reason keeps the loop's exits in this file.
        self.on_validation: list[Callable[[int, dict[str, Any]], str | None]] = []
        self.stop_reason: str | None = None
        self.ema = EMA(self.model, tcfg.ema["decay"]) if tcfg.get("ema") else None

        self.accum = int(tcfg.get("accum_steps", 1))
        self.batches_per_epoch = self._train_batches_per_epoch()
        self.iters_per_epoch = max(self.batches_per_epoch // self.accum, 1)
        self.max_iters = tcfg.get("max_iters") or (tcfg.get("max_epochs") or 1) * self.iters_per_epoch
        self.val_interval = tcfg.get("val_interval") or self.iters_per_epoch
        self.optimizer = build_optimizer(cfg.optim, self.model)
        self.scheduler = build_scheduler(
            cfg.get("sched"), self.optimizer, total_iters=self.max_iters, iters_per_epoch=self.iters_per_epoch
        )
        notes = []
        if load_from:
            ckpt = load_checkpoint(load_from)
            ours = is_toolkit_checkpoint(ckpt)
            if load_partial and ours:
                raise ConfigError(f"--load-partial: {load_from} is a toolkit checkpoint, always loaded partially")
            report = load_weights(self.model, load_from, strict=not (ours or load_partial), key=weights_key, state=ckpt)
            missing, unexpected, mismatched = report
            loaded = len(self.model.state_dict()) - len(missing) - len(mismatched)
            if loaded == 0:  # an option with no effect: the model would train from scratch
                raise CheckpointError(
                    f"--load-from {load_from}: none of its tensors fits this model ({len(missing)} missing, "
                    f"{len(unexpected)} unexpected, {len(mismatched)} of other shapes); a checkpoint of another model?"
                )
            notes.append(
                report.summary()
                if report.released
                else f"loaded {loaded} tensors from {load_from}; {len(missing)} missing keys {missing[:8]}; "
                f"{len(mismatched)} keys with other shapes (kept initialised) {mismatched[:8]}; "
                f"{len(unexpected)} unexpected keys {unexpected[:8]}"
            )
        if state is not None:
            self._restore(state, resume_path)
            notes.append(f"resumed from {resume_path} at iteration {self.iter} (epoch {self.epoch})")

        # --- the run folder, written only now that everything above has succeeded ---
        continues = run_dir is not None  # the checkpoint's own run folder (a loose checkpoint starts a new one)
        if not continues and self.rank == 0:
            run_dir = new_run_dir(root, stem)
        self.run_dir = Path(dist.broadcast_object(str(run_dir)))
        self.log = RunLog(self.run_dir, enabled=self.rank == 0, resume_step=self.iter if continues else None)
        self.log.write_setup(cfg, argv or sys.argv)  # after the Task filled in data-dependent sizes
        for note in notes:
            self.log.info(note)
        self.train_model: nn.Module = self.model
        if tcfg.get("compile"):
            self.train_model = torch.compile(self.train_model)
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(self.train_model, device_ids=ids)

    # ------------------------------------------------------------------ setup helpers
    def _check_settings(self) -> None:
        seconds = self.cfg.train.get("log_seconds", 30)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ConfigError(f"train.log_seconds must be a positive number of seconds, got {seconds!r}")
        check_trackers(self.cfg.get("log"))  # an enabled tracker that is not installed stops the run now
        if not isinstance(self.cfg.train.get("drop_last", True), bool):
            raise ConfigError(f"train.drop_last must be True or False, got {self.cfg.train.get('drop_last')!r}")
        check_optimizer(self.cfg.optim)  # a mistyped optimiser or schedule stops the run before data is read
        check_scheduler(self.cfg.get("sched"))
        amp = self.cfg.train.get("amp")
        if amp not in (None, "bf16", "fp16", "auto"):
            raise ConfigError(f"train.amp must be 'bf16', 'fp16', 'auto' or None, got {amp!r}")
        # 'auto' is resolved here, so the saved config and a resumed run name what was used
        self.cfg.train.amp, self._amp_note = dist.resolve_amp(amp, self.device)
        if amp == "fp16" and self.device.type != "cuda":
            raise DeviceError("train.amp='fp16' needs a CUDA GPU; on CPU use train.amp='bf16' or None")
        ecfg = self.cfg.get("eval") or {}
        sizes = {f"train.{k}": self.cfg.train.get(k) for k in ("batch_size", "accum_steps", "log_interval")}
        sizes |= {f"train.{k}": self.cfg.train.get(k) for k in ("max_iters", "max_epochs", "val_interval")}
        sizes |= {"eval.batch_size": ecfg.get("batch_size", 1), "eval.max_batches": ecfg.get("max_batches")}
        for key, value in sizes.items():  # None: the default (an epoch, no limit); 0 or less is never meant
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{key} must be a positive whole number, got {value!r}")
        # options torch would take and quietly ignore (a negative clip norm clips nothing) or fail on deep inside
        clip, ema, stop = (self.cfg.train.get(k) for k in ("grad_clip", "ema", "early_stop"))
        if clip is not None and not (_number(clip) and clip > 0):
            raise ConfigError(f"train.grad_clip must be a positive number or None, got {clip!r}")
        if ema is not None and not _one_option(ema, "decay", lambda d: _number(d) and 0 < d < 1):
            raise ConfigError(f"train.ema must be None or dict(decay=d) with 0 < d < 1, got {_plain(ema)!r}")
        if stop is not None and not _one_option(stop, "patience", lambda n: _number(n, int) and n >= 1):
            raise ConfigError(f"train.early_stop must be None or dict(patience=N) with N >= 1, got {_plain(stop)!r}")

    @staticmethod
    def _seed(seed: int, deterministic: bool) -> None:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False

    def _train_batches_per_epoch(self) -> int:
        n = len(self.train_set) // self.world
        batch_size = self.cfg.train.batch_size
        batches = n // batch_size
        if batches == 0:
            raise ConfigError(
                f"the training split has {len(self.train_set)} samples, fewer than one batch of "
                f"train.batch_size={batch_size} per process"
            )
        return batches + keeps_partial_batch(n, batch_size, self.cfg.train.get("drop_last", True))

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict[str, Any]:
        return {
            "model": clean_state_dict(self.model.state_dict()),
            "ema": self.ema.state_dict() if self.ema else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "iter": self.iter,
            "epoch": self.epoch,
            "best": self.best,
            "stale": self.stale,
            "epoch_batches": self.epoch_batches,
            "rng": rng_state(),
            "task": self.task.state_dict(),
            "config": self.cfg.to_dict(),
            "meta": {"primary_metric": self.task.primary_metric, "model": self.cfg.model.get("type")},
        }

    def save(self, name: str, state: dict | None = None) -> Path | None:
        if self.rank != 0:
            return None
        path = self.run_dir / "checkpoints" / name
        try:
            save_checkpoint(state or self._state(), path)
        except OSError as exc:  # full disk, folder made read-only: say what the run folder still holds
            raise write_failed(path, exc, self.run_dir) from None
        return path

    def _restore(self, state: dict, path: Path) -> None:
        try:
            self.model.load_state_dict(clean_state_dict(state["model"]))
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"{path} does not match this model: {str(exc)[:300]}") from None
        if self.scheduler and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        if self.ema and state.get("ema"):
            self.ema.load_state_dict(state["ema"])
        self.iter, self.epoch = state["iter"], state["epoch"]
        self.best, self.stale = state.get("best"), state.get("stale", 0)
        # batches of the current epoch already consumed (older checkpoints: derived from the iteration)
        self.epoch_batches = state.get("epoch_batches", (self.iter % self.iters_per_epoch) * self.accum)
        set_rng_state(state["rng"])

    # ------------------------------------------------------------------ the loop
    def train(self) -> dict[str, float]:
        """Run until ``max_iters`` (or early stop); returns the last validation metrics.

        A run that ends by an exception or Ctrl-C still closes its logs, and an experiment tracker's run
        is marked FAILED or KILLED instead of staying RUNNING. (A SIGTERM that Python does not turn into an
        exception ends the process without this; the tracker's run then stays RUNNING.)
        """
        try:
            return self._train()
        except BaseException as exc:
            try:  # a tracker that cannot be reached must not replace the error that ended the run
                self.log.close(status="KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
            except Exception as close_exc:  # noqa: BLE001 - reported, then the run's own error goes on
                print(f"warning: closing the run's logs failed too: {close_exc}", file=sys.stderr, flush=True)
            raise

    def _train(self) -> dict[str, float]:
        tcfg = self.cfg.train
        accum = self.accum
        log_every = tcfg.get("log_interval", 20)
        n_params = sum(p.numel() for p in self.model.parameters())
        self.log.info(f"run folder: {self.run_dir}")
        self.log.info(
            f"task {self.cfg.task}, model {self.cfg.model.get('type')} ({n_params / 1e6:.3f}M parameters), "
            f"device {self.device}, world size {self.world}, amp {tcfg.get('amp')}"
        )
        for note in (self._amp_note, dist.thread_note(self.device)):
            if note:
                self.log.info(note)
        self.log.info(
            f"{len(self.train_set)} training samples, {self.iters_per_epoch} iterations per epoch, "
            f"{self.max_iters} iterations"
        )
        seconds = tcfg.get("log_seconds", 30)
        progress = Progress(self.max_iters, self.iter, enabled=self.rank == 0, log=self.log, seconds=seconds)
        results: dict[str, float] = {}
        if self.epoch_batches >= self.batches_per_epoch:  # resumed from a checkpoint at the end of an epoch
            self.epoch, self.epoch_batches = self.epoch + 1, 0
        batches = self._batches(skip=self.epoch_batches)
        # running sums stay on the device; `first_bad` remembers the first iteration with a non-finite loss
        running: dict[str, torch.Tensor] = {}
        first_bad = torch.full((), -1, dtype=torch.long, device=self.device)
        seen, t0 = 0, time.perf_counter()
        self.model.train()
        while self.iter < self.max_iters:
            micro = []
            for _ in range(accum):
                batch = next(batches, None)
                if batch is None:  # end of epoch: new order, new clips
                    self.epoch, self.epoch_batches = self.epoch + 1, 0
                    batches = self._batches(skip=0)
                    batch = next(batches)
                self.epoch_batches += 1
                micro.append(batch)
            out = self.step(micro)
            first_bad = torch.where(~torch.isfinite(out["loss"]) & (first_bad < 0), self.iter + 1, first_bad)
            for k, v in out.items():
                running[k] = running.get(k, 0.0) + v
            self.iter += 1
            seen += 1
            progress.step(self.iter)
            validate = self.iter % self.val_interval == 0 or self.iter == self.max_iters
            if self.iter % log_every == 0 or self.iter == self.max_iters or validate:
                self._check_finite(first_bad, running)  # the one host sync per log interval
            if self.iter % log_every == 0 or self.iter == self.max_iters:
                lr = self.optimizer.param_groups[0]["lr"]
                record = {k: dist.all_reduce_mean(float(v) / seen, self.device) for k, v in running.items()}
                elapsed = time.perf_counter() - t0
                record.update(epoch=self.epoch, lr=lr, it_per_s=seen / max(elapsed, 1e-9))
                self.log.metrics(record, prefix="train", step=self.iter)
                progress.show(self.iter, loss=record.get("loss", 0.0), lr=lr)
                running, seen, t0 = {}, 0, time.perf_counter()

            if validate:
                results = self._validate_and_save()
                self.model.train()
                patience = (tcfg.get("early_stop") or {}).get("patience")
                reasons = [fn(self.iter, results) for fn in self.on_validation]
                if patience and self.stale >= patience:
                    key = self.task.primary_metric
                    reasons.insert(0, f"early stop: no improvement of {key} in {patience} validations")
                self.stop_reason = next((r for r in reasons if r), None)
                if self.stop_reason:
                    self.log.info(f"stopped at iteration {self.iter}: {self.stop_reason}")
                    break
        progress.close()
        self.log.info(f"done: {self.iter} iterations; best {self.task.primary_metric} = {self.best}")
        self.log.close()
        return results

    def step(self, batches: list) -> dict[str, torch.Tensor]:
        """One optimiser step over the micro-batches ``batches`` (``train.accum_steps`` of them in the loop).

        Forward and backward under the configured autocast, gradients accumulated over the
        micro-batches (DDP all-reduces on the last one only), clipping, the optimiser, the schedule
        and the EMA. Returns each loss term averaged over the micro-batches, on the device: reading
        it is the caller's choice (the loop does so once per log interval).
        """
        n, tcfg = len(batches), self.cfg.train
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        sums: dict[str, torch.Tensor] = {}
        for i, batch in enumerate(batches):
            batch = to_device(batch, self.device, tcfg.get("channels_last", False))
            sync = i == n - 1 or self.world == 1
            with nullcontext() if sync else self.train_model.no_sync():
                with autocast:
                    out = self.task.train_step(self.train_model, batch, self.loss_fn)
                self.scaler.scale(out["loss"] / n).backward()
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v.detach().float() / n
        if tcfg.get("grad_clip"):
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), tcfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scheduler is not None:
            self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return sums

    def _check_finite(self, first_bad: torch.Tensor, running: dict[str, torch.Tensor]) -> None:
        bad = int(first_bad)
        if bad < 0:
            return
        raise TrainingDiverged(
            f"loss is {float(running.get('loss', float('nan')))} at iteration {bad} (epoch {self.epoch}); "
            f"training stopped. The last good checkpoint is {self.run_dir / 'checkpoints' / 'last.pt'} "
            "(if one was saved). Try a lower optim.lr, train.grad_clip, or train.amp=None."
        )

    def _batches(self, skip: int):
        """The training batches of the current epoch after the first ``skip`` (resuming mid-epoch)."""
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(self.epoch)
        loader = train_loader(
            self.train_set,
            self.cfg,
            self.task.collate_fn("train"),
            rank=self.rank,
            world=self.world,
            epoch=self.epoch,
            skip=skip * self.cfg.train.batch_size,
        )
        return iter(loader)

    def validate(self) -> dict[str, float]:
        """Evaluate on the validation split (EMA weights when enabled); pictures go to vis/ and TensorBoard."""
        ecfg = self.cfg.get("eval") or {}
        loader = eval_loader(self.val_set, self.cfg, self.task.collate_fn("val"), rank=self.rank, world=self.world)
        ctx = self.ema.applied(self.model) if self.ema else nullcontext()
        with ctx:
            ev = evaluate(
                self.model,
                self.task,
                loader,
                device=self.device,
                amp_dtype=self.amp_dtype,
                max_batches=ecfg.get("max_batches"),
                vis_items=ecfg.get("vis_items", 4) if self.rank == 0 else 0,
            )
        self.log.images(ev.pictures, step=self.iter, tag="val")
        self.val_coverage = "" if ev.batches == len(loader) else f"  (partial: {ev.batches} of {len(loader)} batches)"
        return ev.results

    def _validate_and_save(self) -> dict[str, float]:
        t0 = time.perf_counter()
        results = self.validate()
        self.eval_seconds += time.perf_counter() - t0
        key = self.task.primary_metric
        if key not in results:
            raise ConfigError(f"primary metric {key!r} is not among the metrics computed: {sorted(results)}")
        if self._higher is None:  # the primary metric's direction, asked of the metrics once
            self._higher = self.task.build_metrics().higher_is_better(key)
        higher = self._higher
        value = results[key]
        improved = self.best is None or (value > self.best if higher else value < self.best)
        if improved:
            self.best, self.stale = value, 0
        else:
            self.stale += 1
        # the record first, then best.pt, then last.pt: a kill between any two leaves a pair that a resume
        # from last.pt repeats exactly (its records after last.pt's step are dropped, best.pt rewritten)
        self.log.metrics({**results, "epoch": self.epoch}, prefix="val", step=self.iter)
        state = self._state()
        if improved:
            self.save("best.pt", state)
        self.save("last.pt", state)
        shown = self.task.summary(results)
        mark = ("  (best)" if improved else "") + getattr(self, "val_coverage", "")
        self.log.info(f"iter {self.iter} val: {shown}{mark}")
        dist.barrier()
        return results


def _number(value: Any, kind: type | tuple[type, ...] = (int, float)) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def _one_option(value: Any, key: str, ok) -> bool:
    """Whether ``value`` is ``dict(key=v)`` with ``ok(v)`` true."""
    return isinstance(value, dict) and set(value) == {key} and ok(value[key])


def _plain(value: Any) -> Any:
    """A config section as a plain dict, for messages."""
    return value.to_dict() if isinstance(value, Config) else value
