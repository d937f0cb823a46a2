"""The report of a ``tools/tune.py`` study: tables, the best config, Optuna's plots and the printed summary.

Writes into the study folder ``tune.json``, ``trials.csv``, ``trials.md``, ``best_config.py`` and the plots
``history.png``, ``importances.png`` and ``parallel.png`` (each skipped, with the reason, while the study
cannot show it yet).
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Any


def summarise(study, metric: str, higher: bool, study_dir: Path, storage: str) -> dict[str, Any]:
    """Write ``tune.json``, ``trials.csv``, ``trials.md``, ``best_config.py`` and the plots; return the summary."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    keys = list(dict.fromkeys(k for t in trials for k in t.params))
    rows = []
    for t in trials:
        steps = sorted(t.intermediate_values)
        rows.append(
            dict(
                number=t.number,
                state=t.state.name.lower(),
                value=t.value,
                params=dict(t.params),
                iterations=steps[-1] if steps else None,
                validations=len(steps),
                seconds=round(t.duration.total_seconds(), 1) if t.duration else None,
                run_dir=t.user_attrs.get("run_dir"),
            )
        )
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = None
    if done:
        b = study.best_trial
        best = dict(number=b.number, value=b.value, params=dict(b.params), run_dir=b.user_attrs.get("run_dir"))
        config = Path(best["run_dir"] or "") / "config.py"
        if config.is_file():
            (study_dir / "best_config.py").write_text(config.read_text())
    counts = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail", "running")}
    summary = dict(
        study=study.study_name,
        storage=public_url(storage),
        metric=metric,
        direction="maximize" if higher else "minimize",
        counts=counts,
        best=best,
        trials=rows,
    )
    (study_dir / "tune.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    header = ["trial", "state", metric, *keys, "iterations", "seconds", "run_dir"]
    with open(study_dir / "trials.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r["number"], r["state"], r["value"], *[r["params"].get(k) for k in keys], r["iterations"],
                        r["seconds"], r["run_dir"]])  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        value = "" if r["value"] is None else f"{r['value']:.6g}"
        cells = [str(r["number"]), r["state"], value, *[_cell(r["params"].get(k)) for k in keys]]
        cells += [str(r["iterations"] or ""), str(r["seconds"] or ""), f"`{r['run_dir']}`"]
        lines.append("| " + " | ".join(cells) + " |")
    (study_dir / "trials.md").write_text("\n".join(lines) + "\n")
    summary["plots"] = draw_plots(study, study_dir, len(done), keys)
    (study_dir / "tune.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


def public_url(url: str) -> str:
    """A storage URL without its password."""
    import re

    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


def _cell(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


PLOTS = {
    "history.png": ("plot_optimization_history", 1, 1),  # Optuna's function, complete trials and params needed
    "importances.png": ("plot_param_importances", 2, 2),
    "parallel.png": ("plot_parallel_coordinate", 2, 1),
}


def draw_plots(study, study_dir: Path, complete: int, params: list[str]) -> dict[str, str]:
    """Optuna's matplotlib plots of the study, or why one is skipped: ``{file: 'written' | 'skipped: ...'}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    status = {}
    for name, (function, need_trials, need_params) in PLOTS.items():
        path = study_dir / name
        if complete < need_trials or len(params) < need_params:
            # NOTE: fANOVA importances of one parameter are 1.0 by construction, and a parallel-coordinates
            # plot of one trial is one line: Optuna draws both, but they say nothing, so they are skipped
            status[name] = (
                f"skipped: needs {need_trials} complete trial(s) and {need_params} parameter(s), "
                f"the study has {complete} and {len(params)}"
            )
            path.unlink(missing_ok=True)  # a plot of an older state of the study would mislead
            continue
        # fANOVA fits a random forest: seeded, the same study draws the same importances
        seeded = {"evaluator": optuna.importance.FanovaImportanceEvaluator(seed=0)}
        options = seeded if name == "importances.png" else {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" warnings of Optuna's matplotlib backend
                ax = getattr(optuna.visualization.matplotlib, function)(study, **options)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # e.g. every complete trial has one value
            status[name] = f"skipped: Optuna's {function} failed: {str(exc).splitlines()[0][:200]}"
            path.unlink(missing_ok=True)
            continue
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        fig.set_size_inches(8.0, 4.0 if name != "parallel.png" else 4.5)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        status[name] = "written"
    return status


def print_summary(summary: dict) -> None:
    c = summary["counts"]
    arrow = "higher" if summary["direction"] == "maximize" else "lower"
    print(
        f"study {summary['study']} ({summary['storage']}): {len(summary['trials'])} trials, {c['complete']} complete, "
        f"{c['pruned']} pruned, {c['fail']} failed, {c['running']} running; {summary['metric']} ({arrow} is better)"
    )
    best = summary["best"]
    if best is None:
        print("no trial completed yet")
    else:
        print(f"best: trial {best['number']}, {summary['metric']} {best['value']:.6g}, params {best['params']}")
        print(f"      run folder {best['run_dir']}")
