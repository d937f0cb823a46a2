"""Train a model from a config.

python tools/train.py tasks/video_pred/simvp_tiny.py [--set train.max_iters=100 ...]
    [--resume auto|PATH] [--load-from PATH [--weights-key KEY] [--load-partial]] [--work-dir DIR]
python tools/train.py CFG --load-from CAMixerSR_S.pth       # released weights: names mapped, loaded strictly
python tools/train.py CFG --set ... --print-config   # the resolved config, then exit (nothing written)
torchrun --nproc_per_node 2 tools/train.py CFG     # DDP, same command
"""

from __future__ import annotations

import argparse
import sys

import _common  # also puts the repository on sys.path


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="config file, e.g. tasks/video_pred/simvp.py")
    _common.add_set_option(p, "override config values: a.b.0.c=value (prefix + to add a key)")
    p.add_argument(
        "--resume",
        metavar="auto|PATH",
        help="continue a run: 'auto' (latest run of this config with a checkpoint; none: a new run) or a checkpoint",
    )
    p.add_argument(
        "--load-from",
        metavar="PATH",
        help="initialise weights from a checkpoint (weights only): a toolkit checkpoint loads what matches; "
        "released weights of another code base are mapped by the model's from_release and loaded strictly",
    )
    p.add_argument(
        "--weights-key",
        metavar="KEY",
        help="entry of the --load-from file holding the weights (released: params_ema (default) or params; "
        "toolkit checkpoints: model (default) or ema)",
    )
    p.add_argument(
        "--load-partial",
        action="store_true",
        help="released weights: load the tensors that match and report the rest instead of stopping",
    )
    p.add_argument("--work-dir", metavar="DIR", help="root of run folders (default: the config's work_dir)")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config (bases merged, --set applied) and exit without training or writing",
    )
    return p.parse_args(argv)


def main() -> int:
    args = parse_args()
    from toolkit.config import load_config
    from toolkit.engine import Trainer, dist

    cfg = load_config(args.config, args.set)
    if args.print_config:
        # NOTE: sizes the data decides (in_channels, num_classes, in_shape) are still None here: the
        # Task fills them in when it builds the datasets, and the run folder's config.py holds them.
        print(cfg.to_text(), end="")
        return 0
    trainer = Trainer(
        cfg,
        work_dir=args.work_dir,
        resume=args.resume,
        load_from=args.load_from,
        weights_key=args.weights_key,
        load_partial=args.load_partial,
        argv=sys.argv,
    )
    finished = False
    try:
        trainer.train()
        finished = True
    finally:
        dist.cleanup(finished)
    return 0


if __name__ == "__main__":
    _common.run_main(main)
