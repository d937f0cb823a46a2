"""Training progress: a tqdm bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time

from toolkit.engine.runlog import RunLog

__all__ = ["Progress"]


class Progress:
    """A tqdm bar (loss, lr, it/s) on a terminal; a log line every ``every`` iterations otherwise.

    The bar advances every iteration; the loss it shows is refreshed at log points only, so the
    training loop never waits for the device just to draw a number.
    """

    def __init__(self, total: int, start: int, *, enabled: bool, log: RunLog, every: int):
        self.enabled, self.log, self.every, self.total = enabled, log, every, total
        self.bar = None
        self.t0, self.start = time.perf_counter(), start
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, desc="train", dynamic_ncols=True)

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def show(self, it: int, *, loss: float, lr: float) -> None:
        """Called at log points with the mean loss since the last one."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4g}", lr=f"{lr:.3g}", refresh=False)
            return
        rate = (it - self.start) / max(time.perf_counter() - self.t0, 1e-9)
        eta = (self.total - it) / max(rate, 1e-9)
        self.log.info(f"iter {it}/{self.total} loss {loss:.4g} lr {lr:.3g} {rate:.2f} it/s eta {eta / 60:.1f} min")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
