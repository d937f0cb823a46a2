"""Plain-Python config files with ``_base_`` inheritance and dotted command-line overrides.

A config file holds top-level assignments of literals::

    _base_ = ["../../configs/_base_/runtime.py"]
    hid = 64
    model = dict(type="simvp", hid_S=hid, attn=None)
    optim = dict(type="adam", lr=1e-3 * 2)

Values may be numbers, strings, booleans, ``None``, lists, tuples, dicts (``{...}`` or
``dict(k=v)``), arithmetic on those, and names assigned earlier in the same file. Files are parsed
with :mod:`ast`, never executed, so loading a config imports nothing (in particular not torch).

Merging (``_base_`` first, in order, then the file itself): dicts deep-merge; lists and scalars
replace; a dict holding ``_delete_=True`` replaces the inherited dict instead of merging into it.

Known keys: a file's dict may only use the keys that its ``_base_`` files give that dict (``train=
dict(max_iter=100)`` under ``runtime.py`` is an error naming the file, the line and close matches,
as ``--set`` does). A key added on purpose is declared in the dict: ``eval = dict(threshold=0.5,
_new_=["threshold"])``. Not checked: dicts no base defines or defines empty (``synth=dict()``), dicts
replaced with ``_delete_=True``, and component specs, whose keys depend on the type they name and
are checked against its constructor's signature when it is built: ``model``, ``loss``, ``optim``,
``sched``, and any dict below the top level that holds a ``type`` (``data.split``). Keys several
bases give one dict (``runtime.py``'s ``eval`` and a dataset base's ``eval.baseline``) are all known.

Limits: an expression may nest at most 100 levels (operators and brackets), integers may have
4096 bits, and a file may build at most 1,000,000 values and characters in all; beyond them, and for
``%`` on strings, loading fails with the file and line instead of recursing, hanging or exhausting
memory.

Overrides (``--set``): ``a.b.0.c=value`` where the key must already exist and the value must keep
the default's type (unless the default is ``None``; ints are accepted for floats); ``+a.b=value``
adds a new key. A component slot left ``None`` (``attn=None``) is filled by naming its type:
``model.attn.type=cbam`` makes it ``dict(type='cbam')``. Changing the type of an attention slot
(``attn`` or ``*_attn``) drops the previous block's options, since blocks share no option names;
give new ones after it (``model.attn.type=se +model.attn.reduction=8``); options for a slot that names
no type yet are an error, since no block would receive them. Values are Python literals; anything
that does not parse is taken as a string.

``cfg._source_`` is the config file a run is named after (``work_dirs/<stem>/``): the loaded file, or,
for a resolved config saved in a run folder, the ``_source_`` written into it, so re-running a
saved ``config.py`` keeps the original config's name.
"""

from __future__ import annotations

import ast
import copy
import json
import operator
import pprint
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError

__all__ = ["Config", "load_config", "merge", "apply_overrides", "parse_override"]


class Config(dict):
    """A dict whose keys also read as attributes (``cfg.model.attn``); nested dicts are Configs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for k, v in self.items():
            super().__setitem__(k, _wrap(v))

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r} (keys: {sorted(self)})") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, _wrap(value))

    def __deepcopy__(self, memo):
        return Config({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def get_path(self, dotted: str, default: Any = None) -> Any:
        """``cfg.get_path('train.amp')``: a nested lookup that returns ``default`` when absent."""
        node: Any = self
        for part in dotted.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, (list, tuple)) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                node = node[int(part)]
            else:
                return default
        return node

    def to_dict(self) -> dict:
        """A plain ``dict`` copy (nested Configs become dicts, tuples stay tuples)."""
        return _unwrap(self)

    def to_text(self) -> str:
        """The resolved config as a loadable ``.py`` file's text (what ``dump`` writes to ``config.py``)."""
        lines = [
            "# Resolved config written by the toolkit; load it with toolkit.config.load_config.\n",
            "# Runs of this file are named after _source_ (the config it came from); delete that line to\n",
            "# name them after this file.\n",
        ]
        for key, value in self.to_dict().items():
            lines.append(f"{key} = {pprint.pformat(value, indent=1, width=100, sort_dicts=False)}\n")
        return "".join(lines)

    def dump(self, path: str | Path) -> None:
        """Write the resolved config: ``.py`` (loadable again) or ``.json``."""
        path = Path(path)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        else:
            path.write_text(self.to_text())


