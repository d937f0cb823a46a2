"""Training progress: a tqdm bar on a terminal, and a timed progress line in the run's log.

On a terminal the bar advances every iteration and log lines (validation results, checkpoints) are written
above it, so they never break it. Every ``seconds`` (30 by default, ``train.log_seconds``) a line with the
iteration, mean loss of the last log interval, learning rate, it/s and ETA goes to ``log.txt`` — and to
stdout when there is no bar, so that a run under ``nohup`` or in CI shows progress at a steady pace
whatever the speed of an iteration.
"""

from __future__ import annotations

import sys
import time

from toolkit.engine.runlog import RunLog

__all__ = ["Progress"]


class Progress:
    """A tqdm bar (loss, lr, it/s) on a terminal; a progress line every ``seconds`` in the log.

    The bar advances every iteration; the loss it shows is refreshed at log points only, so the
    training loop never waits for the device just to draw a number.
    """

    def __init__(self, total: int, start: int, *, enabled: bool, log: RunLog, seconds: float = 30.0, clock=None):
        self.enabled, self.log, self.total, self.seconds = enabled, log, total, seconds
        self.clock = clock or time.perf_counter
        self.bar = None
        self.t0 = self.last = self.clock()
        self.start, self.loss, self.lr = start, None, None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, desc="train", dynamic_ncols=True)
            log.echo = self.bar.write  # lines printed above the bar, which is redrawn below them

    def step(self, it: int) -> None:
        """Called after iteration ``it``: advances the bar, writes the timed line when it is due."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
        now = self.clock()
        if now - self.last >= self.seconds or it == self.total:
            self._line(it, now)

    def show(self, it: int, *, loss: float, lr: float) -> None:
        """Called at log points with the mean loss since the last one."""
        self.loss, self.lr = loss, lr
        if self.enabled and self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4g}", lr=f"{lr:.3g}", refresh=False)

    def _line(self, it: int, now: float) -> None:
        self.last = now
        rate = (it - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - it) / max(rate, 1e-9)
        loss = "" if self.loss is None else f" loss {self.loss:.4g} lr {self.lr:.3g}"
        msg = f"iter {it}/{self.total}{loss} {rate:.2f} it/s eta {_duration(eta)}"
        self.log.info(msg, echo=self.bar is None)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.log.echo = None


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
