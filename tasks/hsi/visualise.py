"""Pictures for hyperspectral classification: class maps beside the ground truth, confusion matrices, patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.engine.pictures import MIN_SIDE, column, enlarge, factor_for, legend, row, text_band, titled

__all__ = ["class_colors", "colorize", "save_classification_map", "save_confusion_matrix", "patch_strip"]

# A qualitative palette (RGB) for up to 20 classes; more classes cycle through an HSV ramp.
_PALETTE = np.array(
    [
        [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
        [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [220, 190, 255],
        [170, 110, 40], [255, 250, 200], [128, 0, 0], [170, 255, 195], [128, 128, 0], [255, 215, 180],
        [0, 0, 128], [128, 128, 128],
    ],
    dtype=np.uint8,
)  # fmt: skip


def class_colors(num_classes: int) -> np.ndarray:
    """(K + 1, 3) uint8 colours; row 0 (unlabelled) is black, row c is class c."""
    if num_classes <= len(_PALETTE):
        colors = _PALETTE[:num_classes]
    else:
        import colorsys

        colors = np.array(
            [[int(255 * v) for v in colorsys.hsv_to_rgb(i / num_classes, 0.8, 0.95)] for i in range(num_classes)],
            dtype=np.uint8,
        )
    return np.concatenate([np.zeros((1, 3), np.uint8), colors])


def colorize(label_map: np.ndarray, num_classes: int) -> np.ndarray:
    """(H, W) labels 0..K (0 = unlabelled) -> (H, W, 3) uint8."""
    return class_colors(num_classes)[np.clip(label_map, 0, num_classes)]


def save_classification_map(
    pred_map: np.ndarray, gt: np.ndarray | None, class_names: list[str], path: str | Path, title: str = ""
) -> Path:
    """Ground truth and the full-scene prediction side by side with a class legend, as one PNG.

    Args:
        pred_map: (H, W) predicted labels 1..K for every pixel.
        gt: (H, W) ground truth, 0 = unlabelled; ``None`` draws the prediction alone.
        class_names: K names for the legend.
        path: PNG to write.
        title: optional figure title (e.g. OA / kappa and the split).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    k = len(class_names)
    colors = class_colors(k)
    h, w = pred_map.shape
    panels = (
        [("prediction (every pixel)", pred_map)]
        if gt is None
        else [("ground truth", gt), ("prediction (every pixel)", pred_map)]
    )
    aspect_w, aspect_h = 4.0 * w / max(h, w), 4.0 * h / max(h, w)  # 4-inch panels
    fig, axes = plt.subplots(1, len(panels), figsize=(len(panels) * aspect_w + 3.2, aspect_h + 0.8), squeeze=False)
    for ax, (name, img) in zip(axes[0], panels):
        ax.imshow(colorize(img, k), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=colors[c + 1] / 255.0, label=f"{c + 1} {class_names[c]}") for c in range(k)]
    handles.append(Patch(color=(0, 0, 0), label="0 unlabelled"))
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1 - 2.9 / (len(panels) * aspect_w + 3.2), 1))
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def save_confusion_matrix(cm: np.ndarray, class_names: list[str], path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (rows = true class) with the counts written in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    k = len(cm)
    rows = cm.sum(1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
    size = 2.5 + 0.42 * k
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    labels = [f"{c + 1} {n[:14]}" for c, n in enumerate(class_names)]
    ax.set_xticks(range(k), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(k), labels, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion matrix (rows normalised, counts in cells)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def patch_strip(
    patches: np.ndarray,
    targets: np.ndarray,
    preds: np.ndarray,
    num_classes: int,
    scale: int | None = None,
    *,
    class_names: list[str] | None = None,
    labels: bool = True,
) -> np.ndarray:
    """Patches as false-colour tiles framed by their true class (outer) and predicted class (inner).

    Each patch is enlarged by a whole factor with nearest-neighbour sampling (every pixel a
    ``scale x scale`` block, nothing interpolated); with ``labels`` every tile is titled with its true
    and predicted class (1-based, as in the reports) and a legend below names the frames and the
    colours of the classes shown.

    Args:
        patches: (N, D, S, S) preprocessed patches; components 0, 1, 2 become R, G, B.
        targets, preds: (N,) class indices 0..K-1.
        num_classes: K (the palette).
        scale: the enlargement (``None``: the least whole factor giving tiles of at least 256 px).
        class_names: K names for the legend (``None``: ``class c``).
        labels: titles and legend.

    Returns:
        uint8 (S k + 2 f, N (S k + 2 f) + (N - 1) gaps, 3) without labels, frames f = 4 px each;
        with labels 22 px of titles above and the legend below.
    """
    colors = class_colors(num_classes)
    k = factor_for(*patches.shape[-2:]) if scale is None and len(patches) else int(scale or 1)
    frame = 4
    tiles = []
    for x, t, p in zip(patches, targets, preds):
        rgb = x[:3] if x.shape[0] >= 3 else np.repeat(x[:1], 3, axis=0)  # (3, S, S)
        lo, hi = np.percentile(rgb, 2), np.percentile(rgb, 98)
        rgb = np.clip((rgb - lo) / (hi - lo + 1e-8), 0, 1)
        img = enlarge((rgb.transpose(1, 2, 0) * 255).astype(np.uint8), k)  # (S k, S k, 3)
        img = np.pad(img, ((frame, frame), (frame, frame), (0, 0)))
        img[:frame], img[-frame:], img[:, :frame], img[:, -frame:] = (colors[int(p) + 1],) * 4  # inner: prediction
        img = np.pad(img, ((frame, frame), (frame, frame), (0, 0)))
        img[:frame], img[-frame:], img[:, :frame], img[:, -frame:] = (colors[int(t) + 1],) * 4  # outer: truth
        if labels:
            mark = "" if int(t) == int(p) else "  (wrong)"
            img = titled(img, f"true {int(t) + 1}, predicted {int(p) + 1}{mark}")
        tiles.append(img)
    if not tiles:
        return np.full((MIN_SIDE, MIN_SIDE, 3), 255, np.uint8)
    strip = row(tiles)
    if not labels:
        return strip
    names = list(class_names or [f"class {c + 1}" for c in range(num_classes)])
    shown = sorted({int(c) for c in (*targets, *preds)})  # the classes of the tiles
    entries = [(colors[c + 1], f"{c + 1} {names[c] if c < len(names) else ''}".strip()) for c in shown]
    key = legend(entries, strip.shape[1], title="frame: outer = true class, inner = predicted;")
    note = text_band("false colour: components 1-3 of the preprocessed patch as R, G, B", strip.shape[1], center=False)
    return column([strip, key, note], gap=2)
