"""tools/faultcheck.py: real SIGKILLs at random moments, then --resume auto (opt-in: -m slow, about a minute)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_random_kills_lose_at_most_one_interval_and_resume_exactly(tmp_path):
    out = tmp_path / "faultcheck.json"
    cmd = [sys.executable, "tools/faultcheck.py", "--kills", "6", "--tasks", "hsi,restoration", "--seed", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [*cmd, "--work-dir", str(tmp_path / "runs"), "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    total = json.loads(out.read_text())["total"]
    assert total["kills"] == 6 and total["lost_within_one_interval"] and total["resume_exact"]
    assert total["unreadable_checkpoints"] == 0 and total["temp_files_left"] == 0
