"""docs/results.md's ACM rows are the evaluation records committed beside them (docs/runs/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RESULTS = (ROOT / "docs/results.md").read_text()


def _row(label: str) -> list[str]:
    """The cells after the first of the one table row whose first cell is ``label`` (bold or not)."""
    rows = [[c.strip().strip("*") for c in line.strip().strip("|").split("|")] for line in RESULTS.splitlines()]
    found = [row[1:] for row in rows if row[0] == label]
    assert len(found) == 1, f"one row {label!r} in docs/results.md"
    return found[0]


def _figures(record: str) -> tuple[float, ...]:
    m = json.loads((ROOT / "docs/runs" / record / "metrics.json").read_text())["metrics"]
    return m["mIoU"] * 100, m["nIoU"] * 100, m["Pd"] * 100, m["Fa"] * 1e6, m["AUC"]


@pytest.mark.parametrize("seed", [42, 43])
def test_each_seed_row_is_its_record(seed):
    want = _figures(f"acm_basicirstd_s{seed}")
    assert _row(f"ACM here, seed {seed}") == [f"{v:.2f}" for v in want[:4]] + [f"{want[4]:.4f}"]


def test_the_mean_row_is_the_mean_of_the_records():
    a, b = _figures("acm_basicirstd_s42"), _figures("acm_basicirstd_s43")
    mean = [(x + y) / 2 for x, y in zip(a, b)]
    assert _row("ACM here, mean of the two seeds") == [f"{v:.2f}" for v in mean[:4]] + [f"{mean[4]:.4f}"]


def test_the_baseline_rows_are_the_top_hat_figures_of_the_record():
    m = json.loads((ROOT / "docs/runs/acm_basicirstd_s42/metrics.json").read_text())["metrics"]
    want = [m["tophat_mIoU"] * 100, m["tophat_nIoU"] * 100, m["tophat_Pd"] * 100, m["tophat_Fa"] * 1e6]
    cells = [f"{v:.2f}" for v in want] + [f"{m['tophat_AUC']:.4f}"]
    assert _row("top-hat detector, no training (the baseline)") == cells
