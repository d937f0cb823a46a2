"""Which run is better, and why: one table of runs and their validation curves.

    python tools/compare.py RUN_DIR RUN_DIR ... [--metric NAME] [--out DIR]

A run folder is what ``tools/train.py`` writes (``config.json``, ``metrics.jsonl``, ``log.txt``,
``checkpoints/``); tune trials and ablation runs are run folders too. For every run the table shows the
config keys whose values differ between the runs (``config.json``, flattened to dotted keys; a key one
run lacks shows ``(absent)``), the best and final validation value of ``--metric`` (default: the Task's
primary metric, the one that picks ``best.pt``; "best" follows the metric's direction) with the
iteration of the best, and, for the model rebuilt from the run's saved config: its parameter count and
the FLOPs of one forward pass on one training sample, as ``tools/benchmark.py`` counts them (torch's flop
counter: convolutions and matrix products, a multiply-add counts 2; "-" where an operator has no formula
or the data is not on this machine, with a note saying which). Then
the iterations trained, the training speed in samples/s (the median ``it_per_s`` of ``metrics.jsonl``'s
training records x ``train.batch_size`` x ``train.accum_steps`` x the world size ``log.txt`` states;
the records' intervals include validations that fall inside them) and the wall time (the span of
``log.txt``, pauses between a kill and a resume included).

Writes ``compare.md``, ``compare.csv`` and ``curves.png`` (the metric's validation curves, and the training
loss, of every run over iterations) into ``--out`` (default ``work_dirs/compare/<time>/``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import _common  # also puts the repository on sys.path
from benchmark import _forward_flops
from list import _fmt_count, format_table


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (with config.json and metrics.jsonl)")
    p.add_argument("--metric", metavar="NAME", help="validation metric to compare (default: the primary metric)")
    p.add_argument("--out", metavar="DIR", help="where compare.md, compare.csv and curves.png go")
    return p.parse_args(argv)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{'a': {'b': [1, {'c': 2}]}}`` -> ``{'a.b.0': 1, 'a.b.1.c': 2}`` (empty dicts and lists kept as values)."""
    if isinstance(value, dict) and value:
        items = value.items()
    elif isinstance(value, (list, tuple)) and value:
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for k, v in items:
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def config_differences(configs: list[dict]) -> list[str]:
    """Dotted keys whose values are not the same in every config (a key some configs lack counts)."""
    flat = [flatten(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    missing = object()
    return [k for k in keys if len({json.dumps(f.get(k, missing), default=repr) for f in flat}) > 1]


def read_records(run: Path) -> list[dict]:
    """The records of ``metrics.jsonl`` (a line cut by a kill is skipped)."""
    path = run / "metrics.jsonl"
    records = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def log_span(run: Path) -> float | None:
    """Seconds from the first to the last ``[HH:MM:SS]`` line of ``log.txt`` (days crossed counted)."""
    path = run / "log.txt"
    if not path.is_file():
        return None
    stamps = []
    for line in path.read_text().splitlines():
        if len(line) > 10 and line[0] == "[" and line[9] == "]":
            try:
                h, m, s = (int(v) for v in line[1:9].split(":"))
            except ValueError:
                continue
            stamps.append(3600 * h + 60 * m + s)
    total = sum((b - a) % 86400 for a, b in zip(stamps, stamps[1:]))
    return float(total) if stamps else None


def world_size(run: Path) -> int:
    """The world size the Trainer logged at the start of ``log.txt`` (1 when the line is not there)."""
    import re

    path = run / "log.txt"
    found = re.search(r"world size (\d+)", path.read_text()) if path.is_file() else None
    return int(found.group(1)) if found else 1


def flops_per_sample(task, model) -> tuple[float | None, str | None]:
    """FLOPs of ``model``'s forward pass on the first training sample (the size it trains on), or None and why."""
    from torch.utils.data import default_collate

    try:
        dataset = task.build_dataset("train")
        batch = (task.collate_fn("train") or default_collate)([dataset[0]])
    except Exception as exc:  # noqa: BLE001 - user data that is not on this machine: the column is empty
        return None, f"no training sample ({str(exc).splitlines()[0][:120]})"
    flops = _forward_flops(model, batch)
    return flops, None if flops is not None else "an operator without a flop formula"


def load_run(path: str) -> dict[str, Any]:
    """Everything the table needs about one run folder; a folder that is not a run is one error line."""
    from toolkit.config import load_config
    from toolkit.engine import build_task
    from toolkit.engine.checkpoint import load_checkpoint
    from toolkit.errors import DataError

    run = Path(path)
    if not (run / "config.json").is_file() or not (run / "config.py").is_file():
        raise DataError(f"{run}: not a run folder (no config.json / config.py; give <work_dir>/<config>/<time>/)")
    config = json.loads((run / "config.json").read_text())
    cfg = load_config(run / "config.py")
    task = build_task(cfg)
    ckpt = next((run / "checkpoints" / n for n in ("best.pt", "last.pt") if (run / "checkpoints" / n).is_file()), None)
    state = load_checkpoint(ckpt) if ckpt is not None else {}
    task.load_state_dict(state.get("task") or {})  # e.g. hsi: the sizes its metrics need, without the scene
    model = task.build_model()
    flops, why = flops_per_sample(task, model)
    return dict(
        run=run,
        config=config,
        task=task,
        records=read_records(run),
        params=sum(p.numel() for p in model.parameters()),
        flops=flops,
        flops_note=why,
        world=world_size(run),
        seconds=log_span(run),
    )


def summarise(info: dict[str, Any], metric: str) -> dict[str, Any]:
    """Best / final value of ``metric`` over the run's validations, iterations and speed."""
    from toolkit.errors import ConfigError

    val = [r for r in info["records"] if r.get("split") == "val" and isinstance(r.get(metric), (int, float))]
    train = [r for r in info["records"] if r.get("split") == "train"]
    row: dict[str, Any] = dict(best=None, best_iter=None, final=None, validations=len(val))
    if val:
        try:
            higher = info["task"].build_metrics().higher_is_better(metric)
        except (KeyError, ConfigError) as exc:
            raise ConfigError(f"{info['run']}: --metric {metric}: {exc}") from None
        pick = max if higher else min
        best = pick(val, key=lambda r: r[metric])
        row.update(best=best[metric], best_iter=best["iter"], final=val[-1][metric], higher=higher)
    row["iterations"] = max((r.get("iter", 0) for r in info["records"]), default=0)
    speeds = [r["it_per_s"] for r in train if isinstance(r.get("it_per_s"), (int, float))]
    row["it_per_s"] = statistics.median(speeds) if speeds else None
    tcfg = info["config"].get("train") or {}
    per_iter = int(tcfg.get("batch_size") or 1) * int(tcfg.get("accum_steps") or 1) * info["world"]
    row["samples_per_s"] = row["it_per_s"] * per_iter if speeds else None
    return row


def plot_curves(infos: list[dict], labels: list[str], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_m, ax_l) = plt.subplots(1, 2, figsize=(11, 4))
    for info, label in zip(infos, labels):
        val = [(r["iter"], r[metric]) for r in info["records"] if r.get("split") == "val" and metric in r]
        loss = [(r["iter"], r["loss"]) for r in info["records"] if r.get("split") == "train" and "loss" in r]
        if val:
            ax_m.plot(*zip(*val), marker="o", ms=3, label=label)
        if loss:
            ax_l.plot(*zip(*loss), label=label)
    ax_m.set_title(f"validation {metric}")
    ax_l.set_title("training loss")
    for ax in (ax_m, ax_l):
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    ax_m.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return json.dumps(v) if isinstance(v, (dict, list)) else str(v)


def _value(v: Any) -> str:
    """A config value for the table (``None`` as None, floats to 6 digits; compare.csv holds them in full)."""
    if isinstance(v, float):
        return f"{v:.6g}"
    return json.dumps(v) if isinstance(v, (dict, list)) else str(v)


def _labels(runs: list[Path]) -> list[str]:
    """Each run's path below the folder all of them share (``trial_0003/cfg/<time>``, or just ``<time>``)."""
    paths = [r.resolve() for r in runs]
    common = Path(os.path.commonpath(paths)) if len(paths) > 1 else paths[0].parent
    return [str(p.relative_to(common)) if p != common else p.name for p in paths]


def main(argv=None) -> int:
    args = parse_args(argv)
    from toolkit.errors import ConfigError

    infos = [load_run(p) for p in args.runs]
    metric = args.metric or infos[0]["task"].primary_metric
    rows = [summarise(info, metric) for info in infos]
    without = [str(i["run"]) for i, r in zip(infos, rows) if r["best"] is None]
    if len(without) == len(infos):
        raise ConfigError(f"--metric {metric}: no validation record of the runs has it ({', '.join(without)})")
    diffs = config_differences([i["config"] for i in infos])
    runs = [i["run"] for i in infos]
    labels = _labels(runs)
    missing = object()
    header = ["run", *diffs, f"best {metric}", "at iter", f"final {metric}", "params", "FLOPs/sample", "iters"]
    header += ["samples/s", "wall s"]
    table = []
    for info, row, label in zip(infos, rows, labels):
        flat = flatten(info["config"])
        cells = [label] + ["(absent)" if flat.get(k, missing) is missing else _value(flat[k]) for k in diffs]
        cells += [_fmt(row["best"]), _fmt(row["best_iter"]), _fmt(row["final"]), _fmt_count(info["params"])]
        cells += ["-" if info["flops"] is None else _fmt_count(info["flops"]), _fmt(row["iterations"])]
        cells += [_fmt(row["samples_per_s"] and round(row["samples_per_s"], 1)), _fmt(info["seconds"])]
        table.append(cells)

    out = Path(args.out) if args.out else Path("work_dirs") / "compare" / time.strftime("%Y%m%d_%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "compare.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run_dir", *diffs, f"best_{metric}", "best_iter", f"final_{metric}", "params", "flops_per_sample",
                    "iterations", "it_per_s", "samples_per_s", "wall_seconds"])  # fmt: skip
        for info, row in zip(infos, rows):
            flat = flatten(info["config"])
            w.writerow([info["run"], *[flat.get(k) for k in diffs], row["best"], row["best_iter"], row["final"],
                        info["params"], info["flops"], row["iterations"], row["it_per_s"], row["samples_per_s"],
                        info["seconds"]])  # fmt: skip
    higher = next((r["higher"] for r in rows if "higher" in r), None)
    direction = "higher is better" if higher else "lower is better"
    winner = (max if higher else min)((r for r in rows if r["best"] is not None), key=lambda r: r["best"])
    lines = [
        f"{len(infos)} runs; {len(diffs)} config key(s) differ; {metric}: {direction}",
        f"best {metric}: {_fmt(winner['best'])} ({labels[rows.index(winner)]})",
    ]
    if without:
        lines.append(f"note: no validation value of {metric} in {', '.join(without)}")
    for info, label in zip(infos, labels):
        if info["flops_note"]:
            lines.append(f"note: no FLOPs for {label}: {info['flops_note']}")
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in table]
    (out / "compare.md").write_text("\n".join(lines) + "\n\n" + "\n".join(md) + "\n")
    plot_curves(infos, labels, metric, out / "curves.png")
    print(format_table(header, table))
    print("\n".join(lines))
    print(f"wrote {out / 'compare.md'}, {out / 'compare.csv'}, {out / 'curves.png'}")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
