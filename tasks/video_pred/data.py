"""Moving MNIST generated on the fly, and the fixed ``mnist_test_seq.npy`` test set.

Srivastava et al., "Unsupervised Learning of Video Representations using LSTMs", ICML 2015: digits
bounce inside a 64x64 canvas and are composited by a pixel-wise maximum.

Digit sources, in order of preference:

1. MNIST idx files under ``data.mnist_root`` (``train-images-idx3-ubyte[.gz]`` for training, and
   ``t10k-images-idx3-ubyte[.gz]`` for the generated test set);
2. otherwise the 1,797 8x8 hand-written digits shipped inside scikit-learn
   (``sklearn.datasets.load_digits``), up-sampled to 28x28; the last fifth is held apart for the
   generated test set. Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from toolkit.errors import DataError
from toolkit.registry import DATASETS

__all__ = ["MovingMNIST", "read_idx_images", "load_digits"]

_IDX_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}


def read_idx_images(path: str | Path) -> np.ndarray:
    """Read an idx3 image file (optionally gzipped) into a uint8 array (N, rows, cols).

    Raises:
        DataError: the file is missing, truncated or not an idx3 image file.
    """
    path = Path(path)
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"MNIST file not found: {path}") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read MNIST file {path}: {exc} (corrupt or truncated gzip?)") from None
    if len(raw) < 16:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an idx3 header (16 bytes)")
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x00000803:
        raise DataError(f"{path}: not an idx3 image file (magic {magic:#010x}, expected 0x00000803)")
    expected = 16 + n * rows * cols
    if len(raw) != expected:
        raise DataError(
            f"{path}: header says {n} images of {rows}x{cols} ({expected} bytes) but the file has {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols).copy()  # writable for torch


def _find_idx(root: Path, split: str) -> Path:
    stem = _IDX_FILES[split]
    for name in (stem, stem + ".gz", stem.replace("-idx3", ".idx3")):
        if (root / name).exists():
            return root / name
    raise DataError(f"data.mnist_root={root}: no {stem}[.gz] found there")


def load_digits(mnist_root: str | None, split: str) -> np.ndarray:
    """Digits (N, 28, 28) uint8 for ``split`` in ('train', 'test'); see the module docstring for sources."""
    if mnist_root:
        root = Path(mnist_root).expanduser()
        if root.is_file():
            raise DataError(f"data.mnist_root={mnist_root} is a file, not a folder; give the folder holding it")
        if not root.is_dir():
            raise DataError(f"data.mnist_root={mnist_root}: folder not found")
        return read_idx_images(_find_idx(root, split))
    from sklearn.datasets import load_digits as sk_digits

    small = sk_digits().images.astype(np.float32) / 16.0  # (1797, 8, 8) in [0, 1]
    big = torch.nn.functional.interpolate(torch.from_numpy(small)[:, None], size=(20, 20), mode="bilinear")
    big = torch.nn.functional.pad(big, (4, 4, 4, 4))[:, 0]  # (N, 28, 28), MNIST-like 4 px margin
    digits = (big.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    cut = len(digits) * 4 // 5
    return digits[:cut] if split == "train" else digits[cut:]


def _ink_boxes(digits: np.ndarray) -> np.ndarray:
    """Per digit, the rows and columns holding ink: (N, 4) int ``top, bottom, left, right`` (0s when blank)."""
    boxes = np.zeros((len(digits), 4), dtype=np.int64)
    for axis, (lo, hi) in ((2, (0, 1)), (1, (2, 3))):
        inked = digits.any(axis=axis)  # (N, rows) for axis 2, (N, cols) for axis 1
        first = inked.argmax(axis=1)
        last = inked.shape[1] - inked[:, ::-1].argmax(axis=1)
        blank = ~inked.any(axis=1)
        boxes[:, lo] = np.where(blank, 0, first)
        boxes[:, hi] = np.where(blank, 0, last)
    return boxes


@DATASETS.register("moving_mnist")
class MovingMNIST(Dataset):
    """Bouncing digits on a square canvas, generated per index from a seeded generator.

    Clip ``i`` of epoch ``e`` depends only on ``(seed, e, i)``, so runs are reproducible, resumable
    and identical across worker counts. The training split draws new clips every epoch
    (:meth:`set_epoch`); the test split is fixed. When ``test_path`` points to the standard
    ``mnist_test_seq.npy`` (uint8, (20, N, 64, 64), time first) the test split reads it instead
    (validation stays generated, so the best checkpoint is never chosen on test clips).

    Items: ``{'input': (T_in, 1, S, S), 'target': (T_out, 1, S, S)}`` float32 in [0, 1].
    """

    def __init__(
        self,
        split: str,
        *,
        input_frames: int = 10,
        output_frames: int = 10,
        num_clips: int | None = None,
        num_digits: int = 2,
        image_size: int = 64,
        digit_size: int = 28,
        step: float = 0.1,
        mnist_root: str | None = None,
        test_path: str | None = None,
        seed: int = 0,
    ):
        self.split = split
        self.input_frames, self.output_frames = input_frames, output_frames
        self.frames = input_frames + output_frames
        self.num_digits, self.image_size, self.step = num_digits, image_size, step
        self.seed = seed + {"train": 0, "val": 1, "test": 2}.get(split, 3) * 1_000_003
        self.epoch = 0
        self.fixed: np.ndarray | None = None
        if split == "test" and test_path:  # validation stays generated: the checkpoint is not picked on test
            self.fixed = self._load_test_file(Path(test_path).expanduser())
            self.num_clips = len(self.fixed) if num_clips is None else min(num_clips, len(self.fixed))
            return
        self.digits = load_digits(mnist_root, "train" if split == "train" else "test")
        if digit_size != self.digits.shape[1]:  # smaller canvases need smaller digits to leave room to move
            small = torch.nn.functional.interpolate(
                torch.from_numpy(self.digits)[:, None].float(), size=(digit_size, digit_size), mode="area"
            )
            self.digits = small[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
        if digit_size >= image_size:
            raise DataError(f"data.digit_size={digit_size} must be smaller than data.image_size={image_size}")
        self.ink = _ink_boxes(self.digits)
        self.num_clips = num_clips if num_clips is not None else (10_000 if split == "train" else 1_000)

    def _load_test_file(self, path: Path) -> np.ndarray:
        if not path.exists():
            raise DataError(f"data.test_path={path}: file not found")
        try:
            arr = np.load(path, mmap_mode="r")
        except (ValueError, OSError) as exc:
            raise DataError(f"{path}: not a readable .npy file ({exc})") from None
        if arr.ndim != 4 or arr.shape[0] < self.frames:
            raise DataError(
                f"{path}: expected (T>={self.frames}, N, H, W) uint8 with time first, got shape {arr.shape}"
            )
        return np.swapaxes(arr, 0, 1)  # (N, T, H, W)

    def set_epoch(self, epoch: int) -> None:
        """Draw a new set of training clips (no effect on fixed test sets)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_clips

    def generate(self, index: int, dtype: np.typing.DTypeLike = np.uint8) -> np.ndarray:
        """Clip ``index`` as (T, S, S): uint8, or with ``dtype=np.float32`` the same clip divided by 255.

        Each digit starts at a uniform position of the free range with a uniform direction and moves
        ``step`` of that range per frame; a coordinate that leaves [0, 1] is clamped and its velocity
        reversed. The trajectory is stepped in Python floats (the same float64 arithmetic, term for
        term, as arrays would do) and each digit is drawn into all frames by one indexed maximum over
        a strided view of the canvas, restricted to the digit's ink box (its non-zero rows and
        columns: a maximum with zeros changes nothing). Digit and draw order fix the result.

        The float32 clip is drawn directly from digits divided by 255: division by a positive constant
        is correctly rounded and monotone, so the maximum of quotients is the quotient of the maximum,
        bit for bit, and the 20 x 64 x 64 conversion afterwards is saved.
        """
        epoch = self.epoch if self.split == "train" else 0
        entropy = [self.seed, epoch, index]
        if 0 <= min(entropy) and max(entropy) < 1 << 32:  # the uint32 words SeedSequence makes of these ints,
            entropy = np.array(entropy, dtype=np.uint32)  # coerced faster; others go as ints (same words)
        rng = np.random.default_rng(entropy)
        dtype = np.dtype(dtype)
        size, digit, frames = self.image_size, self.digits.shape[1], self.frames
        limit = size - digit
        canvas = np.zeros((frames, size, size), dtype=dtype)
        s_t, s_y, s_x = canvas.strides
        every_frame = np.arange(frames)
        for n in range(self.num_digits):
            k = rng.integers(len(self.digits))
            y, x, turn = rng.random(3).tolist()  # (y, x) in [0, 1] of the free range, then the direction
            theta = turn * 2 * np.pi
            vy, vx = float(np.sin(theta)) * self.step, float(np.cos(theta)) * self.step
            rows, cols = [], []
            for _t in range(frames):
                rows.append(int(y * limit))
                cols.append(int(x * limit))
                y, x = y + vy, x + vx
                if y < 0 or y > 1:  # bounce off the borders
                    vy, y = -vy, min(max(y, 0.0), 1.0)
                if x < 0 or x > 1:
                    vx, x = -vx, min(max(x, 0.0), 1.0)
            top, bottom, left, right = self.ink[k]
            if bottom == top:  # a blank digit draws nothing
                continue
            # window (t, r, c) of this digit's ink box: a writable strided view of the canvas, one per frame
            shape = (frames, limit + 1, limit + 1, bottom - top, right - left)
            windows = np.ndarray(shape, dtype, canvas, top * s_y + left * s_x, (s_t, s_y, s_x, s_y, s_x))
            ink = self.digits[k, top:bottom, left:right]
            if dtype != np.uint8:
                ink = ink.astype(dtype)
                np.divide(ink, dtype.type(255), out=ink)
            # the first digit lands on an empty canvas (its frames do not overlap): max(0, ink) = ink
            at = (every_frame, np.array(rows), np.array(cols))
            windows[at] = ink if n == 0 else np.maximum(windows[at], ink)
        return canvas

    def __getitem__(self, index: int) -> dict:
        if self.fixed is None:
            frames = self.generate(index, np.float32)
        else:
            frames = self.fixed[index, : self.frames].astype(np.float32)
            np.divide(frames, np.float32(255.0), out=frames)
        # NOTE: numpy, not torch, converts and slices: the same IEEE quotient, and a torch view costs
        # about 5 us against 0.2 us for numpy's (timeit, one thread), a fifth of the clip's cost.
        frames = frames[:, None]  # (T, 1, S, S)
        inputs, targets = frames[: self.input_frames], frames[self.input_frames :]
        return {"input": torch.from_numpy(inputs), "target": torch.from_numpy(targets)}
