"""Evaluate a trained model on a whole split: print a metrics table, write metrics.json and pictures.

    python tools/eval.py CFG --checkpoint PATH [--split test] [--out DIR] [--set KEY=VALUE ...]
    python tools/eval.py --task video_pred      # the newest best.pt among the task's runs
    python tools/eval.py ... --max-batches 10   # a quick, partial look (the output says so)

With ``--task``, every run under the work folder (``--work-dir``, or the ``work_dir`` of the task's
default configs) whose saved ``config.py`` names the task is a candidate; the run whose
``checkpoints/best.pt`` was written last is evaluated with its own resolved config. The tool prints
which run it chose among how many.

The whole split is scored unless ``--max-batches`` says otherwise; the config's ``eval.max_batches``
limits validation during training only. The line after the table states how many samples were scored.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import _common


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", help="config file (omit with --task)")
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="checkpoint to evaluate (best.pt / last.pt), or released weights of another code base (mapped by "
        "the model's from_release, loaded strictly)",
    )
    p.add_argument(
        "--weights-key",
        metavar="KEY",
        help="entry of the checkpoint holding the weights (released files: params_ema (default) or params; "
        "toolkit checkpoints: ema (default when present) or model)",
    )
    p.add_argument("--task", metavar="NAME", help="evaluate the newest best checkpoint among the task's runs")
    p.add_argument("--split", default="test", help="dataset split to evaluate (default: test)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: <run>/eval_<split>_<time>/; for a checkpoint outside a run folder, "
        "<work_dir>/<config stem>/eval_<split>_<time>/)",
    )
    p.add_argument("--work-dir", default=None, help="where runs live (default: the config's work_dir)")
    p.add_argument(
        "--max-batches",
        type=_positive_int,
        metavar="N",
        help="score only the first N batches (a partial evaluation; default: the whole split)",
    )
    _common.add_set_option(p)
    return p.parse_args(argv)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _find_task_run(task: str, work_dir: str | None) -> tuple[Path, Path]:
    """(config, checkpoint) of the newest ``best.pt`` among all runs of ``task``; prints the choice and why.

    A run is ``<root>/<config-stem>/<stamp>/`` with ``config.py`` naming the task and
    ``checkpoints/best.pt``; ``root`` is ``work_dir`` or the ``work_dir`` of each default config.
    "Newest" is the modification time of ``best.pt`` (the last improvement written), so a long
    run of one config wins over an older smoke test of another, whatever the configs' order.
    """
    from toolkit.config import load_config
    from toolkit.engine import task_class, task_module
    from toolkit.errors import ConfigError

    try:
        cls = task_class(task, "--task")
    except ConfigError as exc:
        raise ConfigError(f"{exc} (known: {', '.join(_known_tasks())})") from None
    module = task_module(task)
    if work_dir:
        roots = [Path(work_dir)]
    else:
        roots = [Path(load_config(_common.ROOT / rel).get("work_dir", "work_dirs")) for rel in cls.default_configs]
        roots = list(dict.fromkeys([*roots, Path("work_dirs")]))
    runs = []  # (mtime of best.pt, best.pt)
    for root in roots:
        for best in root.glob("*/*/checkpoints/best.pt"):
            if _run_task(best.parent.parent / "config.py") == module:
                runs.append((best.stat().st_mtime_ns, best))
    if not runs:
        first = cls.default_configs[-1] if cls.default_configs else f"tasks/{task}/<config>.py"
        looked = ", ".join(f"{root}/*/*/checkpoints/best.pt" for root in roots)
        raise ConfigError(
            f"no trained checkpoint for task {task!r} (looked for {looked} of runs whose config.py has "
            f"task={task!r}). Train one first: python tools/train.py {first}"
        )
    _, best = max(runs)
    run = best.parent.parent
    print(
        f"newest best.pt among {len(runs)} run(s) of task {task}: {best} "
        f"(config {run.parent.name}, iteration {_checkpoint_iter(best)}, written "
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(best.stat().st_mtime))}); "
        "give CFG --checkpoint PATH to choose another",
        flush=True,
    )
    return run / "config.py", best


def _run_task(config: Path) -> str | None:
    """The task module a run's saved ``config.py`` names, or ``None`` when it is absent or unreadable."""
    from toolkit.config import load_config
    from toolkit.engine import task_module
    from toolkit.errors import ConfigError

    try:
        name = load_config(config).get("task")
    except ConfigError:  # not a run folder of this toolkit, or a config.py edited into an error
        return None
    return task_module(name) if isinstance(name, str) and name else None


