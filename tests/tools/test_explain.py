"""tools/explain.py on the plug-in toy task, and every task's explained scalar on stand-in models with known outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from toolkit.config import load_config
from toolkit.engine import Trainer, build_task, load_for_eval
from toolkit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
PLUGINS = ROOT / "tests" / "plugins"
TOY = PLUGINS / "toy_denoise.py"
SHORT = ["train.max_iters=2", "train.val_interval=2", "train.log_interval=1"]


@pytest.fixture(scope="module")
def toy_checkpoint(explain, tmp_path_factory) -> Path:
    trainer = Trainer(load_config(TOY, SHORT), work_dir=tmp_path_factory.mktemp("runs"), argv=["test"])
    trainer.train()
    return trainer.run_dir / "checkpoints" / "best.pt"


def _sample0(checkpoint: Path):
    """The toy model (trained weights) and test sample 0 as a batch of one, loaded independently of the tool."""
    _, dataset, model = load_for_eval(load_config(TOY), checkpoint, "test")
    return model, dataset[0]["input"][None]  # (1, 2, 8, 8)


def test_gradcam_page_and_values(explain, toy_checkpoint, tmp_path):
    out = tmp_path / "gradcam"
    args = [str(TOY), "--checkpoint", str(toy_checkpoint), "--method", "gradcam", "--layer", "conv", "--out", str(out)]
    assert explain.main(args) == 0
    record = json.loads((out / "explain.json").read_text())
    model, x = _sample0(toy_checkpoint)
    with torch.no_grad():
        total = float(model(x).sum())  # the base Task's target: the output summed
        # d(sum of x + conv(x)) / d conv(x) = 1 for every channel and pixel: Grad-CAM = ReLU(sum of the channels)
        cam = model.conv(x)[0].sum(0).clamp_min(0)
    (sample,) = record["samples"]
    assert sample["explained"] == [f"sum of the model output: {total:.4g}"]
    assert sample["layers"]["conv"]["peak"] == pytest.approx(float(cam.max()), rel=1e-5)
    page = (out / "index.html").read_text()
    for fig in sample["figures"]:  # the input, the toy task draws no prediction picture, and the map
        assert f"src='{fig['file']}'" in page
        assert min(Image.open(out / fig["file"]).size) >= 256  # 8 px up-scaled by 32
    assert [f["file"] for f in sample["figures"]] == ["sample0_input.png", "sample0_gradcam_conv.png"]


def test_activations_are_saved_raw(explain, toy_checkpoint, tmp_path):
    out = tmp_path / "acts"
    args = [str(TOY), "--checkpoint", str(toy_checkpoint), "--method", "activations", "--layer", "conv", "--top-k", "2"]
    assert explain.main([*args, "--out", str(out), "--tb"]) == 0
    model, x = _sample0(toy_checkpoint)
    with torch.no_grad():
        expected = model.conv(x).numpy()
    saved = np.load(out / "sample0_activations.npz")
    assert list(saved.files) == ["conv"]
    np.testing.assert_allclose(saved["conv"], expected, rtol=1e-6)
    assert json.loads((out / "explain.json").read_text())["samples"][0]["layers"]["conv"]["shape"] == [1, 2, 8, 8]
    assert (out / "sample0_activations_conv_channels.png").is_file() and any((out / "tb").iterdir())


def test_bad_choices_are_one_error_line(explain, toy_checkpoint, tmp_path):
    base = [str(TOY), "--checkpoint", str(toy_checkpoint), "--out", str(tmp_path)]
    with pytest.raises(
        ConfigError, match=r"--layer 'cnv': ToyDenoiser has no module at that path; close matches: conv"
    ):
        explain.main([*base, "--method", "gradcam", "--layer", "cnv"])
    with pytest.raises(ConfigError, match="--target-class has no effect with --method activations"):
        explain.main([*base, "--method", "activations", "--layer", "conv", "--target-class", "1"])
    with pytest.raises(ConfigError, match="no classes"):  # the base Task: nothing to choose
        explain.main([*base, "--method", "gradcam", "--layer", "conv", "--target-class", "1"])
    with pytest.raises(ConfigError, match="names no default layer"):  # the toy model has no attention slot
        explain.main([*base, "--method", "gradcam"])
    assert explain.parse_index("1..3", 64, "test") == [1, 2, 3]
    with pytest.raises(Exception, match="split 'test' has 64 samples"):
        explain.parse_index("60..64", 64, "test")


# --------------------------------------------------------------------------- the scalar each task explains


class Fixed(nn.Module):
    """A stand-in model: ``fn(x)``."""

    size_multiple = 1

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def test_sirst_sums_the_logits_of_the_predicted_region():
    task = build_task(load_config(ROOT / "tasks" / "sirst" / "dnanet_tiny.py"))
    logits = torch.full((2, 1, 4, 4), -3.0)
    logits[0, 0, 1, 1], logits[0, 0, 2, 3] = 2.0, 1.0  # two pixels with prob > 0.5
    logits[1, 0, 3, 0] = -0.5  # none above the threshold: its highest logit stands in
    value, lines = task.explain_target(Fixed(lambda x: x), logits, {})
    assert value.tolist() == [3.0, -0.5]
    assert "2 predicted target pixels" in lines[0] and "the highest-logit pixel" in lines[1]


def test_restoration_measures_the_residual_over_the_input():
    task = build_task(load_config(ROOT / "tasks" / "restoration" / "restormer_tiny.py"))  # same size: scale 1
    x = torch.rand(2, 3, 8, 8)
    value, _ = task.explain_target(Fixed(lambda x: x + 0.1), x, {})
    assert value.tolist() == pytest.approx([0.01, 0.01], rel=1e-5)  # mean of 0.1 ** 2


def test_video_sums_the_last_predicted_frame():
    task = build_task(load_config(ROOT / "tasks" / "video_pred" / "simvp_tiny.py"))
    x = torch.rand(1, 5, 1, 4, 4)
    value, _ = task.explain_target(Fixed(lambda x: 2 * x), x, {})
    assert value.item() == pytest.approx(2 * x[0, -1].sum().item(), rel=1e-6)


def test_hsi_explains_the_predicted_or_the_chosen_class():
    task = build_task(load_config(ROOT / "tasks" / "hsi" / "hybridsn_tiny.py"))
    model = Fixed(lambda x: torch.tensor([[0.5, 2.0, -1.0]]).expand(len(x), -1))
    value, lines = task.explain_target(model, torch.zeros(1, 1, 15, 11, 11), {})
    assert value.tolist() == [2.0] and lines == ["logit of class 2 (predicted): 2"]
    value, lines = task.explain_target(model, torch.zeros(1, 1, 15, 11, 11), {}, target_class=3)
    assert value.tolist() == [-1.0] and lines == ["logit of class 3 (predicted: class 2): -1"]
    with pytest.raises(ConfigError, match="--target-class 4: the model has classes 1..3"):
        task.explain_target(model, torch.zeros(1, 1, 15, 11, 11), {}, target_class=4)
