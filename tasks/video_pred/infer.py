"""Predict the future of user clips with a trained model, rolling out as many frames as asked.

``tools/infer.py CFG --checkpoint PATH --input clips.npy --out preds.npy [--frames N --batch-size N]``
calls :meth:`VideoPredTask.infer`, which calls :func:`run`. The input is a ``.npy``/``.npz`` of
clips (N, T, H, W) or (N, T, C, H, W) (uint8 is divided by 255), or a folder of clip folders of
frames, with T >= the model's input length; the last ``input_frames`` frames of every clip are the
context (resized to ``data.image_size`` when the model was trained on resized clips). The output
is float32 (N, frames, C, H, W) in the same scale as the input data.

A model predicts a fixed number of frames at once (T_out). When more are asked, the prediction is
fed back: the newest ``input_frames`` frames of (context + predictions so far) predict the next
T_out frames, and so on; the surplus of the last step is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tasks.video_pred.clips import ArrayClips, open_clips, resize_frames, to_unit_scale
from toolkit.errors import DataError

__all__ = ["predict_clips", "run"]


def _as_ntchw(clips: np.ndarray) -> np.ndarray:
    if clips.ndim == 4:
        return clips[:, :, None]  # (N, T, 1, H, W)
    if clips.ndim != 5:
        raise DataError(f"expected clips of shape (N, T, H, W) or (N, T, C, H, W), got {clips.shape}")
    return clips


@torch.no_grad()
def predict_clips(
    model: nn.Module,
    clips: np.ndarray,
    input_frames: int,
    output_frames: int,
    *,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    stats: dict | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Predict ``output_frames`` frames after the last ``input_frames`` frames of every clip.

    Args:
        model: maps (B, input_frames, C, H, W) to (B, T_out, C, H, W) in the normalised scale.
        clips: (N, T, C, H, W) or (N, T, H, W), T >= ``input_frames``, in the data scale (uint8 and
            uint16 are divided by 255 and 65535; a memory map is read batch by batch).
        input_frames: context length the model reads.
        output_frames: frames to predict; more than T_out rolls out autoregressively.
        batch_size: clips per forward pass.
        device: where the model runs (the model is moved there).
        stats: ``dict(mean=[...], std=[...])`` per channel the model was trained with; inputs are
            normalised with them and predictions de-normalised.
        progress: show a tqdm bar.

    Returns:
        float32 (N, output_frames, C, H, W) in the data scale.
    """
    clips = _as_ntchw(clips)
    n, t = clips.shape[:2]
    if t < input_frames:
        raise DataError(
            f"clips have {t} frames but the model reads {input_frames}; expected shape "
            f"(N, T>={input_frames}, {', '.join(map(str, clips.shape[2:]))})"
        )
    device = torch.device(device)
    model = model.to(device).eval()
    mean = std = None
    if stats is not None:
        mean = torch.as_tensor(stats["mean"], dtype=torch.float32, device=device).reshape(1, 1, -1, 1, 1)
        std = torch.as_tensor(stats["std"], dtype=torch.float32, device=device).reshape(1, 1, -1, 1, 1)
    out = np.empty((n, output_frames, *clips.shape[2:]), dtype=np.float32)
    from tqdm import tqdm

    bar = tqdm(total=n, desc="predict", unit="clip", disable=not progress, leave=False)
    for lo in range(0, n, batch_size):
        batch = to_unit_scale(np.asarray(clips[lo : lo + batch_size, t - input_frames :]))  # (b, T_in, C, H, W)
        x = torch.from_numpy(batch).to(device)
        if mean is not None:
            x = (x - mean) / std
        preds, have = [], 0
        while have < output_frames:
            y = model(x).float()  # (b, T_out, C, H, W)
            preds.append(y)
            have += y.shape[1]
            x = torch.cat([x, y], dim=1)[:, -input_frames:]  # (b, T_in, C, H, W): newest frames
        y = torch.cat(preds, dim=1)[:, :output_frames]  # (b, output_frames, C, H, W)
        if mean is not None:
            y = y * std + mean
        out[lo : lo + len(batch)] = y.cpu().numpy()
        bar.update(len(batch))
    bar.close()
    return out


def _load_input(path: Path, input_frames: int, channels: int | None, image_size: Any) -> np.ndarray:
    source = open_clips(
        path, channels=channels, min_frames=input_frames, same_size=image_size is None, option="--input"
    )
    if isinstance(source, ArrayClips) and image_size is None:
        return source.array  # (N, T, C, H, W), possibly memory-mapped; scaled per batch
    # the last `input_frames` frames of every clip in unit scale, resized like the training data
    if isinstance(source, ArrayClips) and source.array.shape[1] < input_frames:
        return source.array  # predict_clips reports the short clips
    clips = [source.read(i, source.length(i) - input_frames, input_frames) for i in range(len(source))]
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else image_size
        clips = [resize_frames(c, size) for c in clips]
    return np.stack(clips)  # (N, input_frames, C, H, W)


def run(task: Any, model: nn.Module, args: Any, device: torch.device) -> np.ndarray:
    """``tools/infer.py`` for video prediction: read ``args.input``, write ``args.out`` (``.npy``).

    Reads ``args.frames`` (default: ``data.output_frames``) and ``args.batch_size``; the context
    length and frame shape come from the model's ``in_shape`` (``data.input_frames`` for models
    without one); uses the task's training statistics (``task.stats``, restored from the
    checkpoint) when present.
    """
    data = task.cfg.data
    in_shape = getattr(model, "in_shape", None)  # (T_in, C, H, W) the checkpoint was trained on
    input_frames = int(in_shape[0] if in_shape is not None else data["input_frames"])
    frames = int(getattr(args, "frames", None) or data["output_frames"])
    batch_size = int(getattr(args, "batch_size", None) or task.cfg.get_path("eval.batch_size", 8))
    src = Path(args.input).expanduser()
    image_size = None
    if data.get("type") == "clips" and data.get("image_size") is not None:
        # frames were resized in training: resize to the size the checkpoint was trained on
        image_size = tuple(in_shape[2:]) if in_shape is not None else data["image_size"]
    clips = _as_ntchw(_load_input(src, input_frames, in_shape[1] if in_shape else None, image_size))
    if in_shape is not None and tuple(clips.shape[2:]) != tuple(in_shape[1:]):
        raise DataError(
            f"{src}: clips of frames {tuple(clips.shape[2:])} but the model was trained on "
            f"(C, H, W) = {tuple(in_shape[1:])}; expected clips of shape (N, T>={input_frames}, "
            f"{', '.join(map(str, in_shape[1:]))})"
        )
    if clips.dtype.kind == "f":
        bad = next((i for i in range(len(clips)) if not np.isfinite(np.asarray(clips[i])).all()), None)
        if bad is not None:
            raise DataError(f"{src}: clip {bad} holds NaN or infinite values; expected finite clips")
    stats = getattr(task, "stats", None)
    preds = predict_clips(
        model, clips, input_frames, frames, batch_size=batch_size, device=device, stats=stats, progress=True
    )
    out = Path(args.out).expanduser()
    if out.suffix != ".npy":
        out = out.with_suffix(".npy")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, preds)
    print(f"wrote {out}: predictions float32 {tuple(preds.shape)} (N, frames, C, H, W) from {len(clips)} clips")
    return preds
