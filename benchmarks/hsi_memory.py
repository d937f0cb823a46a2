"""Peak memory of the lazy HSI patch dataset against the cube size and the materialised patch stack.

    python benchmarks/hsi_memory.py [--height 145 --width 145 --bands 200 --window 25 --components 30]
        [--materialise] [--out work_dirs/benchmarks/hsi_memory.json]

Each measurement runs in a fresh subprocess: it builds the scene (generated on the Indian Pines
layout when ``../shared/data/hsi`` has it), preprocesses and pads it (the Task's ``prepare``), then
resets the peak resident set size (``/proc/self/clear_refs``) and reads every labelled patch once
through a DataLoader (batch 256); the JSON gives the extra peak memory of that pass. The reference HybridSN code
instead builds the whole stack of patches up front: N x S x S x D float32 (about 770 MB for Indian
Pines at S=25, D=30); ``--materialise`` also measures that, for comparison.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 2**20
IP_GT = ROOT.parent / "shared" / "data" / "hsi" / "IndianPines" / "Indian_pines_gt.mat"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB  # Linux reports KiB


def _status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) from /proc/self/status, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset VmHWM so that the next peak covers only what follows (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _child(args: argparse.Namespace) -> dict:
    """Runs inside the subprocess: one mode, stage by stage."""
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import torch

    from tasks.hsi.task import HSITask
    from toolkit.config import load_config

    torch.set_num_threads(1)
    out = {"after_imports_mb": _peak_mb()}
    cfg = load_config(
        ROOT / "tasks" / "hsi" / "hybridsn.py",
        [
            *(f"data.synthetic.{k}={v!r}" for k, v in dict(height=args.height, width=args.width).items()),
            *(f"data.synthetic.{k}={v!r}" for k, v in dict(bands=args.bands, num_classes=16, seed=0).items()),
            f"data.synthetic.layout={args.layout!r}",
            f"data.window={args.window}",
            f"data.pca.n_components={args.components}",
            "data.split.type=random",
            "data.split.val=0.0",
            "data.augment.flip=False",
            "data.augment.rotate90=False",
        ],
    )
    task = HSITask(cfg)
    prepared = task.prepare()
    out["peak_until_prepared_mb"] = _peak_mb()
    out["rss_prepared_mb"] = _status_mb("VmRSS")
    out["peak_reset"] = _reset_peak()
    labelled = np.flatnonzero(prepared.scene.gt.ravel() > 0)
    out["labelled_pixels"] = int(len(labelled))
    out["cube_mb"] = prepared.scene.cube.nbytes / MB
    out["padded_preprocessed_cube_mb"] = prepared.volume.nbytes / MB
    s, d = args.window, args.components
    out["materialised_stack_mb"] = len(labelled) * s * s * d * 4 / MB
    t0 = time.perf_counter()
    if args.mode == "lazy":
        ds = task.build_dataset("test")  # every labelled pixel outside train ...
        ds_train = task.build_dataset("train")  # ... and inside it
        n = 0
        for dataset in (ds_train, ds):
            for batch in torch.utils.data.DataLoader(dataset, batch_size=256, num_workers=0):
                n += len(batch["target"])
        out["patches_read"] = n
    else:
        coords = np.stack(np.divmod(labelled, prepared.scene.gt.shape[1]), 1)
        stack = np.stack([prepared.volume.patch(r, c).numpy() for r, c in coords])  # (N, D, S, S), the reference way
        out["patches_read"] = int(stack.shape[0])
    out["seconds"] = time.perf_counter() - t0
    out["peak_while_reading_mb"] = _status_mb("VmHWM") if out["peak_reset"] else _peak_mb()
    out["extra_while_reading_mb"] = out["peak_while_reading_mb"] - out["rss_prepared_mb"]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--height", type=int, default=145)
    p.add_argument("--width", type=int, default=145)
    p.add_argument("--bands", type=int, default=200)
    p.add_argument("--window", type=int, default=25)
    p.add_argument("--components", type=int, default=30)
    p.add_argument("--layout", default=str(IP_GT) if IP_GT.exists() else None, help="real label map for the layout")
    p.add_argument("--materialise", action="store_true", help="also measure the materialised patch stack")
    p.add_argument("--out", default=str(ROOT / "work_dirs" / "benchmarks" / "hsi_memory.json"))
    p.add_argument("--mode", choices=["lazy", "materialised"], help=argparse.SUPPRESS)  # subprocess entry
    args = p.parse_args()
    if args.mode:
        print(json.dumps(_child(args)))
        return 0

    shared = ["--height", str(args.height), "--width", str(args.width), "--bands", str(args.bands),
              "--window", str(args.window), "--components", str(args.components)]  # fmt: skip
    if args.layout:
        shared += ["--layout", args.layout]
    results = {}
    for mode in ["lazy"] + (["materialised"] if args.materialise else []):
        proc = subprocess.run(
            [sys.executable, __file__, "--mode", mode, *shared], capture_output=True, text=True, check=True, cwd=ROOT
        )
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    lazy = results["lazy"]
    extra = {}
    if "materialised" in results:
        extra["materialised_extra_mb"] = round(results["materialised"]["extra_while_reading_mb"], 1)
    record = {
        "benchmark": "hsi_memory",
        "scene": dict(
            height=args.height, width=args.width, bands=args.bands, window=args.window, components=args.components
        ),
        "layout": args.layout,
        "results": results,
        "summary": {
            "cube_mb": round(lazy["cube_mb"], 1),
            "lazy_dataset_holds_mb": round(lazy["padded_preprocessed_cube_mb"], 1),
            "labelled_pixels": lazy["labelled_pixels"],
            "lazy_extra_while_reading_all_patches_mb": round(lazy["extra_while_reading_mb"], 1),
            "materialised_stack_mb": round(lazy["materialised_stack_mb"], 1),
            **extra,
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["summary"], indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
