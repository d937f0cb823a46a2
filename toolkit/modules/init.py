"""Weight initialisation of a whole model from one config value, ``model.init``.

    model = dict(type="dnanet", ..., init=dict(type="kaiming_normal", mode="fan_out", zero_last=True))
    model = dict(type="restormer", ..., init="trunc_normal")            # std 0.02, torch's cut at +-2
    model = dict(type="simvp", ..., init="openstl")                     # a scheme the model names itself

Types and their options (the ``torch.nn.init`` function each calls, with its defaults unless noted):

| type | options | weights of every convolution and linear layer |
| --- | --- | --- |
| ``default`` | | left as PyTorch's layer constructors drew them (nothing is touched) |
| ``trunc_normal`` | ``std=0.02, mean=0.0, a=-2.0, b=2.0`` | ``trunc_normal_``: N(mean, std^2) cut to [a, b] |
| ``kaiming_normal`` / ``kaiming_uniform`` | ``mode='fan_in', nonlinearity='relu', a=0.0`` | He et al. (ICCV 2015) |
| ``xavier_normal`` / ``xavier_uniform`` | ``gain=1.0`` | Glorot & Bengio (AISTATS 2010) |
| ``orthogonal`` | ``gain=1.0`` | Saxe et al. (ICLR 2014); a conv's weight as (out, in*k*k) |

Every type except ``default`` zeroes those layers' biases (as torchvision's and timm's re-initialisations do);
norm layers, layer scales, positional embeddings and codebooks keep their constructors' values.

``zero_last=True`` (any type, ``default`` included) also zeroes the last layer of every residual branch
whose block declares one by a ``zero_init_last() -> str`` method, as Goyal et al., "Accurate, Large
Minibatch SGD" (arXiv 1706.02677, section 5.1) do for ResNets: each block then starts as the identity. A
model none of whose blocks declares it refuses the option, naming the model.

A model may offer schemes of its own paper: a class attribute ``init_schemes = {'openstl': '_init_openstl'}``
maps a type name to a method called with no arguments (SimVP's OpenSTL initialisation is one).

Unknown types and options are one :class:`~toolkit.errors.ConfigError` line naming ``model.init``.
"""

from __future__ import annotations

import difflib
from typing import Any

from torch import nn

from toolkit.errors import ConfigError

__all__ = ["INIT_TYPES", "init_weights"]

# type -> (torch.nn.init function, its options with their defaults)
INIT_TYPES: dict[str, tuple[Any, dict[str, Any]]] = {
    "default": (None, {}),
    # NOTE: a and b are absolute bounds, as in torch's and timm's trunc_normal_ (ViT, Swin, OpenSTL call it with
    # std=0.02 and the defaults -2, 2): a config copied from such a paper draws the same weights. They are not
    # multiples of std; for a cut at 2 std give a=-2*std, b=2*std.
    "trunc_normal": (nn.init.trunc_normal_, {"std": 0.02, "mean": 0.0, "a": -2.0, "b": 2.0}),
    "kaiming_normal": (nn.init.kaiming_normal_, {"mode": "fan_in", "nonlinearity": "relu", "a": 0.0}),
    "kaiming_uniform": (nn.init.kaiming_uniform_, {"mode": "fan_in", "nonlinearity": "relu", "a": 0.0}),
    "xavier_normal": (nn.init.xavier_normal_, {"gain": 1.0}),
    "xavier_uniform": (nn.init.xavier_uniform_, {"gain": 1.0}),
    "orthogonal": (nn.init.orthogonal_, {"gain": 1.0}),
}
_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)


def init_weights(model: nn.Module, spec: Any, where: str = "model.init") -> str:
    """Initialise ``model`` in place as ``spec`` says; return one line saying what was done.

    Args:
        model: any module; its ``init_schemes`` (if any) add model-specific types.
        spec: ``None`` or ``'default'`` (nothing), a type name, or ``dict(type=name, **options)`` (see the
            module docstring).
        where: the config key named in error messages.
    """
    name, options = _parse(spec, where)
    schemes: dict[str, str] = dict(getattr(model, "init_schemes", None) or {})
    known = [*INIT_TYPES, *schemes]
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"{where}: unknown type {name!r} for {type(model).__name__}; one of {', '.join(known)}{hint}")
    zero_last = options.pop("zero_last", False)
    if not isinstance(zero_last, bool):
        raise ConfigError(f"{where}.zero_last must be True or False, got {zero_last!r}")
    allowed = INIT_TYPES[name][1] if name in INIT_TYPES else {}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) or "no options"
        raise ConfigError(f"{where}: {name} takes {takes} (and zero_last); unknown {', '.join(unknown)}")

    if name in schemes:
        getattr(model, schemes[name])()
        done = f"{name} ({type(model).__name__}'s own scheme)"
    elif name == "default":
        done = "default (PyTorch's)"
    else:
        fn, defaults = INIT_TYPES[name]
        kwargs = {**defaults, **options}
        layers = [m for m in model.modules() if isinstance(m, _LAYERS)]
        if not layers:  # an option with no effect
            raise ConfigError(f"{where}: {type(model).__name__} has no convolution or linear layer for {name}")
        try:
            for m in layers:
                fn(m.weight, **kwargs)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        except (ValueError, TypeError) as exc:  # e.g. kaiming_normal with mode='fan_inn'
            raise ConfigError(f"{where}: {name}({_args(kwargs)}): {exc}") from None
        done = f"{name}({_args(kwargs)}) on {len(layers)} convolution/linear layers, biases zeroed"
    if zero_last:
        zeroed = [m.zero_init_last() for m in model.modules() if callable(getattr(m, "zero_init_last", None))]
        if not zeroed:
            raise ConfigError(
                f"{where}.zero_last: {type(model).__name__} has no residual block that declares its last layer "
                "(zero_init_last); zero_last is not available for this model"
            )
        kinds = sorted(set(zeroed))
        done += f"; zero_last: {len(zeroed)} residual branches ({'; '.join(kinds)})"
    return done


def _parse(spec: Any, where: str) -> tuple[str, dict[str, Any]]:
    if spec is None:
        return "default", {}
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, dict):
        options = dict(spec)
        name = options.pop("type", None)
        if not isinstance(name, str):
            raise ConfigError(f"{where}: a dict needs type=<name>, got {spec!r}")
        return name, options
    raise ConfigError(f"{where} must be a type name or dict(type=..., ...), got {spec!r}")


def _args(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
