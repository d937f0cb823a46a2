"""Where does a trained model look: Grad-CAM, feature maps and attention outputs, as pictures and one page.

    python tools/explain.py CFG --checkpoint PATH --method gradcam|activations|attention --out DIR
        [--split test] [--index 0 | 0..3 | 0,4,9] [--input FILE.npy]
        [--layer NAME ...] [--target-class K] [--top-k 16] [--cmap jet] [--alpha 0.5] [--tb] [--set KEY=VALUE ...]
    python tools/explain.py CFG --checkpoint PATH --list-layers      # every module path, attention slots marked

Methods (Captum):
- ``gradcam``: ``LayerGradCam`` of one scalar per sample that the Task defines (``Task.explain_target``):
  hsi, the logit of the predicted class (or ``--target-class``, numbered 1..K as in the reports); sirst,
  the logits summed over the predicted target region (Seg-Grad-CAM); restoration, the mean squared
  residual between the output and the bicubic up-scaled input (the detail the model adds, whole image);
  video_pred, the last predicted frame summed over its pixels. Layers: ``--layer`` (module paths), else
  the Task's defaults (``Task.explain_layers``: the deepest encoder stage and the last attention slot).
- ``activations``: the outputs of the same layers, captured with forward hooks (``LayerActivation``).
- ``attention``: the outputs of every attention slot of the model (empty ``'none'`` slots included).

Samples: ``--index`` picks items of ``--split`` (``0..3`` is 0, 1, 2 and 3); ``--input FILE.npy`` (or
``.npz`` with one array) gives one sample's model input as the dataset gives it (e.g. (T, C, H, W) for
video, normalised where the task normalises); such a sample has no target, so no prediction panel.

Output in DIR: ``index.html`` (a static page: input, the task's prediction/target pictures, the maps and
what was explained), ``sample<i>_input.png``, the task's pictures, one overlay PNG per sample and layer
(``sample<i>_<method>_<layer>.png``: the map in a matplotlib colormap over the input; for feature maps the
mean squared activation over channels), for activations/attention a grid of the top-k channels by energy
per layer and the raw tensors in ``sample<i>_<method>.npz``, and ``explain.json``. Every picture is at
least 256 px on its short side (nearest-neighbour up-scaling). ``--tb`` writes the same images to
``DIR/tb`` for TensorBoard.

The overlay's background is the input's last frame (clips), its first channel unless it has three
(hyperspectral patches: the first principal component), scaled to [0, 1] per picture. A layer that sees
every frame of a clip (SimVP's encoder) gives its last frame's feature maps, and its Grad-CAM averaged
over the frames.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
from pathlib import Path
from typing import Any

import _common  # also puts the repository on sys.path

MIN_SIDE = 256  # pictures are up-scaled (nearest neighbour) to at least this many pixels on the short side


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="config file the checkpoint was trained with")
    p.add_argument("--checkpoint", required=True, metavar="PATH")
    p.add_argument("--method", choices=("gradcam", "activations", "attention"), help="what to draw")
    p.add_argument("--out", metavar="DIR", help="output folder")
    p.add_argument("--split", default=None, help="dataset split of the samples (default: test)")
    p.add_argument("--index", default=None, metavar="I|A..B|I,J", help="samples of the split (default: 0)")
    p.add_argument("--input", metavar="FILE", help="one sample's model input as .npy/.npz instead of --index")
    p.add_argument("--layer", nargs="+", action="extend", metavar="NAME", help="module paths (see --list-layers)")
    p.add_argument("--target-class", type=int, metavar="K", help="gradcam, classes 1..K: explain this class")
    p.add_argument("--top-k", type=int, metavar="K", help="activations/attention: channels per grid (default 16)")
    p.add_argument("--cmap", default="jet", help="matplotlib colormap of the heat maps (default jet)")
    p.add_argument("--alpha", type=float, default=0.5, help="opacity of the heat map over the input (default 0.5)")
    p.add_argument("--tb", action="store_true", help="also write the pictures to DIR/tb (TensorBoard)")
    p.add_argument("--list-layers", action="store_true", help="print the model's module paths and exit")
    _common.add_set_option(p)
    return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Refuse options that would have no effect, and missing ones, in one line."""
    from toolkit.errors import ConfigError

    if args.list_layers:
        return
    if not args.method or not args.out:
        raise ConfigError("give --method gradcam|activations|attention and --out DIR (or --list-layers)")
    if args.input and (args.index is not None or args.split is not None):
        raise ConfigError("give --input FILE or --split/--index, not both")
    if args.target_class is not None and args.method != "gradcam":
        raise ConfigError(f"--target-class has no effect with --method {args.method} (only gradcam explains a class)")
    if args.top_k is not None and args.method == "gradcam":
        raise ConfigError("--top-k has no effect with --method gradcam (it sizes the channel grids)")
    if args.top_k is not None and args.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {args.top_k}")
    if args.layer and args.method == "attention":
        raise ConfigError("--layer has no effect with --method attention (every attention slot is drawn)")
    if not 0.0 <= args.alpha <= 1.0:
        raise ConfigError(f"--alpha must lie in [0, 1], got {args.alpha}")
    import matplotlib

    if args.cmap not in matplotlib.colormaps:
        import difflib

        close = difflib.get_close_matches(args.cmap, list(matplotlib.colormaps), n=3)
        raise ConfigError(f"--cmap {args.cmap!r} is not a matplotlib colormap; close matches: {', '.join(close)}")


