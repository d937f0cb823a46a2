"""Optimisers, per-iteration schedules and the EMA of weights."""

import pytest
import torch

from toolkit.engine.ema import EMA
from toolkit.engine.optim import build_optimizer, build_scheduler
from toolkit.errors import ConfigError


def model():
    torch.manual_seed(0)
    return torch.nn.Linear(2, 1)


def lrs(sched, opt, n):
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "adagrad"])
def test_optimizers_build_with_options(name):
    opt = build_optimizer(dict(type=name, lr=0.1, weight_decay=1e-4), model())
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["weight_decay"] == 1e-4


def test_optimizer_errors_name_the_option():
    with pytest.raises(ConfigError, match="optim.type must be one of"):
        build_optimizer(dict(type="lamb", lr=1), model())
    with pytest.raises(ConfigError, match=r"adam does not take \['momentum'\]"):
        build_optimizer(dict(type="adam", lr=1, momentum=0.9), model())


def test_cosine_warmup_and_floor():
    opt = build_optimizer(dict(type="sgd", lr=1.0), model())
    sched = build_scheduler(dict(type="cosine", eta_min=0.1, warmup_iters=2), opt, total_iters=12, iters_per_epoch=4)
    values = lrs(sched, opt, 13)
    assert values[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert values[7] == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the 10 decay iterations
    assert values[12] == pytest.approx(0.1)


def test_multistep_by_epochs_and_onecycle_peak():
    opt = build_optimizer(dict(type="sgd", lr=1.0), model())
    sched = build_scheduler(
        dict(type="multistep", milestone_epochs=[1, 2], gamma=0.1), opt, total_iters=12, iters_per_epoch=4
    )
    assert lrs(sched, opt, 9) == pytest.approx([1.0] * 4 + [0.1] * 4 + [0.01])
    opt = build_optimizer(dict(type="adam", lr=1e-2), model())
    sched = build_scheduler(dict(type="onecycle", max_lr=None, pct_start=0.3), opt, total_iters=10, iters_per_epoch=5)
    values = lrs(sched, opt, 10)
    assert max(values) == pytest.approx(1e-2) and values[0] == pytest.approx(1e-2 / 25)
    with pytest.raises(ConfigError, match="does not take"):
        build_scheduler(dict(type="cosine", T_max=3), opt, total_iters=10, iters_per_epoch=5)


def test_ema_matches_hand_computation():
    net = model()
    ema = EMA(net, decay=0.9)
    w0 = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)
    # the first update copies: e1 = w0 + 1; then e2 = 0.9 e1 + 0.1 (w0 + 2), e3 = 0.9 e2 + 0.1 (w0 + 3)
    e2 = 0.9 * (w0 + 1) + 0.1 * (w0 + 2)
    want = 0.9 * e2 + 0.1 * (w0 + 3)
    assert torch.allclose(ema.shadow["weight"], want)
    with ema.applied(net):
        assert torch.allclose(net.weight, want)
    assert torch.allclose(net.weight, w0 + 3)  # raw weights restored


def test_ema_state_round_trip_goes_on_averaging_and_copies_integer_buffers():
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    ema = EMA(net, decay=0.5)
    net(torch.randn(4, 3))  # BatchNorm counts one batch
    ema.update(net)
    saved = ema.state_dict()
    assert saved["1.num_batches_tracked"].item() == 1 and set(saved) == set(net.state_dict())
    again = EMA(net, decay=0.5)
    again.load_state_dict(saved)
    w = net[0].weight.detach().clone()
    with torch.no_grad():
        net[0].weight.add_(2.0)
    net(torch.randn(4, 3))
    again.update(net)  # averaged (a resumed average is not copied over): 0.5 w + 0.5 (w + 2)
    assert torch.allclose(again.shadow["0.weight"], w + 1.0)
    assert again.shadow["1.num_batches_tracked"].item() == 2  # a count is copied, not averaged


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.type=adamm", "optim.type must be one of"),
        ("+optim.momentun=0.9", "does not take ['momentun']"),
        ("sched={'type': 'cosin'}", "sched.type must be onecycle, cosine, multistep or None, got 'cosin'"),
        ("sched={'type': 'cosine', 'warmup': 5}", "sched: cosine does not take ['warmup']"),
        ("sched={'type': 'multistep'}", "sched: multistep needs milestones (iterations) or milestone_epochs"),
    ],
)
def test_optimiser_and_schedule_typos_stop_the_trainer_before_data(tmp_path, monkeypatch, override, message):
    from pathlib import Path

    from tasks.hsi.task import HSITask
    from toolkit.config import load_config
    from toolkit.engine import Trainer

    def no_data(self, split):
        raise AssertionError(f"the {split} data was built before the typo was reported")

    monkeypatch.setattr(HSITask, "build_dataset", no_data)
    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "tasks/hsi/hybridsn_tiny.py", [override])
    with pytest.raises(ConfigError) as info:
        Trainer(cfg, work_dir=tmp_path)
    assert message in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing written
