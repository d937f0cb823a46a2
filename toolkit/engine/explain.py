"""Where a model looks: module lookup by path, attention slots, Grad-CAM and activations on Captum.

``tools/explain.py`` draws what these functions return. Grad-CAM is Captum's ``LayerGradCam``
(Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017): the layer's channels weighted by the spatial mean of the gradient of a
scalar target, summed and passed through a ReLU. For a dense task the scalar is a region's summed
output, as in Seg-Grad-CAM (Vinogradova et al., "Towards Interpretable Semantic Segmentation via
Gradient-weighted Class Activation Mapping", AAAI 2020 student abstract); each Task defines it in
:meth:`toolkit.engine.task.Task.explain_target`. Activations are Captum's ``LayerActivation``
(forward hooks).

Example::

    layer = find_layer(model, "translator.dec.2.attn")
    maps = grad_cam(lambda x: task.explain_target(model, x, batch)[0], layer, batch["input"])  # (B, H, W)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.errors import ConfigError

__all__ = ["attention_slots", "find_layer", "grad_cam", "activations", "top_channels"]

Forward = Callable[[torch.Tensor], torch.Tensor]


def attention_slots(model: nn.Module) -> dict[str, nn.Module]:
    """Every attention slot of ``model`` by module path, in registration order, empty slots (``'none'``) included.

    A slot is a module whose class is an ``ATTENTION`` entry, which is what ``build_attention`` returns.
    """
    from toolkit.modules.attention import ATTENTION  # importing the package registers every entry

    classes = {cls for _, cls in ATTENTION.items() if isinstance(cls, type)}
    return {name: m for name, m in model.named_modules() if name and type(m) in classes}


def find_layer(model: nn.Module, name: str, option: str = "--layer") -> nn.Module:
    """The submodule at the dotted path ``name`` (``'nodes.3_0'``, ``'feats.1.attn'``).

    Raises:
        ConfigError: no such path; the message lists the closest paths.
    """
    modules = dict(model.named_modules())
    if name in modules and name:
        return modules[name]
    paths = [n for n in modules if n]
    close = difflib.get_close_matches(name, paths, n=5, cutoff=0.5)
    if not close:  # a prefix typo ('node.3_0') is far from the long paths below it: compare the last parts too
        tail = {n.rsplit(".", 1)[-1]: n for n in paths}
        close = [tail[t] for t in difflib.get_close_matches(name.rsplit(".", 1)[-1], list(tail), n=5)]
    top = ", ".join(n for n in paths if "." not in n)
    hint = f"close matches: {', '.join(close)}" if close else f"top-level modules: {top}"
    raise ConfigError(
        f"{option} {name!r}: {type(model).__name__} has no module at that path; {hint} (all paths: --list-layers)"
    )


def _spatial(attr: torch.Tensor, batch: int, name: str) -> torch.Tensor:
    """A layer attribution of shape (B, 1, ...) or (B*k, 1, ...) as (B, h, w): extra axes averaged."""
    if attr.ndim < 4:
        raise ConfigError(
            f"layer {name!r} gives {tuple(attr.shape)} per attribution: no height and width to draw; "
            "choose a convolutional layer (--list-layers)"
        )
    attr = attr.flatten(1, -3).mean(1)  # (N, h, w): channel axis (1 after summation) and depth averaged
    if attr.shape[0] != batch:
        if attr.shape[0] % batch:
            raise ConfigError(f"layer {name!r} has batch {attr.shape[0]}, not a multiple of the input's {batch}")
        # NOTE: a layer applied per frame (SimVP's encoder sees B*T images) gets the mean over its frames
        attr = attr.reshape(batch, -1, *attr.shape[-2:]).mean(1)  # (B, h, w)
    return attr


def grad_cam(forward: Forward, layer: nn.Module, x: torch.Tensor, name: str = "layer") -> torch.Tensor:
    """Grad-CAM of ``layer`` for the per-sample scalars ``forward(x)`` (B,), up-sampled to the input's size.

    The input's last two axes are its height and width (images, clips and hyperspectral patches alike).
    Maps are ReLU'd (Grad-CAM) and bilinearly resized; a layer with a depth axis (3-D convolutions) or
    called once per frame is averaged over it.

    Shape:
        - Input: x (B, ..., H, W)
        - Output: (B, H, W), non-negative
    """
    from captum.attr import LayerGradCam

    try:
        attr = LayerGradCam(forward, layer).attribute(x, relu_attributions=True)
    except RuntimeError as exc:  # the target does not depend on the layer (e.g. a training-only head)
        if "not have been used in the graph" in str(exc) or "does not require grad" in str(exc):
            raise ConfigError(f"layer {name!r} does not take part in the explained output") from None
        raise
    except AssertionError:  # Captum's hook saw no call
        raise ConfigError(f"layer {name!r} is not called by the model's forward pass") from None
    if isinstance(attr, tuple):
        raise ConfigError(f"layer {name!r} returns {len(attr)} tensors; choose one of its submodules (--list-layers)")
    maps = _spatial(attr.detach().float(), x.shape[0], name)  # (B, h, w)
    return F.interpolate(maps[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0].clamp_min(0)


@torch.no_grad()
def activations(forward: Forward, layers: dict[str, nn.Module], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of ``layers`` during ``forward(x)``, by name; a layer returning a tuple gives ``name.0``, ...

    NOTE: a module called several times in one pass (a shared pooling layer) keeps its last call, as
    Captum's hooks do.
    """
    from captum.attr import LayerActivation

    if not layers:
        return {}
    try:
        outs = LayerActivation(forward, list(layers.values())).attribute(x)
    except AssertionError:
        raise ConfigError(f"one of the layers {list(layers)} is not called by the model's forward pass") from None
    found: dict[str, torch.Tensor] = {}
    for name, out in zip(layers, outs):
        if isinstance(out, (tuple, list)):
            found.update((f"{name}.{i}", o.detach()) for i, o in enumerate(out) if torch.is_tensor(o))
        else:
            found[name] = out.detach()
    return found


def top_channels(act: torch.Tensor, k: int) -> list[int]:
    """Indices of the ``k`` channels of one sample's activation (C, ...) with the highest mean squared value."""
    energy = act.float().flatten(1).pow(2).mean(1)  # (C,)
    return energy.argsort(descending=True)[:k].tolist()