def parse_index(text: str | None, size: int, split: str) -> list[int]:
    """``'3'``, ``'0..3'`` (inclusive) or ``'0,4,9'`` -> indices, each checked against the split's ``size``."""
    from toolkit.errors import ConfigError, DataError

    text = "0" if text is None else text.strip()
    try:
        if ".." in text:
            a, b = (int(v) for v in text.split("..", 1))
            indices = list(range(a, b + 1))
        else:
            indices = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--index {text!r}: expected I, A..B (inclusive) or I,J,K") from None
    if not indices:
        raise ConfigError(f"--index {text!r} selects no sample")
    bad = [i for i in indices if not 0 <= i < size]
    if bad:
        raise DataError(
            f"--index {text!r}: split {split!r} has {size} samples (0..{size - 1}); out of range: {bad[:5]}"
        )
    return indices


def load_input(path: str):
    """One sample's input from ``.npy`` or a one-array ``.npz``, as a float tensor (no batch axis)."""
    import numpy as np
    import torch

    from toolkit.errors import DataError

    p = Path(path)
    if p.suffix not in (".npy", ".npz"):
        raise DataError(f"--input {p}: expected a .npy or .npz file holding one sample's model input")
    try:
        data = np.load(p)
    except (OSError, ValueError) as exc:
        raise DataError(f"--input {p}: cannot read: {exc}") from None
    if p.suffix == ".npz":
        if len(data.files) != 1:
            raise DataError(f"--input {p}: the .npz holds {len(data.files)} arrays {data.files[:5]}; expected one")
        data = data[data.files[0]]
    return torch.from_numpy(np.asarray(data, dtype=np.float32))


# --------------------------------------------------------------------------- pictures


