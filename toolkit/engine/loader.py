"""DataLoaders for training and evaluation, shared by the Trainer and ``tools/eval.py``.

Training uses a :class:`~torch.utils.data.DistributedSampler` (one process or many) that can skip the
batches an interrupted epoch already consumed; evaluation shards the split without padding, so a
multi-process evaluation scores every sample exactly once.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from toolkit.config import Config

__all__ = ["train_loader", "eval_loader", "to_device"]


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


def train_loader(
    dataset: Dataset, cfg: Config, collate_fn: Any, *, rank: int = 0, world: int = 1, epoch: int = 0, skip: int = 0
) -> DataLoader:
    """The shuffled training loader of ``epoch``, without its first ``skip`` samples (per process)."""
    tcfg, seed = cfg.train, cfg.get("seed", 0)
    sampler: Sampler = DistributedSampler(
        dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    if skip:
        sampler = _SkipSampler(sampler, skip)
    return DataLoader(
        dataset,
        batch_size=tcfg.get("batch_size", 1),
        sampler=sampler,
        num_workers=tcfg.get("num_workers", 0),
        collate_fn=collate_fn,
        pin_memory=bool(tcfg.get("pin_memory")) and torch.cuda.is_available(),
        drop_last=True,
        worker_init_fn=_seed_worker,
        generator=torch.Generator().manual_seed(seed * 1000 + epoch),
        persistent_workers=False,  # datasets that change per epoch (set_epoch) need fresh workers
    )


def eval_loader(
    dataset: Dataset, cfg: Config, collate_fn: Any, *, rank: int = 0, world: int = 1, batch_size: int | None = None
) -> DataLoader:
    """The evaluation loader: this process's shard of ``dataset`` in order (``eval.batch_size``)."""
    ecfg = cfg.get("eval") or {}
    return DataLoader(
        dataset,
        batch_size=batch_size or ecfg.get("batch_size", 1),
        sampler=_ShardSampler(len(dataset), rank, world),
        num_workers=ecfg.get("num_workers", 0),
        collate_fn=collate_fn,
        pin_memory=bool(cfg.train.get("pin_memory")) and torch.cuda.is_available(),
        worker_init_fn=_seed_worker,
        generator=torch.Generator().manual_seed(cfg.get("seed", 0) * 1000),
    )


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move every tensor of a batch (dicts, lists, tuples) to ``device``; ``'meta'`` values stay as they are."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        return batch.contiguous(memory_format=torch.channels_last) if channels_last and batch.ndim == 4 else batch
    if isinstance(batch, dict):
        return {k: (v if k == "meta" else to_device(v, device, channels_last)) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch
