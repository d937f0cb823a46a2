"""Distributed helpers: one code path for a single process and for ``torchrun`` (DDP).

Under ``torchrun`` the environment holds RANK / WORLD_SIZE / LOCAL_RANK; the process group uses
NCCL when the job runs on CUDA and gloo on CPU.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist

from toolkit.errors import DeviceError

__all__ = [
    "init_distributed",
    "get_rank",
    "get_world_size",
    "is_main_process",
    "barrier",
    "broadcast_object",
    "resolve_device",
    "native_bf16",
    "resolve_amp",
    "thread_note",
]


def init_distributed(device_type: str) -> tuple[int, int, int]:
    """Initialise the process group when launched by torchrun; returns (rank, world_size, local_rank)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, 0
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return rank, world, local_rank


def get_rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    if get_world_size() > 1:
        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Send a picklable object from ``src`` to every rank (identity without a process group)."""
    if get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_mean(value: float, device: torch.device) -> float:
    """Mean of a Python float over ranks (for logging)."""
    if get_world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / get_world_size()).item()


def cleanup(finished: bool = False) -> None:
    """Tear the process group down. ``finished=True`` (every rank got to the end) first waits for all ranks:
    a rank that tears down while another still exits its collectives can abort in gloo's threads
    ("terminate called without an active exception"). On an error path no barrier is entered, since the
    other ranks may never arrive."""
    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """``'auto'`` picks CUDA when available; asking for CUDA on a CPU machine is a DeviceError."""
    spec = spec or "auto"
    if spec == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError):  # torch lists every backend it was built with: shorter to say what works
        raise DeviceError(f"device={spec!r} is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device={spec!r} but this machine has no CUDA GPU; use device='cpu' or 'auto'")
        if device.index is None:
            device = torch.device("cuda", local_rank)
        elif device.index >= torch.cuda.device_count():
            raise DeviceError(f"device={spec!r} but this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def native_bf16(device: torch.device) -> str | None:
    """What computes bfloat16 natively on ``device`` (e.g. ``'AVX512-BF16'``), or None where it is emulated."""
    if device.type == "cuda":
        # NOTE: not torch.cuda.is_bf16_supported(): by default it also counts GPUs that only emulate bf16
        # (compute capability < 8: V100, T4), where bf16 is slower than fp32
        major = torch.cuda.get_device_properties(device).major
        return f"CUDA bf16 (compute capability {major}.x)" if major >= 8 else None
    if device.type == "cpu":
        # NOTE: torch.cpu's capability probes are private (no public API says "bf16 is native"); a torch
        # without them counts as emulated, which only turns 'auto' off.
        probes = (("AMX", "_is_amx_tile_supported"), ("AVX512-BF16", "_is_avx512_bf16_supported"))
        for name, probe in probes:
            if getattr(torch.cpu, probe, lambda: False)():
                return name
    return None


def resolve_amp(amp: str | None, device: torch.device) -> tuple[str | None, str | None]:
    """``train.amp`` for ``device``: ``'auto'`` becomes ``'bf16'`` where bf16 is native, else None.

    Returns the setting and a line for the log when there is something to say: what 'auto' chose and
    why, or that an explicit ``'bf16'`` runs emulated (slower than fp32) on this device.
    """
    native = native_bf16(device)
    if amp == "auto":
        if native:
            return "bf16", f"train.amp='auto' -> 'bf16' ({device.type} computes bf16 natively: {native})"
        return None, f"train.amp='auto' -> None (no native bf16 on {device.type}: fp32 is faster)"
    if amp == "bf16" and native is None:
        return amp, f"train.amp='bf16' on a {device.type} without native bf16: emulated, slower than fp32"
    return amp, None


def thread_note(device: torch.device) -> str | None:
    """A log line when torch's CPU threads will compete with other busy processes for the cores, else None.

    torch starts one thread per core. When other processes already keep the cores busy (the 1-minute load
    average is at least the core count less one), those threads wait for each other: measured here, a tiny
    HybridSN run took 6 min 47 s with 2 threads on a loaded 2-core machine and 58 s with one.
    """
    if device.type != "cpu" or torch.get_num_threads() <= 1 or not hasattr(os, "getloadavg"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    load = os.getloadavg()[0]
    if load < cores - 1 + 0.5:
        return None
    return (
        f"the {cores} CPU core(s) are busy (load average {load:.1f}) and torch runs {torch.get_num_threads()} "
        "threads, which then wait for each other; OMP_NUM_THREADS=1 is often several times faster here"
    )