def background(sample) -> Any:
    """An input sample (..., C, H, W) as an RGB float picture (H, W, 3) in [0, 1] (see the module docstring)."""
    import numpy as np

    v = sample.detach().float().cpu()
    while v.ndim > 3:  # clips (T, C, H, W): the last frame; patches (1, D, h, w): the cube
        v = v[-1]
    if v.ndim == 2:
        v = v[None]
    img = v if v.shape[0] == 3 else v[:1].expand(3, -1, -1)  # (3, H, W)
    img = img.permute(1, 2, 0).numpy()
    lo, hi = float(img.min()), float(img.max())
    return np.clip((img - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(img)


def overlay(base, heat, cmap: str, alpha: float):
    """``heat`` (H, W), scaled to its maximum, in colormap ``cmap`` over ``base`` (H, W, 3); uint8 (H, W, 3)."""
    import matplotlib
    import numpy as np

    peak = float(heat.max())
    norm = heat / peak if peak > 0 else np.zeros_like(heat)
    colored = matplotlib.colormaps[cmap](norm)[..., :3]
    mixed = ((1 - alpha) * base + alpha * colored).clip(0, 1)
    return (mixed * 255).round().astype(np.uint8)


def channel_grid(fmaps, channels: list[int], title: str):
    """The channels ``channels`` of one sample's feature maps (C, h, w) in a labelled grid; uint8 (H, W, 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = math.ceil(math.sqrt(len(channels)))
    rows = math.ceil(len(channels) / cols)
    energy = fmaps.float().flatten(1).pow(2).mean(1)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.9 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, c in zip(axes.flat, channels):
        ax.imshow(fmaps[c].float().cpu().numpy(), cmap="viridis", interpolation="nearest")
        ax.set_title(f"ch {c}  e={float(energy[c]):.3g}", fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return img


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def per_sample_maps(act) -> Any:
    """One sample's feature maps (C, h, w) from a layer output with batch 1: frames -> the last, depth -> mean."""
    a = act.float()
    if a.ndim <= 3:  # (B, C) vectors, (B, L, C) tokens: no channel-first spatial layout to draw
        return None
    a = a[-1]  # batch 1, or B*T frames of one clip: the last frame (the background's frame)
    return a.flatten(1, -3).mean(1) if a.ndim > 3 else a  # (C, D, h, w) -> (C, h, w)


# --------------------------------------------------------------------------- the page


def write_index(out: Path, record: dict) -> None:
    """The static page: one section per sample with its pictures and what was explained."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>explain</title>",
        "<style>body{font-family:sans-serif;margin:1em}figure{display:inline-block;margin:4px;vertical-align:top}"
        "figcaption{font-size:12px;max-width:420px}img{max-height:420px;image-rendering:pixelated}</style>",
        "</head><body>",
        f"<h1>{esc(record['method'])}: {esc(record['config'])}</h1>",
        f"<p>checkpoint {esc(record['checkpoint'])}; {esc(record['source'])}</p>",
    ]
    for s in record["samples"]:
        parts.append(f"<h2>{esc(s['label'])}</h2>")
        parts += [f"<p>{esc(line)}</p>" for line in s["explained"]]
        for fig in s["figures"]:
            parts.append(
                f"<figure><img src='{esc(fig['file'])}'><figcaption>{esc(fig['caption'])}</figcaption></figure>"
            )
        parts += [f"<p>note: {esc(n)}</p>" for n in s["notes"]]
    parts.append("</body></html>")
    (out / "index.html").write_text("\n".join(parts) + "\n")


def explain_one(task, model, batch: dict, layers: dict, args, stem: Path, label: str, writer, step: int) -> dict:
    """Draw one sample (a batch of one): its input, the task's pictures and every layer's map; return its record."""
    import numpy as np
    import torch

    from toolkit.engine.explain import activations, grad_cam, top_channels
    from toolkit.engine.pictures import enlarge
    from toolkit.engine.runlog import save_picture

    x = batch["input"]

    def target(inp):
        return task.explain_target(model, inp, batch, args.target_class)[0]

    with torch.no_grad():
        _, explained = task.explain_target(model, x, batch, args.target_class)
    entry: dict[str, Any] = dict(label=label, explained=explained, figures=[], notes=[], layers={})

    def draw(img, suffix: str, caption: str, tag: str):
        path = save_picture(enlarge(img, min_side=MIN_SIDE), stem.with_name(f"{stem.name}_{suffix}"))
        entry["figures"].append(dict(file=path.name, caption=caption))
        if writer is not None:  # an animation goes to TensorBoard as its last frame
            writer.add_image(tag, img[-1] if img.ndim == 4 else img, step, dataformats="HWC")
        return path.name

    base = background(x[0])
    pictures = {"input": (base * 255).round().astype(np.uint8)}
    if "target" in batch:  # the task's own prediction / target pictures
        with torch.no_grad():
            pred, _ = task.eval_step(model, batch)
        pictures.update(task.visualise(batch, pred, 1))
    for name, img in pictures.items():
        what = "input" if name == "input" else f"the task's picture {name} (prediction, target)"
        draw(img, _slug(name), f"{label}: {what}", _slug(name))

    if args.method == "gradcam":
        for name, layer in layers.items():
            heat = grad_cam(target, layer, x, name)[0].cpu().numpy()  # (H, W)
            caption = f"Grad-CAM at {name}; peak {heat.max():.3g}, {_mass_note(heat)}"
            file = draw(
                overlay(base, heat, args.cmap, args.alpha), f"gradcam_{_slug(name)}", caption, f"gradcam/{name}"
            )
            entry["layers"][name] = dict(file=file, peak=float(heat.max()))
        return entry

    acts = activations(target, layers, x)
    raw = {k: v.float().cpu().numpy() for k, v in acts.items()}
    np.savez_compressed(stem.with_name(f"{stem.name}_{args.method}.npz"), **raw)
    for name, act in acts.items():
        entry["layers"][name] = dict(shape=list(act.shape))
        fmaps = per_sample_maps(act)  # (C, h, w)
        if fmaps is None:
            entry["notes"].append(f"{name}: output {tuple(act.shape)} has no (C, H, W) maps; in the .npz only")
            continue
        energy = fmaps.pow(2).mean(0)[None, None]  # (1, 1, h, w)
        heat = torch.nn.functional.interpolate(energy, size=x.shape[-2:], mode="bilinear")[0, 0].cpu().numpy()
        caption = f"{name} {tuple(act.shape)}: mean squared activation"
        tag = f"{args.method}/{name}"
        file = draw(overlay(base, heat, args.cmap, args.alpha), f"{args.method}_{_slug(name)}", caption, tag)
        chosen = top_channels(fmaps, args.top_k or 16)
        grid = channel_grid(fmaps, chosen, f"{name}: top {len(chosen)} of {fmaps.shape[0]} channels by energy")
        grid_file = draw(
            grid, f"{args.method}_{_slug(name)}_channels", f"{name}: top-{len(chosen)} channels", f"{tag}/channels"
        )
        entry["layers"][name].update(file=file, grid=grid_file, top_channels=chosen)
    return entry


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    args = parse_args(argv)
    check_args(args)
    from torch.utils.data import default_collate

    from toolkit.config import load_config
    from toolkit.engine import load_for_eval, resolve_device, to_device
    from toolkit.engine.explain import attention_slots, find_layer
    from toolkit.errors import ConfigError

    cfg = load_config(args.config, args.set)
    args.split = args.split or "test"  # with --input, the split only builds the Task's data-derived state
    device = resolve_device(cfg.get("device", "auto"))
    task, dataset, model = load_for_eval(cfg, args.checkpoint, args.split, device)

    if args.list_layers:
        slots = attention_slots(model)
        for name, m in model.named_modules():
            if name:
                print(f"{name:<40} {type(m).__name__}{'  (attention slot)' if name in slots else ''}")
        return 0

    # --- what to explain: the layers, checked before any picture is drawn
    if args.method == "attention":
        layers = attention_slots(model)
        if not layers:
            raise ConfigError(f"{type(model).__name__} has no attention slot; use --method activations --layer NAME")
    else:
        names = args.layer or task.explain_layers(model)
        if not names:
            raise ConfigError(f"task {cfg.task} names no default layer for {type(model).__name__}; give --layer NAME")
        layers = {name: find_layer(model, name) for name in dict.fromkeys(names)}

    # --- the samples
    if args.input:
        samples = [({"input": load_input(args.input)}, Path(args.input).name)]
        source = f"input {args.input}"
    else:
        indices = parse_index(args.index, len(dataset), args.split)
        collate = task.collate_fn(args.split) or default_collate
        samples = [(collate([dataset[i]]), f"{args.split} #{i}") for i in indices]
        source = f"split {args.split!r}, samples {', '.join(str(i) for i in indices)} of {len(dataset)}"

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    writer = None
    if args.tb:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
    record: dict[str, Any] = dict(
        config=str(args.config), checkpoint=str(args.checkpoint), method=args.method, source=source, samples=[]
    )
    record["layers"] = list(layers)
    for n, (item, label) in enumerate(samples):
        batch = to_device({"input": item["input"][None]} if args.input else item, device)  # (1, ...)
        entry = explain_one(task, model, batch, layers, args, out / f"sample{n}", label, writer, n)
        for line in entry["explained"]:
            print(f"{label}: {line}")
        for note in entry["notes"]:
            print(f"{label}: note: {note}")
        record["samples"].append(entry)

    if writer is not None:
        writer.close()
    write_index(out, record)
    (out / "explain.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"{args.method} of {len(layers)} layer(s) on {len(samples)} sample(s): {', '.join(layers)}")
    print(f"wrote {out / 'index.html'} and {sum(len(s['figures']) for s in record['samples'])} pictures to {out}/")
    return 0


def _mass_note(heat) -> str:
    """Where the map's mass lies, in words: the share in the hottest tenth of the pixels."""
    import numpy as np

    flat = np.sort(heat.ravel())
    total = float(flat.sum())
    if total <= 0:
        return "empty map (no positive evidence at this layer)"
    top = float(flat[-max(1, flat.size // 10) :].sum())
    return f"{100 * top / total:.0f}% of the mass in the hottest 10% of pixels"


if __name__ == "__main__":
    _common.run_main(main)
