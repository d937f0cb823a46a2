"""Does the CPU fast path keep accuracy? Short trainings with bf16 autocast on and off, two seeds each.

For every config: train with ``train.amp=None`` and with ``train.amp='bf16'`` (everything else equal) for
seeds 0 and 1, then compare the final validation metric and the training-loss curve. The verdict for a
config is "equal" when the gap between the two settings' means is within the larger of the two settings'
seed-to-seed differences (run-to-run noise), and "worse" or "better" otherwise.

    python benchmarks/fastpath_accuracy.py [--configs tasks/video_pred/simvp_tiny.py ...] [--seeds 0 1]
        [--set KEY=VALUE ...] [--json benchmarks/results/cpu/fastpath_accuracy.json] [--work-dir DIR]

Writes the JSON and a PNG of the loss curves beside it; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_CONFIGS = [
    "tasks/video_pred/simvp_tiny.py",
    "tasks/sirst/dnanet_tiny.py",
    "tasks/hsi/hybridsn_tiny.py",
    "tasks/restoration/safmn_tiny.py",
]


def train_once(config: str, amp: str | None, seed: int, sets: list[str], work_dir: Path) -> dict:
    import json as _json

    from toolkit.config import load_config
    from toolkit.engine import Trainer

    cfg = load_config(ROOT / config, [*sets, f"train.amp={amp!r}", f"seed={seed}"])
    t0 = time.perf_counter()
    trainer = Trainer(cfg, work_dir=work_dir, argv=["benchmarks/fastpath_accuracy.py"])
    results = trainer.train()
    seconds = time.perf_counter() - t0
    key = trainer.task.primary_metric
    records = [_json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    curve = [(r["iter"], r["loss"]) for r in records if r["split"] == "train" and "loss" in r]
    return {
        "amp": amp,
        "seed": seed,
        "metric": key,
        "final": results[key],
        "higher_is_better": trainer.task.build_metrics().higher_is_better(key),
        "loss_curve": curve,
        "seconds": seconds,
    }


def verdict(runs: list[dict]) -> dict:
    off = [r["final"] for r in runs if r["amp"] is None]
    on = [r["final"] for r in runs if r["amp"] == "bf16"]
    noise = max(max(off) - min(off), max(on) - min(on))
    gap = statistics.mean(on) - statistics.mean(off)
    higher = runs[0]["higher_is_better"]
    if abs(gap) <= noise:
        word = "equal"
    else:
        word = "better" if (gap > 0) == higher else "worse"
    return {"fp32": off, "bf16": on, "gap": gap, "noise": noise, "verdict": word}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every run")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "cpu" / "fastpath_accuracy.json")
    p.add_argument("--work-dir", type=Path, default=None, help="keep the run folders here (default: removed)")
    args = p.parse_args()

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="fastpath_"))
    table = {}
    try:
        for config in args.configs:
            runs = []
            for seed in args.seeds:
                for amp in (None, "bf16"):  # in turn, so that load on the machine hits both alike
                    print(f"{config}: amp {amp}, seed {seed}", flush=True)
                    runs.append(train_once(config, amp, seed, args.set, work / Path(config).stem))
            table[config] = {"runs": runs, **verdict(runs)}
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"command": " ".join(["python", *sys.argv]), "table": table}, indent=1))
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)

    print("\n| config | metric | fp32 (seeds) | bf16 (seeds) | gap | seed noise | verdict | time fp32 / bf16 |")
    print("|---|---|---|---|---:|---:|---|---|")
    for config, row in table.items():
        metric = row["runs"][0]["metric"]
        t_off = sum(r["seconds"] for r in row["runs"] if r["amp"] is None)
        t_on = sum(r["seconds"] for r in row["runs"] if r["amp"] == "bf16")
        print(
            f"| `{config}` | {metric} | {', '.join(f'{v:.4g}' for v in row['fp32'])} | "
            f"{', '.join(f'{v:.4g}' for v in row['bf16'])} | {row['gap']:+.3g} | {row['noise']:.3g} | "
            f"{row['verdict']} | {t_off:.0f} s / {t_on:.0f} s |"
        )
    _plot(table, args.json.with_suffix(".png"))
    print(f"wrote {args.json} and {args.json.with_suffix('.png')}")
    return 0


def _plot(table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(table), figsize=(4.2 * len(table), 3.4), squeeze=False)
    for ax, (config, row) in zip(axes[0], table.items()):
        for run in row["runs"]:
            iters, losses = zip(*run["loss_curve"]) if run["loss_curve"] else ((), ())
            style = "-" if run["amp"] is None else "--"
            color = "tab:blue" if run["amp"] is None else "tab:orange"
            ax.plot(iters, losses, style, color=color, alpha=0.8, label=f"{run['amp'] or 'fp32'} seed {run['seed']}")
        ax.set_title(Path(config).stem, fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
