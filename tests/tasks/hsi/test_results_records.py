"""docs/results.md's rows for the full HybridSN are the evaluation records committed beside them (docs/runs/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RESULTS = (ROOT / "docs/results.md").read_text()
KEYS = ("OA", "AA", "kappa", "logreg_OA", "logreg_AA", "logreg_kappa")


def _row(label: str) -> list[str]:
    """The cells after the first of the one table row whose first cell is ``label`` (bold marks dropped)."""
    rows = [[c.strip().replace("**", "") for c in line.strip().strip("|").split("|")] for line in RESULTS.splitlines()]
    found = [row[1:] for row in rows if row[0] == label]
    assert len(found) == 1, f"one row {label!r} in docs/results.md"
    return found[0]


@pytest.mark.parametrize(
    "label, record",
    [
        ("144×144, the default scene", "hybridsn_scene144"),
        ("96×96, the former default", "hybridsn_scene96"),
    ],
)
def test_each_full_hybridsn_row_is_its_record(label, record):
    rec = json.loads((ROOT / "docs/runs" / record / "metrics.json").read_text())
    m = rec["metrics"]
    cells = _row(label)
    assert cells == [f"{rec['samples']:,}"] + [f"{100 * m[k]:.2f}" for k in KEYS]
    assert m["test_in_train_patches"] == 0  # the disjoint split: no test pixel inside a training patch
