"""Import layering: nothing imports upward, and no task imports another task."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# layer of each package prefix; a module may import only its own layer or below
LAYERS = [
    ("toolkit.errors", 0),
    ("toolkit.registry", 0),
    ("toolkit.config", 0),
    ("toolkit.modules", 1),
    ("toolkit.losses", 2),
    ("toolkit.metrics", 2),
    ("toolkit.data", 2),
    ("toolkit.engine", 3),
    ("toolkit", 3),
    ("tasks", 4),
    ("tools", 5),
]


def layer_of(module: str) -> int | None:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files():
    for top in ("toolkit", "tasks", "tools"):
        yield from sorted((ROOT / top).rglob("*.py"))


def test_nothing_imports_upward():
    bad = []
    for path in source_files():
        own = layer_of(module_name(path))
        for name in imports(path):
            other = layer_of(name)
            if own is not None and other is not None and other > own:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_no_task_imports_another_task():
    bad = []
    for path in sorted((ROOT / "tasks").rglob("*.py")):
        rel = path.relative_to(ROOT / "tasks").parts
        if len(rel) < 2:
            continue
        own = rel[0]
        for name in imports(path):
            parts = name.split(".")
            if parts[0] == "tasks" and len(parts) > 1 and parts[1] != own:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_the_check_catches_a_violation(tmp_path):
    fake = ROOT / "toolkit" / "modules" / "layers.py"
    assert layer_of(module_name(fake)) == 1 and layer_of("toolkit.engine.trainer") == 3


def relative_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"from {'.' * n.level}{n.module or ''}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level
    ]


def dynamic_task_imports(path: Path) -> list[str]:
    """``import_module("tasks.x")`` / ``__import__(f"tasks.{name}")`` calls: imports the layering check cannot see."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in ("import_module", "__import__"):
            continue
        arg = node.args[0]
        text = arg.value if isinstance(arg, ast.Constant) else None
        if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
            text = arg.values[0].value
        if isinstance(text, str) and text.startswith("tasks"):
            found.append(f"{name}({text!r}...)")
    return found


def test_imports_are_absolute():
    bad = [f"{p.relative_to(ROOT)}: {imp}" for p in source_files() for imp in relative_imports(p)]
    assert not bad, "\n".join(bad)


def test_no_hidden_imports_of_task_packages():
    # the toolkit finds a task from the config's `task` name (toolkit.engine.task.build_task), never by a literal
    bad = [f"{p.relative_to(ROOT)}: {c}" for p in source_files() for c in dynamic_task_imports(p)]
    assert not bad, "\n".join(bad)


def test_the_import_style_checks_catch_violations(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from .data import x\nimport importlib\nimportlib.import_module(f'tasks.{name}')\n")
    assert relative_imports(bad) == ["from .data"]
    assert dynamic_task_imports(bad) == ["import_module('tasks.'...)"]
