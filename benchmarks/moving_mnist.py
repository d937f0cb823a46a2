"""Clips per second of the Moving MNIST generator, single process, one thread, against a reference.

Times ``MovingMNIST('train')[i]`` (a generated 20-frame 64x64 clip as float tensors, what a DataLoader
worker does per sample) on the real MNIST digits. With ``--reference FILE`` it also times the class
``MovingMNIST(root, is_train=True)`` of that file — e.g. OpenSTL's
``openstl/datasets/dataloader_moving_mnist.py`` from a checkout of that project, run unchanged (its
imports of ``torchvision`` and ``openstl.datasets.utils`` are satisfied by empty stand-ins when missing,
as the generating path does not use them). ``--reference-root`` is that class's ``root``: a folder
holding ``moving_mnist/train-images-idx3-ubyte.gz``. Nothing is downloaded.

The two run interleaved (toolkit, reference, toolkit, ...), ``--pairs`` times ``--clips`` clips each;
the ratio is the median over pairs of reference time / toolkit time, so background load hits both.

    python benchmarks/moving_mnist.py --mnist-root ../shared/data/mnist \\
        [--reference PATH/dataloader_moving_mnist.py --reference-root DIR] [--pairs 7] [--clips 500]
        [--json benchmarks/results/cpu/moving_mnist.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _load_reference(path: Path):
    """Import the reference file as a module, with stand-ins for imports its generating path does not use."""
    for name in ("torchvision", "openstl", "openstl.datasets", "openstl.datasets.utils"):
        try:
            importlib.import_module(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.create_loader = None  # the loader helper the reference imports at module level
            sys.modules[name] = stub
    spec = importlib.util.spec_from_file_location("reference_moving_mnist", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _per_clip(dataset, clips: int, start: int) -> float:
    t0 = time.perf_counter()
    for i in range(start, start + clips):
        dataset[i]
    return (time.perf_counter() - t0) / clips


def main() -> int:
    import torch

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mnist-root", required=True, help="folder with train-images-idx3-ubyte[.gz]")
    p.add_argument("--reference", type=Path, help="a Python file defining MovingMNIST(root, is_train=True)")
    p.add_argument("--reference-root", type=Path, help="the reference's root (holds moving_mnist/...gz)")
    p.add_argument("--pairs", type=int, default=7)
    p.add_argument("--clips", type=int, default=500)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(1)

    from tasks.video_pred.data import MovingMNIST

    ours = MovingMNIST("train", mnist_root=args.mnist_root)
    ref = None
    if args.reference:
        if not args.reference_root:
            p.error("--reference needs --reference-root")
        ref = _load_reference(args.reference).MovingMNIST(str(args.reference_root), is_train=True)
        a, b = ours[0], ref[0]
        if tuple(a["input"].shape) != tuple(b[0].shape):
            p.error(f"reference clip input {tuple(b[0].shape)} differs from ours {tuple(a['input'].shape)}")
    ours_s, ref_s = [], []
    _per_clip(ours, 50, 0)  # warm caches and lazy imports
    if ref is not None:
        _per_clip(ref, 50, 0)
    for k in range(args.pairs):
        ours_s.append(_per_clip(ours, args.clips, k * args.clips))
        if ref is not None:
            ref_s.append(_per_clip(ref, args.clips, k * args.clips))
    row = {
        "toolkit_us_per_clip_median": statistics.median(ours_s) * 1e6,
        "toolkit_clips_per_s": 1 / statistics.median(ours_s),
        "toolkit_us_per_clip_all": [t * 1e6 for t in ours_s],
    }
    line = f"toolkit   {row['toolkit_us_per_clip_median']:8.1f} us/clip  {row['toolkit_clips_per_s']:8.0f} clips/s"
    print(line)
    if ref is not None:
        ratios = [r / o for r, o in zip(ref_s, ours_s)]
        row.update(
            reference=str(args.reference),
            reference_us_per_clip_median=statistics.median(ref_s) * 1e6,
            reference_clips_per_s=1 / statistics.median(ref_s),
            reference_us_per_clip_all=[t * 1e6 for t in ref_s],
            speedup_median=statistics.median(ratios),
            speedup_per_pair=ratios,
        )
        print(
            f"reference {row['reference_us_per_clip_median']:8.1f} us/clip  {row['reference_clips_per_s']:8.0f} clips/s"
        )
        print(f"toolkit / reference clips/s: {row['speedup_median']:.2f}x (median of {args.pairs} pairs)")
    out = args.json or ROOT / "benchmarks" / "results" / "cpu" / "moving_mnist.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": " ".join(["python"] + sys.argv),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "pairs": args.pairs,
        "clips_per_pair": args.clips,
        **row,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
