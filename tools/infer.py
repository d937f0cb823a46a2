"""Run a trained model on your own data.

    python tools/infer.py CFG --checkpoint PATH --input INPUT --out OUTPUT [options]

What INPUT and OUTPUT are depends on the task: video_pred reads a .npy of clips and writes a .npy of
predicted frames (``--frames N`` rolls out N frames autoregressively); restoration reads a folder of
images and writes restored images (``--tile N`` tiles large images).
"""

from __future__ import annotations

import argparse

import _common


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="config file the checkpoint was trained with")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a toolkit checkpoint or released weights")
    p.add_argument(
        "--weights-key",
        metavar="KEY",
        help="entry of the checkpoint holding the weights (released files: params_ema (default) or params)",
    )
    p.add_argument("--input", required=True, metavar="PATH", help="input file or folder")
    p.add_argument("--out", required=True, metavar="PATH", help="output file or folder")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: the config's device)")
    positive = _common.positive_int
    p.add_argument("--batch-size", type=positive, help="items per forward pass (default: eval.batch_size)")
    p.add_argument("--frames", type=positive, help="video: frames to predict (default: data.output_frames)")
    p.add_argument("--tile", type=positive, help="restoration: tile size in pixels (default: automatic)")
    p.add_argument(
        "--tile-overlap",
        type=int,
        default=None,
        help="restoration: tile overlap in pixels (default: infer.tile_overlap)",
    )
    _common.add_set_option(p)
    return p.parse_args(argv)


def main() -> int:
    args = parse_args()
    from toolkit.config import Config, load_config, merge
    from toolkit.engine import build_task, resolve_device
    from toolkit.engine.checkpoint import load_checkpoint, load_weights
    from toolkit.engine.resume import check_task
    from toolkit.errors import ConfigError

    cfg = load_config(args.config, args.set)
    state = load_checkpoint(args.checkpoint)
    saved = check_task(state, args.checkpoint, cfg)
    if saved is not None:  # the checkpoint's model spec carries the data-derived sizes
        differ = _differences(cfg.model, saved["model"])
        if differ:  # a value the checkpoint would silently replace
            raise ConfigError(
                f"{differ[0]}; the checkpoint decides the model: leave the key out, or use the config it was "
                "trained with (config.py in its run folder)"
            )
        cfg["model"] = Config(merge(cfg.model, saved["model"]))
    device = resolve_device(args.device or cfg.get("device", "auto"))
    task = build_task(cfg)
    task.load_state_dict(state.get("task") or {})
    model = task.build_model().to(device)
    report = load_weights(model, args.checkpoint, strict=True, prefer_ema=True, state=state, key=args.weights_key)
    if report.released:
        print(report.summary(), flush=True)
    model.eval()
    task.infer(model, args, device)
    return 0


def _differences(ours: dict, theirs: dict, prefix: str = "model") -> list[str]:
    """Keys the config sets (not to None) to another value than the checkpoint's model spec has."""
    found = []
    for key, value in theirs.items():
        mine = ours.get(key)
        if mine is None:
            continue
        if isinstance(mine, dict) and isinstance(value, dict):
            found += _differences(mine, value, f"{prefix}.{key}")
        elif _plain(mine) != _plain(value):
            found.append(f"{prefix}.{key}={mine!r} but the checkpoint's model has {value!r}")
    return found


def _plain(value):
    """Tuples as lists (a config literal may be either), recursively."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


if __name__ == "__main__":
    _common.run_main(main)
