"""The top-hat baseline of the SIRST task: choose its square and threshold, or score it under a config.

    python benchmarks/sirst_tophat.py --root ../shared/data/sirst/NUAA-SIRST [--list 50_50/train.txt]
        [--sizes 5,7,9,11,13,15] [--ks 2,4,6,8,10,11,12,13,14,15,20,30] [--out work_dirs/benchmarks/sirst_tophat.json]
    python benchmarks/sirst_tophat.py --config tasks/sirst/acm.py [--split test] [--set KEY=VALUE ...]

Grid (``--root``): reads the listed images at their original size as the task's evaluation does (masks of
another size resized as ``data.size_mismatch='resize'``), scores the detector at every (size, k) with the
task's metrics, prints one row per setting and the best by mIoU, and writes the grid as JSON. The defaults
of ``tasks/sirst/baseline.py`` (size 11, k 12) are this grid's best on the NUAA-SIRST 50_50 training
list; the test list is never read.

Score (``--config``): the figures ``tools/eval.py`` prints in its ``tophat`` column for that config and
split, without a model: the same dataset, evaluation size, normalisation and metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", help="grid: SIRST folder (images/, masks/, the list's folder)")
    p.add_argument("--config", help="score: a SIRST config whose evaluation the detector joins")
    p.add_argument("--split", default="test", help="score: the split (default test)")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="score: config overrides")
    p.add_argument("--list", default="50_50/train.txt", help="image ids, one per line, relative to --root")
    p.add_argument("--sizes", default="5,7,9,11,13,15", help="odd sides of the square structuring element")
    p.add_argument("--ks", default="2,4,6,8,10,11,12,13,14,15,20,30", help="thresholds: mean + k std")
    p.add_argument("--out", default="work_dirs/benchmarks/sirst_tophat.json")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    if (args.root is None) == (args.config is None):
        p.error("give --root (choose the square and threshold) or --config (score the detector)")
    if args.config is not None:
        return score(args.config, args.split, args.set)
    import torch

    from tasks.sirst.baseline import tophat_score
    from tasks.sirst.data import SIRSTDataset
    from toolkit.metrics.irstd import MIoU, PdFa

    torch.set_num_threads(1)
    ds = SIRSTDataset(args.root, "train", split_file=args.list, size_mismatch="resize")
    pairs = []
    for i in range(len(ds)):
        img, mask = ds.read(i)  # (H, W, C) float in [0, 255], (H, W) 0/1: the top-hat ignores the scale
        pairs.append((torch.from_numpy(img.transpose(2, 0, 1).copy()), torch.from_numpy(mask > 0)[None, None]))
    rows, start = [], time.perf_counter()
    for size in (int(s) for s in args.sizes.split(",")):
        for k in (float(v) for v in args.ks.split(",")):
            miou, pdfa = MIoU(), PdFa()
            scores = [tophat_score(x, 0.5, size, k)[None] for x, _ in pairs]
            masks = [m for _, m in pairs]
            miou.update(scores, masks)
            pdfa.update(scores, masks)
            r = {**miou.compute(), **pdfa.compute()}
            rows.append({"size": size, "k": k, "mIoU": r["mIoU"], "Pd": r["Pd"], "Fa": r["Fa"]})
            print(f"size {size:2d}  k {k:5.1f}  mIoU {100 * r['mIoU']:6.2f}  Pd {100 * r['Pd']:6.2f}  "
                  f"Fa {1e6 * r['Fa']:9.2f}e-6", flush=True)  # fmt: skip
    best = max(rows, key=lambda r: r["mIoU"])
    print(f"best by mIoU on {len(pairs)} images of {args.list}: size {best['size']}, k {best['k']:g} "
          f"(mIoU {100 * best['mIoU']:.2f}); {time.perf_counter() - start:.0f} s")  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"root": args.root, "list": args.list, "images": len(pairs), "grid": rows,
                               "best": best}, indent=1) + "\n")  # fmt: skip
    print(f"wrote {out}")
    return 0


def score(config: str, split: str, overrides: list[str]) -> int:
    """Print the detector's figures on ``split`` of ``config``, as tools/eval.py's tophat column."""
    import torch

    from tasks.sirst.baseline import PREFIX
    from tasks.sirst.task import SIRSTTask
    from toolkit.config import load_config
    from toolkit.engine import eval_loader

    torch.set_num_threads(1)
    cfg = load_config(config, overrides)
    task = SIRSTTask(cfg)
    dataset = task.build_dataset(split)
    baseline = task.build_metrics().metrics.get("tophat")
    if baseline is None:
        raise SystemExit("error: the config sets eval.baseline=False; nothing to score")
    start = time.perf_counter()
    for batch in eval_loader(dataset, cfg, task.collate_fn(split)):
        _, target = task.eval_step(lambda x: torch.zeros_like(x[:, :1]), batch)  # the masks, cropped as for a model
        baseline.update(None, target, batch)
    r = {k[len(PREFIX) :]: v for k, v in baseline.compute().items()}
    print(f"{config}, split {split!r}, {r['images']} images, {r['targets']} targets ({r['detected']} detected): "
          f"mIoU {100 * r['mIoU']:.2f}, nIoU {100 * r['nIoU']:.2f}, Pd {100 * r['Pd']:.2f}, "
          f"Fa {1e6 * r['Fa']:.2f}e-6, AUC {r['AUC']:.4f}; {time.perf_counter() - start:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
