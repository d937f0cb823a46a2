"""Evaluate a trained model: print a metrics table, write metrics.json and pictures.

    python tools/eval.py CFG --checkpoint PATH [--split test] [--out DIR] [--set KEY=VALUE ...]
    python tools/eval.py --task video_pred      # the task's default config and its latest best.pt

With ``--task``, the task's default configs are tried in order (for video_pred: simvp.py, then
simvp_tiny.py); the first one with a trained run under ``work_dirs/`` is evaluated with that run's
own resolved config and ``checkpoints/best.pt``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
from pathlib import Path

import _common


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", help="config file (omit with --task)")
    p.add_argument("--checkpoint", metavar="PATH", help="checkpoint to evaluate (best.pt / last.pt)")
    p.add_argument("--task", metavar="NAME", help="evaluate the latest best checkpoint of the task's default config")
    p.add_argument("--split", default="test", help="dataset split to evaluate (default: test)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: <run>/eval_<split>_<time>/)")
    p.add_argument("--work-dir", default=None, help="where runs live (default: the config's work_dir)")
    _common.add_set_option(p)
    return p.parse_args(argv)


def _find_task_run(task: str, work_dir: str | None) -> tuple[Path, Path]:
    """(config, checkpoint) of the newest best.pt among the task's default configs, in preference order."""
    from toolkit.config import load_config
    from toolkit.engine import task_module
    from toolkit.engine.runlog import latest_run_dir
    from toolkit.errors import ConfigError
    from toolkit.registry import TASKS

    try:
        importlib.import_module(task_module(task))
    except ModuleNotFoundError:
        raise ConfigError(
            f"--task {task}: no package {task_module(task)} (known: {', '.join(_known_tasks())})"
        ) from None
    cls = TASKS.get(task_module(task).rsplit(".", 1)[-1])
    tried = []
    for rel in cls.default_configs:
        cfg_path = _common.ROOT / rel
        root = Path(work_dir or load_config(cfg_path).get("work_dir", "work_dirs"))
        run = latest_run_dir(root, cfg_path.stem, "best.pt")
        if run is not None:
            return run / "config.py", run / "checkpoints" / "best.pt"
        tried.append(f"{root}/{cfg_path.stem}/*/checkpoints/best.pt")
    first = cls.default_configs[-1] if cls.default_configs else f"tasks/{task}/<config>.py"
    raise ConfigError(
        f"no trained checkpoint for task {task!r} (looked for {', '.join(tried) or 'default configs: none declared'}). "
        f"Train one first: python tools/train.py {first}"
    )


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

    device = resolve_device(cfg.get("device", "auto"), int(os.environ.get("LOCAL_RANK", "0")))
    rank, world, local_rank = dist.init_distributed(device.type)
    device = resolve_device(cfg.get("device", "auto"), local_rank)
    task, dataset, model = load_for_eval(cfg, ckpt, args.split, device)
    ecfg = cfg.get("eval") or {}
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.train.get("amp"))
    loader = eval_loader(dataset, cfg, task.collate_fn(args.split), rank=rank, world=world)
    run_dir = ckpt.resolve().parent.parent
    out = Path(args.out) if args.out else run_dir / f"eval_{args.split}_{time.strftime('%Y%m%d_%H%M%S')}"
    ev = evaluate(
        model,
        task,
        loader,
        device=device,
        amp_dtype=amp,
        max_batches=ecfg.get("max_batches"),
        vis_items=ecfg.get("vis_items", 4) if rank == 0 else 0,
        progress=f"eval {args.split}" if rank == 0 else None,
    )
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
            "samples": len(dataset),
            "metrics": ev.results,
        }
        (out / "metrics.json").write_text(json.dumps(record, indent=2, default=_jsonable) + "\n")
        print(task.format_results(ev.results, ev.metrics))
        print(f"wrote {out / 'metrics.json'} and pictures to {out}/")
    dist.cleanup()
    return 0


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


if __name__ == "__main__":
    _common.run_main(main)
