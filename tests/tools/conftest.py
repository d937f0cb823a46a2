"""Fixtures importing a tool script (``tools/<name>.py``) as a module, with ``tools/`` and the plug-in tasks on
``sys.path`` (the tools import ``_common``; the toy plug-in task lives in ``tests/plugins``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
PLUGINS = ROOT / "tests" / "plugins"


def _import_tool(name: str):
    sys.path[:0] = [str(TOOLS), str(PLUGINS)]
    try:
        spec = importlib.util.spec_from_file_location(f"tools_{name}_under_test", TOOLS / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(TOOLS))
        sys.path.remove(str(PLUGINS))


@pytest.fixture(scope="module")
def compare():
    yield from _import_tool("compare")


@pytest.fixture(scope="module")
def explain():
    yield from _import_tool("explain")


@pytest.fixture(scope="module")
def tune():
    yield from _import_tool("tune")