def _wrap(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, Config):
        return Config(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    return value


# --------------------------------------------------------------------------- parsing

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}


_MAX_DEPTH = 100  # nesting of operators and brackets in one expression
_MAX_INT_BITS = 4096  # integers up to about 1e1233
_MAX_ITEMS = 1_000_000  # values and characters one file may build in all
_COMPONENTS = ("model", "loss", "optim", "sched")  # sections whose keys their constructors check


def _size(value: Any, limit: int = _MAX_ITEMS) -> int:
    """Elements (of lists, tuples, dicts) and characters (of strings) in ``value``; stops counting above ``limit``."""
    n, stack = 1, [value]
    while stack and n <= limit:
        v = stack.pop()
        if isinstance(v, (str, bytes)):
            n += len(v)
        elif isinstance(v, (list, tuple, dict)):
            n += len(v)
            if n <= limit:
                stack.extend(v.values() if isinstance(v, dict) else v)
    return n


class _Evaluator:
    """Evaluates the literal subset of Python that config files may use, within the limits above."""

    def __init__(self, path: Path):
        self.path = path
        self.names: dict[str, Any] = {}
        self.depth = 0
        self.made = 0  # values and characters built so far (names copied, sequences joined or repeated)

    def fail(self, node: ast.AST, msg: str) -> ConfigError:
        return ConfigError(f"{self.path}:{getattr(node, 'lineno', '?')}: {msg}")

    def eval(self, node: ast.AST) -> Any:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                msg = f"expression nested deeper than {_MAX_DEPTH} levels (operators and brackets); configs hold "
                raise self.fail(node, msg + "literals: write the value out or split it over several names")
            return self._eval(node)
        finally:
            self.depth -= 1

    def _built(self, node: ast.AST, value: Any) -> Any:
        self.made += _size(value)
        if self.made > _MAX_ITEMS:
            raise self.fail(node, f"the config builds more than {_MAX_ITEMS:,} values and characters")
        return value

    def _eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.eval(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise self.fail(node, "'**' unpacking is not allowed in config files")
            return {self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Name):
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            if node.id in self.names:
                return self._built(node, copy.deepcopy(self.names[node.id]))
            raise self.fail(node, f"name {node.id!r} is not defined above (configs hold literals only)")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            if node.args or any(kw.arg is None for kw in node.keywords):
                raise self.fail(node, "dict(...) in a config takes keyword arguments only")
            return {kw.arg: self.eval(kw.value) for kw in node.keywords}
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = self.eval(node.left), self.eval(node.right)
            self._check_operands(node, left, right)
            try:
                out = _BINOPS[type(node.op)](left, right)
            except Exception as exc:  # e.g. 'a' - 1, 10.0 ** 400
                raise self.fail(node, f"cannot evaluate expression: {exc}") from None
            if isinstance(out, int) and out.bit_length() > _MAX_INT_BITS:
                raise self.fail(node, f"integer of {out.bit_length()} bits; configs allow {_MAX_INT_BITS}")
            return self._built(node, out) if isinstance(out, (str, bytes, list, tuple)) else out
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](self.eval(node.operand))
        raise self.fail(
            node, f"only literals, dict(...), arithmetic and earlier names are allowed, got {ast.dump(node)[:60]}"
        )

    def _check_operands(self, node: ast.BinOp, left: Any, right: Any) -> None:
        """Refuse, before computing it, a result too large to build (``10 ** 10 ** 9``, ``[0] * 10 ** 9``)."""
        op = type(node.op)
        if op is ast.Pow and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            bits = right * (abs(left).bit_length() - 1)  # a lower bound of the result's size
            if bits > _MAX_INT_BITS:
                raise self.fail(node, f"{left} ** {right} has about {bits:,} bits; configs allow {_MAX_INT_BITS}")
        if op is ast.Mult:
            seq, times = (left, right) if _is_int(right) else (right, left)
            if isinstance(seq, (str, bytes, list, tuple)) and _is_int(times) and times > 0:
                if (_size(seq) - 1) * times > _MAX_ITEMS - self.made:  # the elements, times over
                    raise self.fail(node, f"repeats a sequence {times} times: more than {_MAX_ITEMS:,} values")
        if op is ast.Mod and isinstance(left, (str, bytes)):
            raise self.fail(node, "'%' formatting is not supported in config files; write the string out")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_file(path: Path) -> tuple[dict, dict[tuple, int]]:
    """The file's names and values, and the line of every dict key written in it (``('train', 'lr'): 7``)."""
    try:
        source = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (RecursionError, MemoryError):  # Python's own parser gives up on a sum of thousands of terms
        raise ConfigError(
            f"{path}:{_deepest_statement(source)}: expression too deeply nested to parse (more than "
            f"{_MAX_DEPTH} levels of operators and brackets are refused); configs hold literals"
        ) from None
    ev = _Evaluator(path)
    lines: dict[tuple, int] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            continue  # docstring
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            raise ev.fail(stmt, "imports are not allowed in config files (configs hold literals only)")
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            raise ev.fail(stmt, "config files may only contain 'name = literal' assignments")
        name = stmt.targets[0].id
        ev.names[name] = ev.eval(stmt.value)
        lines[(name,)] = stmt.lineno
        _key_lines(stmt.value, (name,), lines)
    return ev.names, lines


