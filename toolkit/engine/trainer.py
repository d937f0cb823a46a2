"""The Trainer: one loop over iterations, readable top to bottom.

Everything generic lives here (device, AMP, optimiser, schedule, clipping, EMA, DDP, checkpoints,
best-checkpoint selection, early stopping, logging, progress); everything task-specific is asked of
the Task (see ``toolkit/engine/task.py``).
"""

from __future__ import annotations

import importlib
import os
import random
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from toolkit.config import Config
from toolkit.engine import dist
from toolkit.engine.checkpoint import (
    clean_state_dict,
    load_checkpoint,
    load_weights,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from toolkit.engine.ema import EMA
from toolkit.engine.optim import build_optimizer, build_scheduler
from toolkit.engine.runlog import RunLog, latest_run_dir, new_run_dir, save_picture
from toolkit.errors import CheckpointError, ConfigError, DeviceError, ToolkitError
from toolkit.registry import TASKS

__all__ = ["Trainer", "TrainingDiverged", "build_task", "resolve_device"]


class TrainingDiverged(ToolkitError):
    """The loss became NaN or infinite."""


def build_task(cfg: Config):
    """Import ``tasks.<cfg.task>`` (which registers it) and build the Task."""
    name = cfg.get("task")
    if not name:
        raise ConfigError(f"{cfg.get('_source_', 'config')}: no 'task' key (e.g. task = 'video_pred')")
    try:
        importlib.import_module(f"tasks.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"tasks.{name}", "tasks"):
            raise ConfigError(f"task {name!r}: no package tasks/{name}/") from None
        raise
    return TASKS.get(name)(cfg)


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """``'auto'`` picks CUDA when available; asking for CUDA on a CPU machine is a DeviceError."""
    spec = spec or "auto"
    if spec == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device={spec!r} but this machine has no CUDA GPU; use device='cpu' or 'auto'")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


class _ShardSampler(Sampler):
    """Evaluation sharding without padding, so DDP metrics equal single-process metrics exactly."""

    def __init__(self, n: int, rank: int, world: int):
        self.indices = list(range(rank, n, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class _SkipSampler(Sampler):
    """Wraps an epoch sampler and drops its first ``skip`` indices (resuming mid-epoch)."""

    def __init__(self, base: Sampler, skip: int):
        self.base, self.skip = base, skip

    def __iter__(self):
        it = iter(self.base)
        for _ in range(self.skip):
            next(it, None)
        return it

    def __len__(self) -> int:
        return max(len(self.base) - self.skip, 0)


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        return batch.contiguous(memory_format=torch.channels_last) if channels_last and batch.ndim == 4 else batch
    if isinstance(batch, dict):
        return {k: (v if k == "meta" else _to_device(v, device, channels_last)) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device, channels_last) for v in batch)
    return batch


class Trainer:
    """Train and evaluate a Task from a config.

    Args:
        cfg: the resolved config.
        work_dir: run folder root (default ``cfg.work_dir``); the run goes to
            ``<work_dir>/<config-stem>/<timestamp>/``.
        resume: ``'auto'`` (newest run of this config with a ``last.pt``) or a checkpoint path;
            the run continues in the checkpoint's run folder.
        load_from: a checkpoint whose weights initialise the model (missing/unexpected keys reported).
        argv: the command line, written to ``cmd.txt``.
        checkpoint: evaluation mode: load this checkpoint's task state and weights (EMA weights when
            present), build only the ``eval_split`` dataset, and write no run folder.
    """

    def __init__(
        self,
        cfg: Config,
        *,
        work_dir: str | Path | None = None,
        resume: str | None = None,
        load_from: str | None = None,
        argv: list[str] | None = None,
        checkpoint: str | Path | None = None,
        eval_split: str = "test",
    ):
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
        for_eval = checkpoint is not None

        # --- the run folder (a resumed run continues in its own folder) ---
        stem = Path(cfg.get("_source_", "run")).stem
        root = Path(work_dir or cfg.get("work_dir", "work_dirs"))
        resume_path = self._resolve_resume(resume, root, stem) if resume else None
        run_dir = None
        if not for_eval:
            run_dir = resume_path.parent.parent if resume_path else new_run_dir(root, stem)
            run_dir = Path(dist.broadcast_object(str(run_dir)))
        self.run_dir = run_dir
        self.log = RunLog(run_dir, enabled=self.rank == 0 and not for_eval)

        # --- task, data, model ---
        self.task = build_task(cfg)
        state_path = checkpoint or resume_path
        if state_path is not None:  # task state (e.g. normalisation stats) before the datasets
            self.task.load_state_dict(load_checkpoint(state_path).get("task") or {})
        if for_eval:
            self.eval_set = self.task.build_dataset(eval_split)
        else:
            self.train_set = self.task.build_dataset("train")
            self.val_set = self.task.build_dataset("val")
        self.model = self.task.build_model().to(self.device)
        self.log.write_setup(cfg, argv or sys.argv)  # after the Task filled in data-dependent sizes
        if tcfg.get("channels_last"):
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss_fn = self.task.build_loss().to(self.device)
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, None: None}[tcfg.get("amp")]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.iter, self.epoch, self.best, self.stale = 0, 0, None, 0
        self.ema = EMA(self.model, tcfg.ema["decay"]) if tcfg.get("ema") else None
        if for_eval:
            load_weights(self.model, checkpoint, strict=True, prefer_ema=True)
            return

        self.train_loader_len = self._train_batches_per_epoch()
        self.iters_per_epoch = max(self.train_loader_len // tcfg.get("accum_steps", 1), 1)
        self.max_iters = tcfg.get("max_iters") or (tcfg.get("max_epochs") or 1) * self.iters_per_epoch
        self.val_interval = tcfg.get("val_interval") or self.iters_per_epoch
        self.optimizer = build_optimizer(cfg.optim, self.model)
        self.scheduler = build_scheduler(
            cfg.get("sched"), self.optimizer, total_iters=self.max_iters, iters_per_epoch=self.iters_per_epoch
        )
        if load_from:
            missing, unexpected, mismatched = load_weights(self.model, load_from, strict=False)
            loaded = len(self.model.state_dict()) - len(missing) - len(mismatched)
            self.log.info(
                f"loaded {loaded} tensors from {load_from}; {len(missing)} missing keys {missing[:8]}; "
                f"{len(mismatched)} keys with other shapes (kept initialised) {mismatched[:8]}; "
                f"{len(unexpected)} unexpected keys {unexpected[:8]}"
            )
        if resume_path is not None:
            self._restore(resume_path)
        self.train_model: nn.Module = self.model
        if tcfg.get("compile"):
            self.train_model = torch.compile(self.train_model)
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(self.train_model, device_ids=ids)

    # ------------------------------------------------------------------ setup helpers
    def _check_settings(self) -> None:
        amp = self.cfg.train.get("amp")
        if amp not in (None, "bf16", "fp16"):
            raise ConfigError(f"train.amp must be 'bf16', 'fp16' or None, got {amp!r}")
        if amp == "fp16" and self.device.type != "cuda":
            raise DeviceError("train.amp='fp16' needs a CUDA GPU; on CPU use train.amp='bf16' or None")

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

    @staticmethod
    def _resolve_resume(resume: str, root: Path, stem: str) -> Path:
        if resume == "auto":
            run = latest_run_dir(root, stem)
            if run is None:
                raise CheckpointError(f"--resume auto: no {root}/{stem}/*/checkpoints/last.pt to resume from")
            return run / "checkpoints" / "last.pt"
        path = Path(resume)
        if path.is_dir():  # a run folder
            path = path / "checkpoints" / "last.pt"
        if not path.is_file():
            raise CheckpointError(f"--resume: checkpoint not found: {path}")
        return path

    def _loader(self, dataset, split: str, *, epoch: int = 0, skip: int = 0) -> DataLoader:
        tcfg, ecfg = self.cfg.train, self.cfg.get("eval", {})
        train = split == "train"
        if train:
            sampler: Sampler = DistributedSampler(
                dataset,
                num_replicas=self.world,
                rank=self.rank,
                shuffle=True,
                seed=self.cfg.get("seed", 0),
                drop_last=True,
            )
            sampler.set_epoch(epoch)
            if skip:
                sampler = _SkipSampler(sampler, skip)
        else:
            sampler = _ShardSampler(len(dataset), self.rank, self.world)
        workers = (tcfg if train else ecfg).get("num_workers", 0)
        generator = torch.Generator().manual_seed(self.cfg.get("seed", 0) * 1000 + epoch)
        return DataLoader(
            dataset,
            batch_size=(tcfg if train else ecfg).get("batch_size", 1),
            sampler=sampler,
            num_workers=workers,
            collate_fn=self.task.collate_fn(split),
            pin_memory=bool(tcfg.get("pin_memory")) and self.device.type == "cuda",
            drop_last=train,
            worker_init_fn=_seed_worker,
            generator=generator,
            persistent_workers=False,  # datasets that change per epoch (set_epoch) need fresh workers
        )

    def _train_batches_per_epoch(self) -> int:
        n = len(self.train_set) // self.world
        batches = n // self.cfg.train.batch_size
        if batches == 0:
            raise ConfigError(
                f"the training split has {len(self.train_set)} samples, fewer than one batch of "
                f"train.batch_size={self.cfg.train.batch_size} per process"
            )
        return batches

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
            "rng": rng_state(),
            "task": self.task.state_dict(),
            "config": self.cfg.to_dict(),
            "meta": {"primary_metric": self.task.primary_metric, "model": self.cfg.model.get("type")},
        }

    def save(self, name: str, state: dict | None = None) -> Path | None:
        if self.rank != 0:
            return None
        path = self.run_dir / "checkpoints" / name
        save_checkpoint(state or self._state(), path)
        return path

    def _restore(self, path: Path) -> None:
        state = load_checkpoint(path)
        try:
            self.model.load_state_dict(clean_state_dict(state["model"]))
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{path} does not match this model: {str(exc)[:300]}") from None
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        if self.ema and state.get("ema"):
            self.ema.load_state_dict(state["ema"])
        self.iter, self.epoch = state["iter"], state["epoch"]
        self.best, self.stale = state.get("best"), state.get("stale", 0)
        set_rng_state(state["rng"])
        self.log.info(f"resumed from {path} at iteration {self.iter} (epoch {self.epoch})")

    # ------------------------------------------------------------------ the loop
    def train(self) -> dict[str, float]:
        """Run until ``max_iters`` (or early stop); returns the last validation metrics."""
        tcfg = self.cfg.train
        accum, clip = tcfg.get("accum_steps", 1), tcfg.get("grad_clip")
        log_every = tcfg.get("log_interval", 20)
        n_params = sum(p.numel() for p in self.model.parameters())
        self.log.info(f"run folder: {self.run_dir}")
        self.log.info(
            f"task {self.cfg.task}, model {self.cfg.model.get('type')} ({n_params / 1e6:.3f}M parameters), "
            f"device {self.device}, world size {self.world}, amp {tcfg.get('amp')}"
        )
        self.log.info(
            f"{len(self.train_set)} training samples, {self.iters_per_epoch} iterations per epoch, "
            f"{self.max_iters} iterations"
        )
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        progress = _Progress(self.max_iters, self.iter, enabled=self.rank == 0, log=self.log, every=log_every)
        results: dict[str, float] = {}
        batches = self._epoch_batches(skip=(self.iter % self.iters_per_epoch) * accum)
        running, seen, t0 = {}, 0, time.perf_counter()
        self.model.train()
        while self.iter < self.max_iters:
            # one optimiser step over `accum` batches
            for _ in range(accum):
                batch = next(batches, None)
                if batch is None:  # end of epoch: new order, new clips
                    self.epoch += 1
                    batches = self._epoch_batches(skip=0)
                    batch = next(batches)
                batch = _to_device(batch, self.device, tcfg.get("channels_last", False))
                with autocast:
                    out = self.task.train_step(self.train_model, batch, self.loss_fn)
                loss = out["loss"]
                if not torch.isfinite(loss.detach()).all():
                    raise TrainingDiverged(
                        f"loss is {loss.item()} at iteration {self.iter + 1} (epoch {self.epoch}); training stopped. "
                        f"The last good checkpoint is {self.run_dir / 'checkpoints' / 'last.pt'} (if one was saved). "
                        "Try a lower optim.lr, train.grad_clip, or train.amp=None."
                    )
                self.scaler.scale(loss / accum).backward()
                for k, v in out.items():
                    running[k] = running.get(k, 0.0) + float(v.detach()) / accum
            if clip:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            if self.scheduler is not None:
                self.scheduler.step()
            if self.ema is not None:
                self.ema.update(self.model)
            self.iter += 1
            seen += 1
            lr = self.optimizer.param_groups[0]["lr"]
            progress.update(self.iter, loss=running.get("loss", 0.0) / seen, lr=lr)

            if self.iter % log_every == 0 or self.iter == self.max_iters:
                record = {k: dist.all_reduce_mean(v / seen, self.device) for k, v in running.items()}
                elapsed = time.perf_counter() - t0
                record.update(epoch=self.epoch, lr=lr, it_per_s=seen / max(elapsed, 1e-9))
                self.log.metrics(record, prefix="train", step=self.iter)
                running, seen, t0 = {}, 0, time.perf_counter()

            if self.iter % self.val_interval == 0 or self.iter == self.max_iters:
                results = self._validate_and_save()
                self.model.train()
                patience = (tcfg.get("early_stop") or {}).get("patience")
                if patience and self.stale >= patience:
                    self.log.info(f"early stop: no improvement of {self.task.primary_metric} in {patience} validations")
                    break
        progress.close()
        self.log.info(f"done: {self.iter} iterations; best {self.task.primary_metric} = {self.best}")
        self.log.close()
        return results

    def _epoch_batches(self, skip: int):
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(self.epoch)
        return iter(self._loader(self.train_set, "train", epoch=self.epoch, skip=skip * self.cfg.train.batch_size))

    def _validate_and_save(self) -> dict[str, float]:
        ctx = self.ema.applied(self.model) if self.ema else nullcontext()
        with ctx:
            results = self.evaluate(self.val_set, tag="val")
        key = self.task.primary_metric
        if key not in results:
            raise ConfigError(f"primary metric {key!r} is not among the metrics computed: {sorted(results)}")
        higher = self.last_metrics.higher_is_better(key)
        value = results[key]
        improved = self.best is None or (value > self.best if higher else value < self.best)
        if improved:
            self.best, self.stale = value, 0
        else:
            self.stale += 1
        state = self._state()
        self.save("last.pt", state)
        if improved:
            self.save("best.pt", state)
        self.log.metrics({**results, "epoch": self.epoch}, prefix="val", step=self.iter)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in results.items() if isinstance(v, float))
        self.log.info(f"iter {self.iter} val: {shown}{'  (best)' if improved else ''}")
        dist.barrier()
        return results

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, dataset=None, *, tag: str = "test", split: str = "test", out_dir: Path | None = None):
        """Evaluate ``dataset`` (default: the Task's ``split``); returns the reduced metrics.

        Pictures of the first batch go to ``vis/`` (and TensorBoard) during training, or to
        ``out_dir`` when given.
        """
        dataset = dataset if dataset is not None else self.task.build_dataset(split)
        metrics = self.task.build_metrics()
        ecfg = self.cfg.get("eval", {})
        max_batches = ecfg.get("max_batches")
        was_training = self.model.training
        self.model.eval()
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        loader = self._loader(dataset, "eval")
        pictures = {}
        bar = _bar(len(loader), f"eval {tag}", enabled=self.rank == 0 and out_dir is not None)
        for i, batch in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            batch = _to_device(batch, self.device)
            with autocast:
                pred, target = self.task.eval_step(self.model, batch)
            metrics.update(pred, target)
            if i == 0 and self.rank == 0:
                pictures = self.task.visualise(batch, pred, ecfg.get("vis_items", 4))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        results = metrics.compute()
        self.last_metrics = metrics
        if out_dir is not None and self.rank == 0:
            for name, img in pictures.items():
                save_picture(img, Path(out_dir) / f"{tag}_{name}")
        else:
            self.log.images(pictures, step=self.iter, tag=tag)
        self.model.train(was_training)
        return results


def _bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, dynamic_ncols=True, disable=not sys.stderr.isatty(), leave=False)


class _Progress:
    """A tqdm bar (loss, lr, it/s) on a terminal; plain log lines every ``every`` iterations otherwise."""

    def __init__(self, total: int, start: int, *, enabled: bool, log: RunLog, every: int):
        self.enabled, self.log, self.every, self.total = enabled, log, every, total
        self.tty = sys.stderr.isatty()
        self.bar = None
        self.t0, self.start = time.perf_counter(), start
        if enabled and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, desc="train", dynamic_ncols=True)

    def update(self, it: int, *, loss: float, lr: float) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4g}", lr=f"{lr:.3g}", refresh=False)
        elif it % self.every == 0 or it == self.total:
            rate = (it - self.start) / max(time.perf_counter() - self.t0, 1e-9)
            eta = (self.total - it) / max(rate, 1e-9)
            self.log.info(f"iter {it}/{self.total} loss {loss:.4g} lr {lr:.3g} {rate:.2f} it/s eta {eta / 60:.1f} min")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
