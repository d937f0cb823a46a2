"""Progress lines: one every ``train.log_seconds`` of (here simulated) time, in log.txt and on stdout."""

from __future__ import annotations

from toolkit.engine.progress import Progress


class _Log:
    def __init__(self):
        self.lines: list[tuple[str, bool]] = []
        self.echo = None

    def info(self, msg: str, *, echo: bool = True) -> None:
        self.lines.append((msg, echo))


def test_a_line_every_interval_with_rate_and_eta():
    now = [0.0]
    log = _Log()
    p = Progress(100, 0, enabled=True, log=log, seconds=30, clock=lambda: now[0])
    for it in range(1, 101):
        now[0] += 2.0  # 2 s per iteration: a line every 15 iterations, and one at the end
        if it == 20:
            p.show(it, loss=0.25, lr=1e-3)
        p.step(it)
    msgs = [m for m, echo in log.lines]
    assert [m.split()[1] for m in msgs] == [f"{i}/100" for i in (15, 30, 45, 60, 75, 90, 100)]
    assert msgs[0] == "iter 15/100 0.50 it/s eta 2.8 min"  # no loss known yet; 85 iterations at 0.5 it/s: 170 s
    assert msgs[1] == "iter 30/100 loss 0.25 lr 0.001 0.50 it/s eta 2.3 min"
    assert msgs[-1].endswith("eta 0 s")
    assert all(echo for _, echo in log.lines)  # no terminal bar here: the lines go to stdout too


def test_resumed_run_measures_its_rate_from_where_it_started():
    now = [0.0]
    log = _Log()
    p = Progress(10_000, 5_000, enabled=True, log=log, seconds=30, clock=lambda: now[0])
    now[0] = 30.0
    p.step(5_060)  # 60 iterations in 30 s
    assert log.lines == [("iter 5060/10000 2.00 it/s eta 41.2 min", True)]


def test_disabled_on_other_ranks():
    log = _Log()
    p = Progress(10, 0, enabled=False, log=log, seconds=0.0)
    for it in range(1, 11):
        p.step(it)
    assert log.lines == []
