"""Per-image time of the IRSTD target-level metrics: vectorised toolkit code vs a per-region loop.

The loop implementation is the straightforward one used by the field's evaluation scripts: label the
components, build one region object per component (centroid and area from its own pixel coordinates),
then match every target against the remaining regions in nested Python loops and rebuild the
false-alarm list. Both implementations run on the same inputs and must give identical counts
(targets, detected targets, fixed and legacy false-alarm pixels) for every image; the script stops
with an error otherwise.

Input sets:
- ``golden``: the 40 fixtures of ``shared/golden/irstd_cases.npz`` (when present);
- ``realistic``: generated scenes (a few targets, a few false-alarm bumps) at 256 x 256;
- ``noisy_256`` / ``noisy_512``: clutter-like noise thresholded into thousands of blobs, with tens of targets.

    python benchmarks/irstd_metrics.py [--out work_dirs/benchmarks/irstd_metrics.json] [--repeat 3]

When scikit-image is installed, a ``skimage.measure.regionprops`` loop is timed as well.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from toolkit.metrics.irstd import match_targets  # noqa: E402

_EIGHT = np.ones((3, 3), dtype=bool)


# --------------------------------------------------------------------------- the per-region loop
def _regions_loop(binary: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """One (centroid, area) per 8-connected component, each from its own coordinates (regionprops-style)."""
    labels, _ = ndimage.label(binary, structure=_EIGHT)
    regions = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        rr, cc = np.nonzero(labels[sl] == k)
        coords = np.stack([rr + sl[0].start, cc + sl[1].start], axis=1)
        regions.append((coords.mean(axis=0), len(coords)))
    return regions


def _regions_skimage(binary: np.ndarray) -> list[tuple[np.ndarray, int]]:
    from skimage import measure

    return [(np.array(r.centroid), int(r.area)) for r in measure.regionprops(measure.label(binary, connectivity=2))]


def loop_counts(pred: np.ndarray, gt: np.ndarray, regions=_regions_loop) -> tuple[int, int, int, int]:
    """(targets, detected, fixed FA pixels, legacy FA pixels) with nested loops over regions."""
    gt_regions = regions(gt)
    pred_regions = regions(pred)
    remaining = list(pred_regions)
    matched_areas = []
    for centroid_gt, _ in gt_regions:
        for m, (centroid_pred, area) in enumerate(remaining):
            if np.linalg.norm(centroid_pred - centroid_gt) < 3:
                matched_areas.append(area)
                del remaining[m]
                break
    fixed = sum(area for _, area in remaining)
    legacy = sum(area for _, area in remaining if area not in matched_areas)
    return len(gt_regions), len(matched_areas), fixed, legacy


def vector_counts(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int, int, int]:
    m = match_targets(pred, gt)
    return m.targets, m.matched, m.fa_pixels, m.fa_pixels_legacy


# --------------------------------------------------------------------------- inputs
def _golden() -> list[tuple[np.ndarray, np.ndarray]]:
    path = ROOT.parent / "shared" / "golden" / "irstd_cases.npz"
    if not path.is_file():
        return []
    d = np.load(path)
    return [(d[f"prob_{i:02d}"] > 0.5, d[f"mask_{i:02d}"] > 0) for i in range(len(d["case_names"]))]


def _targets(rng: np.random.Generator, h: int, w: int, n: int) -> np.ndarray:
    gt = np.zeros((h, w), dtype=bool)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(n):
        cy, cx, r = rng.uniform(4, h - 4), rng.uniform(4, w - 4), rng.uniform(0.8, 3.5)
        gt |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return gt


def _realistic(rng: np.random.Generator, n_images: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for _ in range(n_images):
        gt = _targets(rng, 256, 256, int(rng.integers(1, 6)))
        pred = ndimage.shift(gt.astype(float), rng.uniform(-1.5, 1.5, 2), order=0) > 0.5
        pred |= _targets(rng, 256, 256, int(rng.integers(0, 4)))  # false-alarm bumps
        out.append((pred, gt))
    return out


def _noisy(rng: np.random.Generator, n_images: int, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for _ in range(n_images):
        gt = _targets(rng, size, size, int(rng.integers(20, 60)))
        clutter = ndimage.gaussian_filter(rng.standard_normal((size, size)), 0.8)
        pred = (clutter > 1.6 * clutter.std()) | ndimage.binary_dilation(gt)
        out.append((pred, gt))
    return out


# --------------------------------------------------------------------------- timing
def _time(fn, pairs, repeat: int) -> tuple[float, list]:
    best = float("inf")
    results = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        results = [fn(p, g) for p, g in pairs]
        best = min(best, time.perf_counter() - t0)
    return best / len(pairs), results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "work_dirs" / "benchmarks" / "irstd_metrics.json"))
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats (the best is kept)")
    ap.add_argument("--images", type=int, default=6, help="images per generated set")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    sets = {
        "golden": _golden(),
        "realistic": _realistic(rng, args.images),
        "noisy_256": _noisy(rng, args.images, 256),
        "noisy_512": _noisy(rng, max(args.images // 2, 1), 512),
    }
    try:
        import skimage  # noqa: F401

        loops = {"loop": _regions_loop, "skimage_regionprops_loop": _regions_skimage}
    except ImportError:
        loops = {"loop": _regions_loop}

    report = {
        "benchmark": "irstd target-level metrics (components, centroids, greedy matching, fixed + legacy Fa)",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "repeat": args.repeat,
        "sets": {},
    }
    for name, pairs in sets.items():
        if not pairs:
            continue
        t_vec, res_vec = _time(vector_counts, pairs, args.repeat)
        entry = {
            "images": len(pairs),
            "mean_pred_components": float(np.mean([ndimage.label(p, structure=_EIGHT)[1] for p, _ in pairs])),
            "mean_targets": float(np.mean([r[0] for r in res_vec])),
            "vectorised_ms_per_image": 1e3 * t_vec,
        }
        for loop_name, regions in loops.items():
            t_loop, res_loop = _time(lambda p, g, r=regions: loop_counts(p, g, r), pairs, args.repeat)
            if [tuple(map(int, r)) for r in res_loop] != [tuple(map(int, r)) for r in res_vec]:
                bad = next(i for i, (a, b) in enumerate(zip(res_loop, res_vec)) if tuple(a) != tuple(b))
                raise SystemExit(f"{name} image {bad}: {loop_name} gives {res_loop[bad]}, vectorised {res_vec[bad]}")
            entry[f"{loop_name}_ms_per_image"] = 1e3 * t_loop
            entry[f"speedup_vs_{loop_name}"] = t_loop / t_vec
        entry["identical_results"] = True
        report["sets"][name] = entry
        print(
            f"{name:10s} {entry['images']:3d} images, {entry['mean_pred_components']:7.1f} components/image: "
            + ", ".join(f"{k} {v:.3g}" for k, v in entry.items() if k.endswith(("_ms_per_image", "speedup_vs_loop")))
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
