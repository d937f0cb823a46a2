"""Measure training and inference speed of any config: step time, samples/s, memory, FLOPs, utilisation.

    python tools/benchmark.py CFG [--batch-sizes 16,64] [--amp bf16] [--compile] [--channels-last]
        [--against fp32-eager] [--steps 20] [--warmup 5] [--repeats 3] [--device cuda] [--json out.json]
        [--set KEY=VALUE ...]

Batches are real samples from the config's training set, repeated to the batch size and kept on the
device, so the numbers measure the model step (forward, loss, backward, optimiser) and not the data
pipeline; ``data_s_per_step`` reports separately how long the DataLoader takes to deliver one batch.
FLOPs come from torch's flop counter (a multiply-add counts 2); a training step is taken as 3x the
forward cost. Utilisation is reported when the device's peak is known (``--peak-tflops`` or the
built-in table for common GPUs).
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import _common

# dense bf16 / fp16 tensor-core peaks (TFLOP/s) from the vendors' data sheets; fp32 uses the TF32 peak
_PEAKS = {
    "H100": {"bf16": 989.0, "fp16": 989.0, None: 494.0},
    "H200": {"bf16": 989.0, "fp16": 989.0, None: 494.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, None: 156.0},
}


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config")
    p.add_argument(
        "--batch-sizes", type=_batch_sizes, help="comma-separated, e.g. 16,64 (default: the config's train.batch_size)"
    )
    p.add_argument("--amp", choices=["bf16", "fp16", "auto", "none"], default=None, help="override train.amp")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--steps", type=_common.positive_int, default=20, help="timed steps per repeat")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=_common.positive_int, default=3)
    p.add_argument("--device", default=None)
    p.add_argument("--peak-tflops", type=float, default=None, help="device peak for the utilisation column")
    p.add_argument("--no-data", action="store_true", help="skip the DataLoader timing")
    p.add_argument(
        "--against",
        choices=["fp32-eager"],
        default=None,
        help="also time the baseline (fp32, no compile, no channels_last) in turn with the configured run "
        "and print the speed-up",
    )
    p.add_argument("--json", default=None, help="write results here (default: benchmarks/results/<stem>.json)")
    _common.add_set_option(p)
    return p.parse_args(argv)


def _batch_sizes(text: str) -> list[int]:
    """``--batch-sizes 16,64``: whole numbers >= 1, comma-separated."""
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected whole numbers >= 1 separated by commas, got {text!r}")
    return sizes


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory(device) -> float | None:
    import resource

    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process peak RSS, GiB (Linux: KiB)


def _forward_flops(model, batch) -> float | None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()  # one sample: train-mode BatchNorm over a pooled 1 x 1 feature (ACM) would refuse it
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(batch["input"][:1])
        return float(counter.get_total_flops())
    except Exception:  # noqa: BLE001 - some ops have no flop formula; the column is then empty
        return None
    finally:
        model.train(was_training)


def _time(fn, steps, warmup, repeats, device) -> list[float]:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        _sync(device)
        times.append((time.perf_counter() - t0) / steps)
    return times


FP32_EAGER = ["train.amp=None", "train.compile=False", "train.channels_last=False"]


def bench(cfg, args, batch_size: int, against: list[str] | None = None) -> list[dict]:
    """Time the Trainer's own optimiser step (``Trainer.step``) and an inference forward at ``batch_size``.

    With ``against`` (overrides giving the baseline, e.g. :data:`FP32_EAGER`) the baseline is timed too,
    repeat by repeat in turn with the configured run, so that load on the machine hits both alike; the
    configured row then carries ``speedup_train`` / ``speedup_infer`` (median of the per-repeat ratios).
    """
    import tempfile

    from toolkit.config import apply_overrides

    timed = args.warmup + args.steps * args.repeats
    sets = [f"train.batch_size={batch_size}", f"train.max_iters={timed + 1}", "train.accum_steps=1"]
    sets += ["train.compile=True"] * bool(args.compile) + ["train.channels_last=True"] * bool(args.channels_last)
    if args.device:
        sets.append(f"device={args.device}")
    cfg = apply_overrides(copy.deepcopy(cfg), sets)
    cfgs = [cfg] + ([apply_overrides(copy.deepcopy(cfg), against)] if against else [])  # changes in place
    tmp = tempfile.mkdtemp(prefix="benchmark_")  # the Trainers' run folders, removed at the end
    try:
        runs = [_Run(c, args, batch_size, Path(tmp) / str(i)) for i, c in enumerate(cfgs)]
        for run in runs:
            run.warm()
        for _ in range(args.repeats):  # in turn: configured, baseline, configured, ...
            for run in runs:
                run.time_train()
        for _ in range(args.repeats):
            for run in runs:
                run.time_infer()
        rows = [run.row() for run in runs]
        if against:
            for key in ("train", "infer"):
                ratios = [b / a for a, b in zip(runs[0].times[key], runs[1].times[key])]
                rows[0][f"speedup_{key}"] = statistics.median(ratios)
            rows[1]["baseline_of"] = "the row above"
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Run:
    """One configured Trainer with a fixed batch on the device, timed in steps of ``args.steps``."""

    def __init__(self, cfg, args, batch_size: int, work_dir: Path):
        import torch

        from toolkit.engine import Trainer

        self.cfg, self.args, self.batch_size = cfg, args, batch_size
        self.trainer = trainer = Trainer(cfg, work_dir=str(work_dir), argv=["tools/benchmark.py"])
        self.device, task, dataset = trainer.device, trainer.task, trainer.train_set
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.collate = task.collate_fn("train") or torch.utils.data.default_collate
        one = self.collate([dataset[i % len(dataset)] for i in range(batch_size)])
        self.batch = {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in one.items()}
        self.flops = _forward_flops(trainer.model, self.batch)
        self.times: dict[str, list[float]] = {"train": [], "infer": []}

    def _train_step(self):
        self.trainer.step([self.batch])

    def _infer_step(self):
        import torch

        dtype = self.trainer.amp_dtype
        autocast = torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)
        with torch.no_grad(), autocast:
            self.trainer.train_model(self.batch["input"])

    def warm(self):
        self.trainer.model.train()
        _time(self._train_step, 0, self.args.warmup, 0, self.device)
        self.trainer.model.eval()
        _time(self._infer_step, 0, self.args.warmup, 0, self.device)

    def time_train(self):
        self.trainer.model.train()
        self.times["train"] += _time(self._train_step, self.args.steps, 0, 1, self.device)

    def time_infer(self):
        self.trainer.model.eval()
        self.times["infer"] += _time(self._infer_step, self.args.steps, 0, 1, self.device)

    def row(self) -> dict:
        import torch

        args, cfg, device, batch_size = self.args, self.cfg, self.device, self.batch_size
        data_time = None
        if not args.no_data:
            loader = torch.utils.data.DataLoader(
                self.trainer.train_set,
                batch_size=batch_size,
                shuffle=True,
                collate_fn=self.collate,
                num_workers=cfg.train.get("num_workers", 0),
                drop_last=True,
            )
            it, n, t0 = iter(loader), 0, time.perf_counter()
            for _ in range(min(10, len(loader))):
                next(it)
                n += 1
            data_time = (time.perf_counter() - t0) / max(n, 1)
        self.trainer.log.close()
        amp, flops = cfg.train.get("amp"), self.flops
        train_times, infer_times = self.times["train"], self.times["infer"]
        step = statistics.median(train_times)
        peak = args.peak_tflops
        if peak is None and device.type == "cuda":
            name = torch.cuda.get_device_name(device)
            peak = next((v[amp] for k, v in _PEAKS.items() if k in name), None)
        achieved = 3 * flops * batch_size / step / 1e12 if flops else None
        return {
            "config": cfg.get("_source_"),
            "device": torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else f"cpu ({torch.get_num_threads()} threads)",
            "batch_size": batch_size,
            "amp": amp,
            "compile": bool(cfg.train.get("compile")),
            "channels_last": bool(cfg.train.get("channels_last")),
            "params": sum(p.numel() for p in self.trainer.model.parameters()),
            "gflops_forward_per_sample": flops / 1e9 if flops else None,
            "train_step_s_median": step,
            "train_step_s_min": min(train_times),
            "train_step_s_max": max(train_times),
            "train_samples_per_s": batch_size / step,
            "infer_step_s_median": statistics.median(infer_times),
            "infer_samples_per_s": batch_size / statistics.median(infer_times),
            "data_s_per_step": data_time,
            "achieved_tflops": achieved,
            "mfu": achieved / peak if achieved and peak else None,
            "peak_memory_gib": _peak_memory(device),
            "torch": torch.__version__,
        }


def _setting(row: dict) -> str:
    parts = [f"amp {row['amp']}"] + ["compile"] * row["compile"] + ["channels_last"] * row["channels_last"]
    return ", ".join(parts)


def main() -> int:
    args = parse_args()
    from toolkit.config import load_config

    sets = list(args.set)
    if args.amp is not None:
        sets.append(f"train.amp={'None' if args.amp == 'none' else args.amp}")
    cfg = load_config(args.config, sets)
    sizes = args.batch_sizes or [cfg.train.batch_size]
    against = FP32_EAGER if args.against == "fp32-eager" else None
    rows = [row for bs in sizes for row in bench(cfg, args, bs, against)]
    header = (
        f"{'batch':>5} {'step ms':>9} {'samples/s':>10} {'infer/s':>9} {'data ms':>8} "
        f"{'GFLOP/smp':>9} {'TFLOP/s':>8} {'MFU':>6} {'mem GiB':>8}"
    )
    print(f"{rows[0]['config']} on {rows[0]['device']}, amp {rows[0]['amp']}, params {rows[0]['params'] / 1e6:.3f}M")
    print(header)
    for r in rows:
        fmt = lambda v, spec: format(v, spec) if v is not None else "-"  # noqa: E731
        print(
            f"{r['batch_size']:>5} {r['train_step_s_median'] * 1e3:>9.2f} {r['train_samples_per_s']:>10.1f} "
            f"{r['infer_samples_per_s']:>9.1f} {fmt(r['data_s_per_step'] and r['data_s_per_step'] * 1e3, '8.2f'):>8} "
            f"{fmt(r['gflops_forward_per_sample'], '9.3f'):>9} {fmt(r['achieved_tflops'], '8.3f'):>8} "
            f"{fmt(r['mfu'], '6.1%'):>6} {fmt(r['peak_memory_gib'], '8.2f'):>8}"
            + (f"  {_setting(r)}" if against else "")
        )
        if "speedup_train" in r:
            print(
                f"      speed-up over fp32 eager (median of {args.repeats} alternating repeats): "
                f"train {r['speedup_train']:.2f}x, inference {r['speedup_infer']:.2f}x"
            )
    out = Path(args.json) if args.json else _common.ROOT / "benchmarks" / "results" / f"{Path(args.config).stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
