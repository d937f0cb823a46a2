"""CAMixerSR: published sizes, the authors' released weights (strict load, Set5 score), the ratio loss."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tasks.restoration.models.camixersr import CAMixerSR
from toolkit.config import load_config
from toolkit.engine import build_task
from toolkit.engine.checkpoint import load_weights
from toolkit.errors import CheckpointError

ROOT = Path(__file__).resolve().parents[3]
RELEASED = "weights/camixersr/CAMixerSR_S.pth"
CONFIG = ROOT / "tasks/restoration/camixersr_x4.py"


def _n(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture
def released(shared_dir) -> Path:
    path = shared_dir / RELEASED
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path


def test_published_parameter_counts():
    assert _n(CAMixerSR(channels=36)) == 351_238  # the released large-image S model (tested below against the file)
    assert _n(CAMixerSR(channels=60)) == 765_322  # the lightweight model: "765K" in the paper's tables


def test_released_file_is_this_model_and_loads_strictly(released):
    state = torch.load(released, weights_only=True)
    assert sum(t.numel() for t in state["params_ema"].values()) == _n(CAMixerSR(channels=36))
    model = CAMixerSR(channels=36)
    report = load_weights(model, released)  # strict: raises on any missing, unexpected or reshaped tensor
    assert (report.source, report.mapping) == ("params_ema", "CAMixerSR.from_release")
    assert report.loaded == report.total == len(state["params_ema"]) == 718
    mapped = CAMixerSR.from_release(state["params_ema"])
    assert all(torch.equal(model.state_dict()[k], v) for k, v in mapped.items())
    other = CAMixerSR(channels=36)
    assert load_weights(other, released, key="params").source == "params"
    w = "groups.0.blocks.0.mixer.proj_q.weight"
    assert torch.equal(other.state_dict()[w], state["params"]["body.0.body.0.mixer.project_q.weight"])
    assert not torch.equal(other.state_dict()[w], model.state_dict()[w])  # the EMA differs from the last weights


def test_a_name_no_rule_maps_is_one_line(tmp_path, monkeypatch, capsys):
    weights = {"head.weight": torch.zeros(36, 3, 3, 3), "body.0.body.0.mixer.qkv.weight": torch.zeros(3)}
    with pytest.raises(CheckpointError, match=r"has no rule for the key 'body.0.body.0.mixer.qkv.weight'"):
        load_weights(CAMixerSR(channels=36), tmp_path / "x.pth", state={"params_ema": weights})
    torch.save({"params": weights}, tmp_path / "odd.pth")
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    argv = ["tools/eval.py", str(CONFIG), "--checkpoint", str(tmp_path / "odd.pth"), "--out", str(tmp_path / "e")]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "tools/eval.py"), run_name="__main__")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "odd.pth (params): CAMixerSR.from_release has no rule for the key 'body.0.body.0.mixer.qkv.weight'" in err
    with pytest.raises(CheckpointError, match=r"no weights under 'params_ema'; entries holding weights: \['params'\]"):
        load_weights(CAMixerSR(channels=36), tmp_path / "odd.pth", key="params_ema")


@pytest.mark.slow
def test_load_from_released_weights_is_strict_and_reported(released, tmp_path):
    """tools/train.py --load-from with released weights (a Trainer: about 5 s, mostly its run-folder setup)."""
    from toolkit.engine import Trainer
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError, match="--weights-key and --load-partial apply to --load-from"):
        Trainer(load_config(CONFIG), work_dir=tmp_path, weights_key="params")
    wide = CAMixerSR(channels=60)
    with pytest.raises(CheckpointError, match=r"\(params_ema, names mapped by CAMixerSR.from_release\): shape mis"):
        load_weights(wide, released)  # --load-from is strict for released weights, as evaluation
    cfg = load_config(CONFIG, ["model.channels=60", "train.batch_size=2", "data.repeat=1"])
    trainer = Trainer(cfg, work_dir=tmp_path, load_from=str(released), weights_key="params", load_partial=True)
    mapped = CAMixerSR.from_release(torch.load(released, weights_only=True)["params"])
    same = sum(v.shape == wide.state_dict()[k].shape for k, v in mapped.items())  # shapes that do not grow with C
    line = f"loaded {same} of 718 tensors from {released} (params, names mapped by CAMixerSR.from_release)"
    assert 0 < same < 718 and line in (trainer.run_dir / "log.txt").read_text()


def test_strict_load_names_what_is_missing(tmp_path):
    full = {k: v for k, v in CAMixerSR(channels=8, num_blocks=[1]).state_dict().items()}
    del full["body_conv.bias"]
    with pytest.raises(CheckpointError, match=r"does not match this model \(bare; .*1 missing \['body_conv.bias'\]"):
        load_weights(CAMixerSR(channels=8, num_blocks=[1]), tmp_path / "own.pth", state=full)


def _routing(share: float):
    """A stand-in for the Gumbel draw: the first ``share`` of every image's windows go to attention."""

    def draw(logits, hard, dim):
        n = logits.shape[1]
        first = (torch.arange(n) < round(share * n)).float()[None].expand(logits.shape[0], n)
        return torch.stack([first, 1 - first], dim=-1) + logits - logits.detach()

    return draw


