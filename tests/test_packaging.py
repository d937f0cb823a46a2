"""Every third-party package the toolkit, the tasks and the tools import is declared in setup.cfg."""

from __future__ import annotations

import ast
import configparser
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the tools import each other by file name (tools/ is on sys.path when one runs): _common, list, ...
LOCAL = {"toolkit", "tasks", "tools", "__future__"} | {p.stem for p in (ROOT / "tools").glob("*.py")}


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


# optional packages: {module: the distribution in the `trackers` extra}; imported only inside functions
OPTIONAL = {"mlflow": "mlflow-skinny", "wandb": "wandb"}


def _import_names(path: Path) -> tuple[set[str], set[str]]:
    """Top-level modules ``path`` imports: all of them, and those imported outside any function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lazy = {
        id(n) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(fn)
    }
    every, eager = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = {node.module.split(".")[0]}
        else:
            continue
        every |= names
        if id(node) not in lazy:
            eager |= names
    return every, eager


def test_optional_trackers_are_an_extra_imported_lazily():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    extra = cfg["options.extras_require"]["trackers"].split()
    assert {_normalise(re.match(r"[A-Za-z0-9._-]+", d).group()) for d in extra} >= set(OPTIONAL.values())
    every, eager = set(), set()
    for path in (p for folder in ("toolkit", "tasks", "tools") for p in (ROOT / folder).rglob("*.py")):
        names = _import_names(path)
        every, eager = every | names[0], eager | names[1]
    assert set(OPTIONAL) <= every  # the scan sees them (inside functions)
    assert not eager & set(OPTIONAL), "an optional tracker is imported at module level"


def test_every_imported_package_is_declared():
    declared, providers = _declared(), packages_distributions()
    imports = _imports()
    assert {"torch", "numpy", "cv2", "PIL"} <= set(imports)  # the scan sees the imports
    missing = []
    for module, where in sorted(imports.items()):
        if module in OPTIONAL:  # the `trackers` extra, checked above
            continue
        dists = {_normalise(d) for d in providers.get(module, [])}
        if not dists & declared:
            missing.append(f"{module} (imported in {where}; installed from {sorted(dists) or 'nothing'})")
    assert not missing, f"imported but not in setup.cfg install_requires: {missing}"
