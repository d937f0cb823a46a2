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


class _SeededSampler(Sampler):
    """An epoch's indices after the first ``skip``, each paired with the seed of its sample's randomness.

    The seed is a function of (seed, epoch, rank, position in the epoch) only, so a sample's random
    augmentation is the same whichever worker loads it and whether or not the epoch was resumed.
    """

    def __init__(self, base: Sampler, skip: int, seed: int, epoch: int, rank: int):
        self.base, self.skip, self.key = base, skip, (seed % 2**32, epoch, rank)

    def __iter__(self):
        for pos, index in enumerate(self.base):
            if pos >= self.skip:
                yield index, int(np.random.SeedSequence([*self.key, pos]).generate_state(1)[0])

    def __len__(self) -> int:
        return max(len(self.base) - self.skip, 0)


class _SeededSamples(Dataset):
    """``dataset[index]`` drawn with Python's, NumPy's and torch's generators seeded for that sample.

    In the main process (``num_workers=0``) the generators' states are put back afterwards, so loading
    data never shifts the model's random stream (dropout, drop path).
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        main = torch.utils.data.get_worker_info() is None
        saved = (random.getstate(), np.random.get_state(), torch.get_rng_state()) if main else None
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            return self.dataset[index]
        finally:
            if saved is not None:
                random.setstate(saved[0])
                np.random.set_state(saved[1])
                torch.set_rng_state(saved[2])


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def train_loader(
    dataset: Dataset, cfg: Config, collate_fn: Any, *, rank: int = 0, world: int = 1, epoch: int = 0, skip: int = 0
) -> DataLoader:
    """The shuffled training loader of ``epoch``, without its first ``skip`` samples (per process).

    Every sample's random augmentation is seeded from (seed, epoch, rank, position in the epoch): the
    batches are the same with any ``num_workers`` and after a resume in the middle of an epoch.
    """
    tcfg, seed = cfg.train, cfg.get("seed", 0)
    order = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True)
    order.set_epoch(epoch)
    batch_size = tcfg.get("batch_size", 1)
    return DataLoader(
        _SeededSamples(dataset),
        batch_size=batch_size,
        sampler=_SeededSampler(order, skip, seed, epoch, rank),
        num_workers=tcfg.get("num_workers", 0),
        collate_fn=collate_fn,
        pin_memory=bool(tcfg.get("pin_memory")) and torch.cuda.is_available(),
        drop_last=not keeps_partial_batch(len(order), batch_size, tcfg.get("drop_last", True)),
        # its own generator: creating the iterator draws a seed, which must not come from (and shift) the
        # global stream a resumed run restores; samples themselves are seeded by _SeededSamples
        generator=torch.Generator().manual_seed(seed * 1000 + epoch),
        persistent_workers=False,  # datasets that change per epoch (set_epoch) need fresh workers
    )


def keeps_partial_batch(samples: int, batch_size: int, drop_last: bool) -> bool:
    """Whether an epoch of ``samples`` (per process) ends with a trained, incomplete batch.

    Only with ``train.drop_last=False``, and never a batch of one sample: train-mode BatchNorm over a pooled
    1 x 1 feature cannot normalise a single value (BasicIRSTD's training skips such a batch too).
    """
    return not drop_last and samples % batch_size >= 2


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
