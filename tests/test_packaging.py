"""Every third-party package the toolkit, the tasks and the tools import is declared in setup.cfg."""

from __future__ import annotations

import ast
import configparser
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL = {"toolkit", "tasks", "tools", "_common", "__future__"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    return {_normalise(re.match(r"[A-Za-z0-9._-]+", ln.strip()).group()) for ln in lines if ln.strip()}


def _imports() -> dict[str, str]:
    """``{top-level module: first file importing it}`` of the non-standard-library imports in the package."""
    found: dict[str, str] = {}
    for folder in ("toolkit", "tasks", "tools"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in LOCAL:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared():
    declared, providers = _declared(), packages_distributions()
    imports = _imports()
    assert {"torch", "numpy", "cv2", "PIL"} <= set(imports)  # the scan sees the imports
    missing = []
    for module, where in sorted(imports.items()):
        dists = {_normalise(d) for d in providers.get(module, [])}
        if not dists & declared:
            missing.append(f"{module} (imported in {where}; installed from {sorted(dists) or 'nothing'})")
    assert not missing, f"imported but not in setup.cfg install_requires: {missing}"
