"""Fixtures for the SIRST tests: a small generated dataset and the real NUAA-SIRST folder when present."""

from __future__ import annotations

from pathlib import Path

import pytest

import tasks.sirst  # noqa: F401  (registers the task, models, metrics and losses)
from tasks.sirst.synth import ensure_dataset

NUAA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "sirst" / "NUAA-SIRST"
SMALL = dict(num_train=16, num_test=6, seed=3)


@pytest.fixture(scope="session")
def synth_cache(tmp_path_factory) -> Path:
    """A cache folder holding the small generated set (``SMALL``), generated once per session."""
    cache = tmp_path_factory.mktemp("sirst_cache")
    ensure_dataset(cache, **SMALL)
    return cache


@pytest.fixture(scope="session")
def synth_root(synth_cache) -> Path:
    return ensure_dataset(synth_cache, **SMALL)


@pytest.fixture(scope="session")
def synth_params() -> dict:
    """The generator options of the small set (for configs: data.synth)."""
    return dict(SMALL)


@pytest.fixture
def nuaa_root() -> Path:
    if not (NUAA / "images").is_dir():
        pytest.skip("../shared/data/sirst/NUAA-SIRST is not present")
    return NUAA
