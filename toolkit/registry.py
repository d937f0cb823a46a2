"""Name -> class registries and the one ``build`` function that turns config dicts into objects.

Pure Python: importing this module never imports torch.

Example::

    MODELS = Registry("models")

    @MODELS.register("simvp")
    class SimVP(nn.Module): ...

    model = MODELS.build(dict(type="simvp", hid_S=64))
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

from toolkit.errors import RegistryError

__all__ = [
    "Registry",
    "MODELS",
    "ATTENTION",
    "BACKBONES",
    "LOSSES",
    "METRICS",
    "DATASETS",
    "TASKS",
]


class Registry:
    """A named table of classes (or factory functions) built from ``dict(type=name, **kwargs)``."""

    def __init__(self, name: str):
        self.name = name
        self._entries: dict[str, Callable] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        return iter(sorted(self._entries))

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {sorted(self._entries)})"

    def items(self):
        return sorted(self._entries.items())

    def register(self, name: str | None = None) -> Callable:
        """Decorator registering a class or function under ``name`` (default: its ``__name__``).

        A name registered twice fails at import time and names both definitions.
        """

        def deco(obj: Callable) -> Callable:
            key = name or obj.__name__
            if key in self._entries:
                old = self._entries[key]
                raise RegistryError(
                    f"{self.name}: name {key!r} is registered twice: by "
                    f"{old.__module__}.{old.__qualname__} and by {obj.__module__}.{obj.__qualname__}"
                )
            self._entries[key] = obj
            return obj

        return deco

    def get(self, name: str) -> Callable:
        """Return the entry called ``name``; an unknown name lists the close matches."""
        if not isinstance(name, str):
            raise RegistryError(f"{self.name}: 'type' must be a string, got {type(name).__name__} {name!r}")
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise RegistryError(f"{self.name}: unknown type {name!r}.{hint} Registered: {known}") from None

    def accepts(self, name: str) -> set[str] | None:
        """Keyword names the entry ``name`` takes; ``None`` when it takes ``**kwargs`` or has no signature."""
        try:
            params = inspect.signature(self.get(name)).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params if p.kind is not p.VAR_POSITIONAL}

    def resolve(self, spec: Any, *, context: dict[str, Any] | None = None, offer: dict[str, Any] | None = None) -> Any:
        """``spec`` as a dict with the keys of ``context`` and ``offer`` its constructor takes filled in.

        Args:
            spec: ``dict(type=name, ...)`` or a bare name; anything else is returned unchanged.
            context: facts the data decided (band count, class count, scale). A key the constructor
                takes is filled where the spec leaves it absent or ``None``; a spec value that
                disagrees is an error naming the key, since the model would not fit the data.
            offer: defaults the caller prefers (e.g. one threshold for every metric); filled where
                the spec leaves the key absent or ``None``, and never checked.

        Only keys the constructor names are offered (not to ``**kwargs``), so a constructor that has
        no use for a fact never sees it.
        """
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict):
            return spec
        if "type" not in spec:
            raise RegistryError(f"{self.name}: config {dict(spec)!r} has no 'type' key")
        accepted = self.accepts(spec["type"]) or set()
        out = dict(spec)
        for key, value in (context or {}).items():
            if key not in accepted:
                continue
            if out.get(key) is None:
                out[key] = value
            elif out[key] != value and not _same(out[key], value):
                raise RegistryError(
                    f"{self.name}: {spec['type']!r} has {key}={out[key]!r} but the data gives {value!r}; "
                    f"leave {key}=None to take it from the data"
                )
        for key, value in (offer or {}).items():
            if key in accepted and out.get(key) is None:
                out[key] = value
        return out

    def build(
        self,
        spec: Any,
        *,
        context: dict[str, Any] | None = None,
        offer: dict[str, Any] | None = None,
        **defaults: Any,
    ) -> Any:
        """Build an object from ``spec``.

        Args:
            spec: ``dict(type=name, **kwargs)``, a bare name, ``None`` (returns ``None``) or an
                already built object (returned unchanged).
            context, offer: optional facts and preferences, passed only to a constructor that
                names them (see :meth:`resolve`).
            **defaults: arguments the parent knows (e.g. ``channels``); the spec's own keys win.
                Nothing else is injected.
        """
        if spec is None:
            return None
        if not isinstance(spec, (str, dict)):
            return spec
        if context or offer:
            spec = self.resolve(spec, context=context, offer=offer)
        if isinstance(spec, str):
            cls, kwargs = self.get(spec), {}
        else:
            if "type" not in spec:
                raise RegistryError(f"{self.name}: config {dict(spec)!r} has no 'type' key")
            kwargs = {k: v for k, v in spec.items() if k != "type"}
            cls = self.get(spec["type"])
        kwargs = {**defaults, **kwargs}
        _check_arguments(self.name, spec if isinstance(spec, str) else spec["type"], cls, kwargs)
        return cls(**kwargs)


def _same(a: Any, b: Any) -> bool:
    """Equal up to list/tuple (configs written as JSON turn tuples into lists)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _check_arguments(registry: str, name: str, cls: Callable, kwargs: dict) -> None:
    """Bind ``kwargs`` to the constructor so that a typo is reported with the signature, not deep inside."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):  # builtins without a signature: let the call speak
        return
    try:
        sig.bind(**kwargs)
    except TypeError as exc:
        params = sig.parameters
        takes_var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        unknown = [] if takes_var_kw else [k for k in kwargs if k not in params]
        detail = f"unknown argument(s) {unknown}" if unknown else str(exc)
        raise RegistryError(f"{registry}: cannot build {name!r}: {detail}. Signature: {name}{sig}") from None


MODELS = Registry("MODELS")
ATTENTION = Registry("ATTENTION")
BACKBONES = Registry("BACKBONES")
LOSSES = Registry("LOSSES")
METRICS = Registry("METRICS")
DATASETS = Registry("DATASETS")
TASKS = Registry("TASKS")
