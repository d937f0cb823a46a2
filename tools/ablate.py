"""Train one short run per value of a config key and compare them in one table and chart.

    python tools/ablate.py tasks/video_pred/simvp_tiny.py --vary model.attn.type=se,cbam,eca \\
        --set train.max_iters=200 [--seeds 3] [--out DIR] [--work-dir DIR]

Runs are sequential and in-process (``toolkit.engine.Trainer``), each in its own run folder under
``<out>/runs/<value>/``. The output folder (default ``work_dirs/ablate/<config-stem>_<key>_<time>/``)
receives ``results.md``, ``results.csv``, ``results.png`` and ``tb/<value>/`` (a TensorBoard HParams session
per value: ``tensorboard --logdir <out>/tb``, tab HPARAMS): for every value the primary metric
(best validation value), the parameter count, the FLOPs of one sample's evaluation step (torch's
flop counter: matmuls and convolutions, 2 per multiply-add; element-wise products such as an
attention gate are not counted) with its difference to the first value, and the training throughput
in samples per second (validation time excluded). With ``--seeds N`` every value is trained N times
(``seed``, ``seed + 1``, ...) and the table gives the metric's mean and sample standard deviation.

``--vary KEY=a,b,c`` takes Python literals (``none`` for None). For a ``KEY`` ending in ``.type``:
when its parent is ``None`` in the config (an empty attention slot) the parent becomes
``dict(type=value)``, so ``model.attn.type=se`` works on configs that leave ``attn=None``; and the
parent's other options are kept only where the new type's constructor accepts them (looked up in
the registries), so ``cbam``'s ``spatial_kernel`` is not handed to ``se`` while a shared
``reduction`` carries over.
"""

from __future__ import annotations

import argparse
import copy
import csv
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import _common  # also puts the repository on sys.path


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="config file, e.g. tasks/video_pred/simvp_tiny.py")
    p.add_argument("--vary", required=True, metavar="KEY=V1,V2,...", help="config key and the values to compare")
    _common.add_set_option(p, "overrides applied to every run (e.g. train.max_iters=100)")
    p.add_argument(
        "--seeds", type=_common.positive_int, default=1, metavar="N", help="runs per value (seeds seed..seed+N-1)"
    )
    p.add_argument("--out", metavar="DIR", help="output folder for the table and chart")
    p.add_argument("--work-dir", metavar="DIR", help="root of the run folders (default: <out>/runs)")
    return p.parse_args(argv)


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``'model.attn.type=se,cbam'`` -> ``('model.attn.type', ['se', 'cbam'])`` (values as literals)."""
    from toolkit.config import parse_override
    from toolkit.errors import ConfigError

    if "=" not in text:
        raise ConfigError(f"--vary {text!r} must look like key.path=value1,value2")
    key, raw = text.split("=", 1)
    values = [parse_override(f"{key}={v.strip()}")[1] for v in raw.split(",") if v.strip()]
    if not key.strip() or not values:
        raise ConfigError(f"--vary {text!r} must name a key and at least one value")
    if len({repr(v) for v in values}) != len(values):
        raise ConfigError(f"--vary {text!r} repeats a value")
    return key.strip(), values


def override_for(cfg, key: str, value: Any) -> str:
    """The ``--set`` string giving ``key`` the value ``value`` in ``cfg`` (see the module docstring)."""
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    if key.endswith(".type") and parent and _path_exists(cfg, parent):
        node = cfg.get_path(parent)
        if node is None:
            return f"{parent}={dict(type=value)!r}"
        accepted = _accepted_options(value) if value is not None else None
        if isinstance(node, dict) and accepted is not None:
            kept = {k: v for k, v in node.to_dict().items() if k != "type" and k in accepted}
            if len(kept) != len(node) - ("type" in node):
                return f"{parent}={dict(type=value, **kept)!r}"
    return f"{key}={value!r}"


def _accepted_options(name: Any) -> set[str] | None:
    """Keyword names accepted by the registry entries called ``name``; None when unknown or open (``**kwargs``)."""
    from toolkit import registry

    accepted: set[str] = set()
    found = False
    for reg_name in registry.__all__:
        reg = getattr(registry, reg_name)
        if not isinstance(reg, registry.Registry) or not isinstance(name, str) or name not in reg:
            continue
        names = reg.accepts(name)
        if names is None:
            return None
        found = True
        accepted |= names
    return accepted if found else None


def _path_exists(cfg, dotted: str) -> bool:
    sentinel = object()
    return cfg.get_path(dotted, sentinel) is not sentinel


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(value)).strip("_") or "value"


def flops_per_sample(trainer) -> float | None:
    """FLOPs of one evaluation step on a batch of one validation sample, or None if it cannot be counted."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from toolkit.engine import eval_loader, to_device

    try:
        loader = eval_loader(trainer.val_set, trainer.cfg, trainer.task.collate_fn("val"), batch_size=1)
        batch = to_device(next(iter(loader)), trainer.device)
    except StopIteration:
        return None
    was_training = trainer.model.training
    trainer.model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        trainer.task.eval_step(trainer.model, batch)
    trainer.model.train(was_training)
    return float(counter.get_total_flops())