@pytest.mark.parametrize("share, expected", [(1.0, 0.25), (0.0, 0.25), (0.5, 0.0), (0.25, 0.0625)])
def test_ratio_loss_and_the_task_adds_it(share, expected, monkeypatch):
    torch.manual_seed(0)
    model = CAMixerSR(channels=8, num_blocks=[1, 1], window=8, ratio=0.5).train()
    monkeypatch.setattr(F, "gumbel_softmax", _routing(share))
    x = torch.rand(2, 3, 16, 16)  # four 8x8 windows per image
    pred, aux = model(x, return_aux=True)
    assert pred.shape == (2, 3, 64, 64)
    # 2 ratio (share - 1/2)^2 with ratio 1/2: (share - 1/2)^2
    torch.testing.assert_close(aux["ratio"], torch.tensor(expected))
    task = build_task(load_config(ROOT / "tasks/restoration/camixersr_tiny.py"))
    out = task.train_step(model, {"input": x, "target": torch.rand(2, 3, 64, 64)}, task.build_loss())
    torch.testing.assert_close(out["loss_aux"], torch.tensor(expected))
    torch.testing.assert_close(out["loss"], out["loss_l1"] + expected)
    assert model.eval()(x, return_aux=True)[1] == {}  # no ratio loss at inference


def test_inference_is_deterministic_and_per_image():
    torch.manual_seed(0)
    model = CAMixerSR(channels=8, num_blocks=[2], window=8).eval()
    x = torch.rand(3, 3, 21, 30)  # padded to 24 x 32 inside, cropped back
    with torch.no_grad():
        y = model(x)
        assert y.shape == (3, 3, 84, 120)
        torch.testing.assert_close(model(x), y, rtol=0, atol=0)
        torch.testing.assert_close(model(x[1:2]), y[1:2], atol=1e-6, rtol=0)  # batch-mates do not matter


@pytest.mark.slow
def test_released_weights_on_set5_through_tools_eval(released, shared_dir, tmp_path, monkeypatch, capsys):
    """The proof command of docs/restoration.md: Y-PSNR / SSIM of the released S model, border 4."""
    set5 = shared_dir / "data/restoration/Set5"
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    argv = ["tools/eval.py", str(CONFIG), "--checkpoint", str(released), "--work-dir", str(tmp_path), "--set",
            f"data.test.gt={set5 / 'HR'}", f"data.test.lq={set5 / 'LR_bicubic/X4'}"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "tools/eval.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "loaded 718 of 718 tensors" in out and "0 missing; 0 unexpected; 0 with other shapes" in out
    record = json.loads(next(tmp_path.glob("camixersr_x4/eval_test_*/metrics.json")).read_text())
    metrics = record["metrics"]
    assert record["samples"] == 5
    # measured with this code (docs/results.md); the released code's own test-time routing is random:
    # five draws gave 32.2824 +- 0.0045 dB
    assert abs(metrics["psnr_y"] - 32.2790) < 2e-3 and abs(metrics["ssim_y"] - 0.8960) < 1e-3
    assert metrics["psnr_y"] - metrics["bicubic_psnr_y"] > 3.8  # bicubic: 28.4290