def _key_lines(node: ast.AST, where: tuple, out: dict[tuple, int]) -> None:
    """Record the line of every key of the dict literals in ``node`` (a parsed value)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        pairs = [(kw.arg, kw.value, kw.lineno) for kw in node.keywords if kw.arg is not None]
    elif isinstance(node, ast.Dict):
        pairs = [(k.value, v, k.lineno) for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)]
    else:
        return
    for key, value, line in pairs:
        out[(*where, key)] = line
        _key_lines(value, (*where, key), out)


def _deepest_statement(source: str) -> int | str:
    """Line of the statement with the most operators and brackets: the one Python's parser gave up on."""
    import io
    import tokenize

    best, best_line, count, start = -1, "?", 0, None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            start = start or tok.start[0]
            count += tok.type == tokenize.OP
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if count > best:
                    best, best_line = count, start
                count, start = 0, None
    except (tokenize.TokenError, SyntaxError):
        pass
    return best_line


def merge(base: dict, child: dict) -> dict:
    """Deep-merge ``child`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in child.items():
        if isinstance(value, dict):
            value = dict(value)
            delete = value.pop("_delete_", False)
            value.pop("_new_", None)  # checked by _check_known_keys when the file was loaded
            if not delete and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = _strip_delete(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _strip_delete(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_delete(v) for k, v in value.items() if k not in ("_delete_", "_new_")}
    if isinstance(value, list):
        return [_strip_delete(v) for v in value]
    return value


def _load_raw(path: Path, chain: tuple[Path, ...]) -> dict:
    path = path.resolve()
    if path in chain:
        raise ConfigError(f"_base_ cycle: {' -> '.join(str(p) for p in (*chain, path))}")
    names, lines = _parse_file(path)
    bases = names.pop("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    merged: dict = {}
    for base in bases:
        base_path = (path.parent / base).resolve()
        if not base_path.exists():
            raise ConfigError(f"{path}: _base_ file not found: {base} (looked for {base_path})")
        merged = merge(merged, _load_raw(base_path, (*chain, path)))
    # names that start with '_' are file-local helpers, not config keys; the loaded file's own
    # _source_ (a resolved config saved in a run folder) is kept to name the run
    own = {k: v for k, v in names.items() if not k.startswith("_") or (k == "_source_" and not chain)}
    for key, value in own.items():
        if isinstance(value, dict) and key not in _COMPONENTS:
            _check_known_keys(merged.get(key), value, (key,), path, lines)
    return merge(merged, own)


def _check_known_keys(inherited: Any, given: dict, where: tuple, path: Path, lines: dict[tuple, int]) -> None:
    """Refuse a key of ``given`` that the inherited dict lacks, unless declared in ``given['_new_']``."""
    if not isinstance(inherited, dict) or not inherited or given.get("_delete_"):
        return  # nothing inherited to check against, or replaced wholesale
    if len(where) > 1 and ("type" in inherited or "type" in given):
        return  # a component spec: its constructor checks the keys of the type it names
    section = ".".join(where)
    new = given.get("_new_", ())
    new = [new] if isinstance(new, str) else new
    if not isinstance(new, (list, tuple)) or not all(isinstance(k, str) for k in new):
        line = lines.get((*where, "_new_"), lines.get(where[:1], "?"))
        raise ConfigError(f"{path}:{line}: {section}._new_ must list the names of the keys added, got {new!r}")
    for key, value in given.items():
        if key in ("_delete_", "_new_") or key in new:
            continue
        if key not in inherited:
            import difflib

            close = difflib.get_close_matches(str(key), [str(k) for k in inherited], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            switch = given.get("type") is not None and given.get("type") != inherited.get("type")
            if switch:
                hint += (
                    f" {section} names type {given['type']!r} but inherits the keys of {inherited.get('type')!r}: "
                    f"replace the inherited dict with {section}=dict(_delete_=True, type={given['type']!r}, ...)."
                )
            line = lines.get((*where, key), lines.get(where[:1], "?"))
            raise ConfigError(
                f"{path}:{line}: {section}.{key}: no key {key!r} in {section}, which the _base_ configs define "
                f"(keys: {', '.join(sorted(map(str, inherited)))}).{hint} To add it on purpose, declare it in the "
                f"same dict: _new_=[{key!r}]."
            )
        if isinstance(value, dict):
            _check_known_keys(inherited[key], value, (*where, key), path, lines)


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Load a config file, resolve its ``_base_`` chain and apply ``--set`` style overrides."""
    path = Path(path)
    if not path.exists():
        hint = ""
        if path.suffix != ".py" and path.with_suffix(".py").exists():
            hint = f" (did you mean {path.with_suffix('.py')}?)"
        else:
            siblings = sorted(p.name for p in path.parent.glob("*.py")) if path.parent.is_dir() else []
            import difflib

            close = difflib.get_close_matches(path.name, siblings, n=3)
            if close:
                hint = f" (close matches in {path.parent}: {', '.join(close)})"
        raise ConfigError(f"config file not found: {path}{hint}")
    raw = _load_raw(path, ())
    saved_source = raw.pop("_source_", None)
    cfg = Config(raw)
    apply_overrides(cfg, overrides)
    cfg["_source_"] = saved_source if isinstance(saved_source, str) and saved_source else str(path)
    return cfg