def run_one(cfg, work_dir: Path) -> dict[str, Any]:
    """Train ``cfg`` with the Trainer; return its primary metric, size, FLOPs and training throughput."""
    from toolkit.engine import Trainer

    trainer = Trainer(cfg, work_dir=work_dir, argv=["tools/ablate.py"])
    start_iter = trainer.iter
    t0 = time.perf_counter()
    last = trainer.train()
    train_seconds = max(time.perf_counter() - t0 - trainer.eval_seconds, 1e-9)  # validation is not throughput
    tcfg = cfg.train
    samples = (trainer.iter - start_iter) * tcfg.batch_size * tcfg.get("accum_steps", 1) * trainer.world
    key = trainer.task.primary_metric
    return dict(
        metric=key,
        value=trainer.best if trainer.best is not None else last.get(key),
        higher_is_better=trainer.task.build_metrics().higher_is_better(key),
        params=sum(p.numel() for p in trainer.model.parameters()),
        flops=flops_per_sample(trainer),
        samples_per_s=samples / train_seconds,
        run_dir=str(trainer.run_dir),
    )


def _spread(values: list[float]) -> str:
    """``mean ± sample std (n)`` of the seeds' values, or the one value."""
    import statistics

    if len(values) == 1:
        return f"{values[0]:.6g}"
    return f"{statistics.mean(values):.6g} ± {statistics.stdev(values):.2g} (n={len(values)})"


def _std(values: list[float]) -> float:
    import statistics

    return statistics.stdev(values) if len(values) > 1 else 0.0


