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
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="config file the checkpoint was trained with")
    p.add_argument("--checkpoint", required=True, metavar="PATH")
    p.add_argument("--input", required=True, metavar="PATH", help="input file or folder")
    p.add_argument("--out", required=True, metavar="PATH", help="output file or folder")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: the config's device)")
    p.add_argument("--batch-size", type=int, default=None, help="items per forward pass (default: eval.batch_size)")
    p.add_argument("--frames", type=int, default=None, help="video: frames to predict (default: data.output_frames)")
    p.add_argument("--tile", type=int, default=None, help="restoration: tile size in pixels (default: automatic)")
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

    cfg = load_config(args.config, args.set)
    state = load_checkpoint(args.checkpoint)
    saved = state.get("config") or {}
    if isinstance(saved.get("model"), dict):  # the checkpoint's model spec carries the data-derived sizes
        cfg["model"] = Config(merge(cfg.model, saved["model"]))
    device = resolve_device(args.device or cfg.get("device", "auto"))
    task = build_task(cfg)
    task.load_state_dict(state.get("task") or {})
    model = task.build_model().to(device)
    load_weights(model, args.checkpoint, strict=True, prefer_ema=True, state=state)
    model.eval()
    task.infer(model, args, device)
    return 0


if __name__ == "__main__":
    _common.run_main(main)