def _checkpoint_iter(path: Path) -> str:
    """The iteration a checkpoint was saved at, read lazily (memory-mapped: no weight is loaded)."""
    import torch

    try:
        return str(torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("iter", "?"))
    except Exception:  # noqa: BLE001 - only for the message; load_for_eval reports a bad file properly
        return "?"


def _known_tasks() -> list[str]:
    return [m.removeprefix("tasks.") for m in _common.task_modules()]


def main() -> int:
    args = parse_args()
    import torch

    from toolkit.config import load_config
    from toolkit.engine import dist, eval_loader, evaluate, load_for_eval, resolve_device
    from toolkit.errors import ConfigError

    if args.task:
        cfg_path, ckpt = _find_task_run(args.task, args.work_dir)
        if args.checkpoint:
            ckpt = Path(args.checkpoint)
    else:
        if not args.config or not args.checkpoint:
            raise ConfigError("give CFG --checkpoint PATH, or --task NAME (see --help)")
        cfg_path, ckpt = Path(args.config), Path(args.checkpoint)
    cfg = load_config(cfg_path, args.set)
    print(f"config: {cfg_path}\ncheckpoint: {ckpt}", flush=True)
    config_limit = cfg.get_path("eval.max_batches")
    if config_limit is not None and args.max_batches is None:
        print(
            f"note: the config's eval.max_batches={config_limit} limits validation during training only; "
            "scoring the whole split (--max-batches N to score part of it)",
            flush=True,
        )

    device = resolve_device(cfg.get("device", "auto"), int(os.environ.get("LOCAL_RANK", "0")))
    rank, world, local_rank = dist.init_distributed(device.type)
    device = resolve_device(cfg.get("device", "auto"), local_rank)
    task, dataset, model = load_for_eval(
        cfg, ckpt, args.split, device, weights_key=args.weights_key, log=lambda line: print(line, flush=True)
    )
    ecfg = cfg.get("eval") or {}
    amp_name, amp_note = dist.resolve_amp(cfg.train.get("amp"), device)
    if amp_note and rank == 0:
        print(amp_note, flush=True)
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp_name)
    loader = eval_loader(dataset, cfg, task.collate_fn(args.split), rank=rank, world=world)
    run_dir = ckpt.resolve().parent.parent
    if not (ckpt.resolve().parent.name == "checkpoints" and (run_dir / "config.py").is_file()):
        # a checkpoint outside a run folder (released weights, a copied file): <work_dir>/<config stem>/
        run_dir = Path(args.work_dir or cfg.get("work_dir", "work_dirs")) / cfg_path.stem
    out = Path(args.out) if args.out else run_dir / f"eval_{args.split}_{time.strftime('%Y%m%d_%H%M%S')}"
    ev = evaluate(
        model,
        task,
        loader,
        device=device,
        amp_dtype=amp,
        max_batches=args.max_batches,
        vis_items=ecfg.get("vis_items", 4) if rank == 0 else 0,
        progress=f"eval {args.split}" if rank == 0 else None,
    )
    # every process scored its shard: the total over processes is what the metrics cover
    scored = round(dist.all_reduce_mean(float(ev.samples), device) * world)
    coverage = f"scored {scored} of {len(dataset)} samples of split {args.split!r}"
    if scored < len(dataset):
        coverage += f" (partial: --max-batches {args.max_batches})" if args.max_batches else " (partial)"
    else:
        coverage += " (the whole split)"
    if rank == 0:
        from toolkit.engine.runlog import save_picture

        out.mkdir(parents=True, exist_ok=True)
        for name, img in ev.pictures.items():
            save_picture(img, out / f"{args.split}_{name}")
        task.report(ev.metrics, ev.results, out, model=model, device=device)
        record = {
            "config": str(cfg_path),
            "checkpoint": str(ckpt),
            "split": args.split,
            "samples": scored,
            "split_samples": len(dataset),
            "max_batches": args.max_batches,
            "metrics": ev.results,
        }
        (out / "metrics.json").write_text(json.dumps(record, indent=2, default=_jsonable) + "\n")
        print(task.format_results(ev.results, ev.metrics))
        print(coverage)
        print(f"wrote {out / 'metrics.json'} and pictures to {out}/")
    dist.cleanup(finished=True)
    return 0


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


if __name__ == "__main__":
    _common.run_main(main)