def write_outputs(rows: list[dict], key: str, out: Path) -> None:
    """Write ``results.md``, ``results.csv`` and the bar chart ``results.png`` into ``out``.

    ``rows``: one per value, ``value`` the mean over its seeds and ``values`` every seed's result.
    """
    metric = rows[0]["metric"]
    arrow = "higher is better" if rows[0]["higher_is_better"] else "lower is better"
    seeds = max(len(r["values"]) for r in rows)
    shown = f"{metric} (best val" + (f", mean ± std over {seeds} seeds)" if seeds > 1 else ")")
    header = [key, shown, "params", "FLOPs/sample", "vs first", "samples/s", "run"]
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([key, "seed", metric, "params", "flops_per_sample", "samples_per_s", "run_dir"])
        for r in rows:
            for seed, value, run_dir in zip(r["seeds"], r["values"], r["run_dirs"]):
                w.writerow([r["value_name"], seed, value, r["params"], r["flops"], r["samples_per_s"], run_dir])
    lines = [f"# Ablation of `{key}`", "", f"Primary metric `{metric}` ({arrow}).", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    first = rows[0]["flops"]
    for r in rows:
        flops = "n/a" if r["flops"] is None else f"{r['flops'] / 1e6:,.3f}M"
        delta = "n/a" if r["flops"] is None or first is None else f"{r['flops'] - first:+,.0f}"
        runs = r["run_dirs"][0] if len(r["run_dirs"]) == 1 else str(Path(r["run_dirs"][0]).parent.parent)
        cells = [
            r["value_name"],
            _spread(r["values"]),
            f"{r['params']:,}",
            flops,
            delta,
            f"{r['samples_per_s']:.1f}",
            f"`{runs}`",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    (out / "results.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["value_name"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(4 + 1.2 * len(rows) * 3, 3.6))
    panels = [
        (metric + f" ({arrow})", [r["value"] for r in rows]),
        ("params (M)", [r["params"] / 1e6 for r in rows]),
        ("samples/s (train)", [r["samples_per_s"] for r in rows]),
    ]
    values = [r["value"] for r in rows]
    best = values.index(max(values) if rows[0]["higher_is_better"] else min(values))
    for i, (ax, (title, vals)) in enumerate(zip(axes, panels)):
        colors = ["tab:orange" if (i == 0 and j == best) else "tab:blue" for j in range(len(vals))]
        errors = [_std(r["values"]) for r in rows] if i == 0 and seeds > 1 else None
        bars = ax.bar(names, vals, color=colors, yerr=errors, capsize=4 if errors else 0)
        ax.bar_label(bars, labels=[f"{v:.4g}" for v in vals], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle(f"{key}", fontsize=11)
    fig.tight_layout()
    fig.savefig(out / "results.png", dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    from toolkit.config import apply_overrides, load_config

    key, values = parse_vary(args.vary)
    base = load_config(args.config, args.set)  # fails early on a bad config or override
    from toolkit.engine import build_task

    build_task(base)  # fills MODELS / ATTENTION with the task's entries before resolving the values
    # resolve every variant, and look up its registry names, before training any or writing anything,
    # so that a bad value fails before minutes of training
    variants = []
    for value in values:
        cfg = load_config(args.config, args.set)
        apply_overrides(cfg, [override_for(base, key, value)])
        build_task(cfg).check_components()
        variants.append((value, cfg))
    stem = Path(args.config).stem
    out = (
        Path(args.out)
        if args.out
        else Path("work_dirs") / "ablate" / (f"{stem}_{_slug(key)}_{datetime.now().strftime('%Y%m%d_%H%M%S')}")
    )
    out.mkdir(parents=True, exist_ok=True)
    runs_root = Path(args.work_dir) if args.work_dir else out / "runs"
    print(f"ablation of {key} over {len(values)} values; output folder: {out}", flush=True)
    rows = []
    for value, cfg in variants:
        row: dict[str, Any] = {}
        for k in range(args.seeds):
            seed = cfg.get("seed", 0) + k
            print(f"--- {key} = {value!r}" + (f", seed {seed}" if args.seeds > 1 else ""), flush=True)
            run_cfg = copy.deepcopy(cfg)
            run_cfg["seed"] = seed
            folder = runs_root / _slug(value) / (f"seed{seed}" if args.seeds > 1 else "")
            one = run_one(run_cfg, folder)
            row = row or {**one, "value_name": str(value), "values": [], "seeds": [], "run_dirs": [], "rates": []}
            row["values"].append(one["value"])
            row["seeds"].append(seed)
            row["run_dirs"].append(one["run_dir"])
            row["rates"].append(one["samples_per_s"])
            row["value"] = sum(row["values"]) / len(row["values"])
            row["samples_per_s"] = sum(row["rates"]) / len(row["rates"])
            write_outputs(rows + [row], key, out)  # keep partial results if a later run fails
        rows.append(row)
        scores = {row["metric"]: row["value"], "params": row["params"], "flops_per_sample": row["flops"]}
        scores["samples_per_s"] = row["samples_per_s"]  # with --seeds, the means over the seeds
        _common.write_hparams(out / "tb" / _slug(value), {key: value}, scores, domains={key: values})
    print((out / "results.md").read_text())
    print(f"wrote {out / 'results.md'}, {out / 'results.csv'}, {out / 'results.png'}")
    print(f"HParams (a session per value): tensorboard --logdir {out / 'tb'}")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
