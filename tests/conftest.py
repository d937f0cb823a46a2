"""Test-wide settings: small thread pools, GPU tests skipped without CUDA, shared-data paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GOLDEN = Path(__file__).resolve().parent / "golden"  # reference-value fixtures shipped with the tests
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# under pytest-xdist every worker gets one thread: two workers with two threads each on two cores run
# 5-10x slower than one each, as torch's pools spin against each other
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the tools the tests run as subprocesses, too
else:
    torch.set_num_threads(min(2, torch.get_num_threads()))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the repository; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture
def golden_dir() -> Path:
    """``tests/golden``: the golden metric fixtures, part of the repository (never skipped)."""
    return GOLDEN