# --------------------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[str, Any, bool]:
    """Split ``[+]a.b.c=value`` into ``(key, value, add)``; the value is a Python literal or a string."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    add = key.startswith("+")
    key = key.lstrip("+")
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    if raw.strip() in ("none", "null"):
        value = None
    elif raw.strip() in ("true", "false"):
        value = raw.strip() == "true"
    return key, value, add


def _coerce(key: str, old: Any, new: Any, raw: str | None = None) -> Any:
    if old is None or new is None:
        return new
    if isinstance(old, str) and isinstance(new, (int, float)) and not isinstance(new, bool) and raw is not None:
        return raw.strip()  # a string key given a bare number-like token: layout=50_50 is '50_50', not 5050
    if isinstance(old, bool) or isinstance(new, bool):
        if isinstance(old, bool) and isinstance(new, bool):
            return new
    elif isinstance(old, float) and isinstance(new, int):
        return float(new)
    elif isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return type(old)(new)
    elif isinstance(old, type(new)) or isinstance(new, type(old)):
        return new
    raise ConfigError(
        f"override {key}: expected {type(old).__name__} like the default {old!r}, got {type(new).__name__} {new!r}"
    )


def apply_overrides(cfg: Config, overrides: Iterable[str]) -> Config:
    """Apply ``--set`` strings in order (see module docstring); returns ``cfg`` changed in place."""
    for text in overrides:
        key, value, add = parse_override(text)
        raw = text.split("=", 1)[1]
        parts = key.split(".")
        node: Any = cfg
        for i, part in enumerate(parts[:-1]):
            node = _child(node, part, ".".join(parts[: i + 1]), add, parts[i + 1 :])
        last = parts[-1]
        if isinstance(node, list):
            if not (last.lstrip("-").isdigit() and -len(node) <= int(last) < len(node)):
                raise ConfigError(f"override {key}: index {last} out of range for a list of {len(node)}")
            node[int(last)] = _coerce(key, node[int(last)], value, raw)
        elif isinstance(node, dict):
            if last != "type" and len(parts) > 1 and _is_attention_slot(parts[-2]) and node.get("type") is None:
                slot = ".".join(parts[:-1])
                raise ConfigError(
                    f"override {text.strip()}: {slot} names no attention type, so no block would use the option; "
                    f"name the block first: --set {slot}.type=se +{slot}.{last}={raw.strip()}"
                )
            if last == "type" and len(parts) > 1 and _is_attention_slot(parts[-2]) and node.get("type") != value:
                node.clear()  # attention blocks share no option vocabulary: a new type starts from its defaults
                node["type"] = value
            elif last in node:
                node[last] = _coerce(key, node[last], value, raw)
            elif add or (last == "type" and not node):  # the slot was just filled from None
                node[last] = value
            else:
                raise ConfigError(_missing_key_message(key, last, node))
        else:
            raise _not_a_container(key, ".".join(parts[:-1]), node)
    return cfg


def _not_a_container(key: str, parent: str, node: Any) -> ConfigError:
    kind = type(node).__name__
    article = "an" if kind[0] in "aeiou" else "a"
    return ConfigError(f"override {key}: {parent} is {article} {kind} ({node!r}), not a dict or list")


def _is_attention_slot(name: str) -> bool:
    return name == "attn" or name.endswith("_attn")


def _child(node: Any, part: str, prefix: str, add: bool, rest: list[str]) -> Any:
    if isinstance(node, dict):
        if part not in node or node[part] is None:
            # an empty component slot (e.g. attn=None) is filled by naming its type: attn.type=cbam
            fill_slot = part in node and rest == ["type"]
            if add or fill_slot:
                node[part] = Config()
            elif part not in node:
                raise ConfigError(_missing_key_message(prefix, part, node))
            else:
                raise ConfigError(f"override {prefix}: the default is None; use +{prefix}.<key>=value to add keys")
        return node[part]
    if isinstance(node, (list, tuple)) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
        return node[int(part)]
    parent = prefix.rpartition(".")[0]
    if isinstance(node, (list, tuple)):
        what = f"index {part} is out of range" if part.lstrip("-").isdigit() else f"{part!r} is not an index"
        raise ConfigError(f"override {prefix}: {what}: {parent} is a list of {len(node)} items")
    raise _not_a_container(prefix, parent, node)


def _missing_key_message(key: str, part: str, node: dict) -> str:
    import difflib

    close = difflib.get_close_matches(part, [str(k) for k in node], n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"override {key}: no key {part!r} in the config.{hint} Use +{key}=... to add a new key."
