"""Trainer behaviour on a tiny SimVP: resume equivalence, atomic checkpoints, NaN stop, load-from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from toolkit.config import load_config
from toolkit.engine import Trainer, TrainingDiverged, load_for_eval
from toolkit.engine.checkpoint import load_checkpoint, save_checkpoint
from toolkit.errors import CheckpointError, ConfigError, DeviceError

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "data.input_frames=2",
    "data.output_frames=2",
    "data.image_size=16",
    "data.digit_size=7",
    "data.splits.train.num_clips=32",
    "data.splits.val.num_clips=5",
    "data.splits.test.num_clips=5",
    "model.hid_S=4",
    "model.hid_T=8",
    "model.N_T=2",
    "model.translator=gsta",  # drop path consumes the RNG: resume must restore it
    "+model.drop_path=0.2",
    "+model.mlp_ratio=2.0",
    "train.batch_size=4",
    "train.max_iters=4",
    "train.val_interval=2",
    "train.log_interval=1",
    "eval.batch_size=2",
    "train.amp=None",  # simvp_tiny's own 'auto' is bf16 on some CPUs; these tests compare fp32 runs
]


def tiny_cfg(*extra: str):
    return load_config(ROOT / "tasks/video_pred/simvp_tiny.py", [*TINY, *extra])


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def interrupt_after(trainer: Trainer, steps: int) -> None:
    """Train until ``steps`` training steps have run, then stop as a Ctrl-C would."""
    calls = {"n": 0}
    step = trainer.task.train_step

    def stop_after(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > steps:
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    trainer.task.train_step = stop_after
    with pytest.raises(KeyboardInterrupt):
        trainer.train()


def test_resume_equals_uninterrupted_run(tmp_path):
    straight = Trainer(tiny_cfg(), work_dir=tmp_path / "a")
    straight.train()
    expected = weights(straight.model)

    interrupted = Trainer(tiny_cfg(), work_dir=tmp_path / "b")
    interrupt_after(interrupted, 2)
    assert load_checkpoint(interrupted.run_dir / "checkpoints" / "last.pt")["iter"] == 2

    resumed = Trainer(tiny_cfg(), work_dir=tmp_path / "b", resume="auto")
    assert resumed.run_dir == interrupted.run_dir and resumed.iter == 2
    resumed.train()
    got = weights(resumed.model)
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key
    records = [json.loads(line) for line in (resumed.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records if r["split"] == "val"] == [2, 4]  # one log, continued in place
    assert (resumed.run_dir / "checkpoints" / "best.pt").exists()


def test_interrupted_checkpoint_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"iter": 1, "w": torch.ones(3)}, path)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"iter": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    state = load_checkpoint(path)
    assert state["iter"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind


def test_nan_loss_stops_with_iteration_and_keeps_last_good_checkpoint(tmp_path):
    trainer = Trainer(tiny_cfg("train.max_iters=6"), work_dir=tmp_path)
    step = trainer.task.train_step
    calls = {"n": 0}

    def nan_at_three(*args, **kwargs):
        calls["n"] += 1
        out = step(*args, **kwargs)
        if calls["n"] == 3:
            out["loss"] = out["loss"] * float("nan")
        return out

    trainer.task.train_step = nan_at_three
    with pytest.raises(TrainingDiverged, match="loss is nan at iteration 3"):
        trainer.train()
    state = load_checkpoint(trainer.run_dir / "checkpoints" / "last.pt")
    assert state["iter"] == 2


def test_load_from_reports_keys_and_wrong_model_is_a_clear_error(tmp_path):
    first = Trainer(tiny_cfg("train.max_iters=2"), work_dir=tmp_path)
    first.train()
    best = first.run_dir / "checkpoints" / "best.pt"

    warm = Trainer(tiny_cfg(), work_dir=tmp_path / "warm", load_from=str(best))
    for key, value in first.model.state_dict().items():
        assert torch.equal(warm.model.state_dict()[key], value)

    # a wider model: --load-from loads what fits and reports the rest; evaluation refuses
    wider = Trainer(tiny_cfg("model.hid_S=8", "model.hid_T=16"), work_dir=tmp_path / "wide", load_from=str(best))
    log = (wider.run_dir / "log.txt").read_text()
    assert "0 missing keys" in log and "0 unexpected keys" in log
    assert "keys with other shapes (kept initialised) ['encoder.layers.0.conv.weight'" in log
    with pytest.raises(CheckpointError, match="does not match this model.*shape mismatch"):
        load_for_eval(tiny_cfg("model.hid_S=8", "model.hid_T=16"), best)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_for_eval(tiny_cfg(), tmp_path / "nope.pt")
    (tmp_path / "corrupt.pt").write_bytes(best.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_for_eval(tiny_cfg(), tmp_path / "corrupt.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only messages")
def test_gpu_only_settings_on_cpu_are_clear_errors(tmp_path):
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        Trainer(tiny_cfg("device=cuda"), work_dir=tmp_path)
    with pytest.raises(DeviceError, match="fp16.*needs a CUDA GPU"):
        Trainer(tiny_cfg("train.amp=fp16"), work_dir=tmp_path)


def test_run_folder_contents(tmp_path):
    trainer = Trainer(tiny_cfg("train.max_iters=2"), work_dir=tmp_path, argv=["tools/train.py", "x.py"])
    trainer.train()
    run = trainer.run_dir
    assert run.parent == tmp_path / "simvp_tiny"
    for name in (
        "config.py",
        "config.json",
        "cmd.txt",
        "env.txt",
        "log.txt",
        "metrics.jsonl",
        "checkpoints/last.pt",
        "checkpoints/best.pt",
    ):
        assert (run / name).exists(), name
    assert list((run / "tb").iterdir()), "no TensorBoard events"
    assert list((run / "vis").glob("val_iter0000002_sample0.png"))
    from PIL import Image

    gif = Image.open(run / "vis" / "val_iter0000002_sample0_anim.gif")
    assert gif.n_frames == 4  # 2 input + 2 predicted frames
    assert min(gif.size) >= 256 and min(Image.open(run / "vis" / "val_iter0000002_sample0.png").size) >= 256
    assert "'in_shape': (2, 1, 16, 16)" in (run / "config.py").read_text()  # filled in from the data
    assert "torch: " in (run / "env.txt").read_text()
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in state["model"])


def test_bf16_autocast_and_grad_clip_run_on_cpu(tmp_path):
    trainer = Trainer(tiny_cfg("train.max_iters=2", "train.amp=bf16", "train.grad_clip=0.5"), work_dir=tmp_path)
    results = trainer.train()
    assert torch.isfinite(torch.tensor(results["mse"]))


def test_early_stop_and_best_checkpoint_follow_the_primary_metric(tmp_path):
    trainer = Trainer(
        tiny_cfg("train.max_iters=20", "train.val_interval=1", "+train.early_stop.patience=2"), work_dir=tmp_path
    )
    values = iter([5.0, 3.0, 4.0, 3.5, 1.0])
    trainer.validate = lambda: {"mse": next(values)}  # MSE: lower is better
    trainer.train()
    assert trainer.iter == 4  # 3.0 at iteration 2, then two validations without improvement
    assert trainer.best == 3.0
    assert load_checkpoint(trainer.run_dir / "checkpoints" / "best.pt")["iter"] == 2
    assert load_checkpoint(trainer.run_dir / "checkpoints" / "last.pt")["iter"] == 4


def test_ema_weights_are_saved_and_evaluated(tmp_path):
    trainer = Trainer(tiny_cfg("train.max_iters=2", "+train.ema.decay=0.5"), work_dir=tmp_path)
    trainer.train()
    state = load_checkpoint(trainer.run_dir / "checkpoints" / "last.pt")
    assert state["ema"] is not None
    key = "encoder.layers.0.conv.weight"
    assert not torch.equal(state["ema"][key], state["model"][key])
    _, _, model = load_for_eval(tiny_cfg("+train.ema.decay=0.5"), trainer.run_dir / "checkpoints" / "last.pt")
    assert torch.equal(model.state_dict()[key], state["ema"][key])  # evaluation uses EMA weights


@pytest.mark.slow
def test_compiled_training_matches_eager_and_saves_plain_keys(tmp_path):
    # opt-in (-m slow): torch.compile builds kernels with the C compiler, about half a minute on a CPU
    eager = Trainer(tiny_cfg("model.drop_path=0.0"), work_dir=tmp_path / "e")
    eager.train()
    compiled = Trainer(tiny_cfg("model.drop_path=0.0", "train.compile=True"), work_dir=tmp_path / "c")
    compiled.train()
    a, b = weights(eager.model), weights(compiled.model)
    assert a.keys() == b.keys() and not any("_orig_mod" in k for k in b)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)
    saved = load_checkpoint(compiled.run_dir / "checkpoints" / "last.pt")
    assert set(saved["model"]) == set(a)


def test_a_partial_validation_says_so_in_the_log(tmp_path):
    trainer = Trainer(tiny_cfg("train.max_iters=2", "eval.max_batches=1"), work_dir=tmp_path)  # 5 clips, batch 2
    trainer.train()
    lines = [line for line in (trainer.run_dir / "log.txt").read_text().splitlines() if " val: " in line]
    assert lines and all(line.endswith("(partial: 1 of 3 batches)") for line in lines)


def test_trainer_saves_the_resolved_setting(tmp_path, monkeypatch):
    from toolkit.engine import dist

    monkeypatch.setattr(dist, "native_bf16", lambda device: "AVX512-BF16")
    trainer = Trainer(tiny_cfg("train.max_iters=1", "train.amp=auto"), work_dir=tmp_path)
    assert trainer.cfg.train.amp == "bf16" and trainer.amp_dtype == torch.bfloat16
    monkeypatch.setattr(dist, "native_bf16", lambda device: None)
    trainer = Trainer(tiny_cfg("train.max_iters=1", "train.amp=auto"), work_dir=tmp_path)
    assert trainer.cfg.train.amp is None and trainer.amp_dtype is None


def test_drop_last_false_trains_the_incomplete_batch_and_resumes_exactly(tmp_path):
    # 30 clips at batch 4: 7 full batches and one of 2 per epoch; 12 iterations cross the partial batch
    sets = ["data.splits.train.num_clips=30", "train.drop_last=False", "train.max_iters=12", "train.val_interval=4"]
    straight = Trainer(tiny_cfg(*sets), work_dir=tmp_path / "a")
    assert straight.batches_per_epoch == 8 and straight.iters_per_epoch == 8
    sizes = []
    step = straight.task.train_step

    def record(model, batch, loss_fn):
        sizes.append(len(batch["input"]))
        return step(model, batch, loss_fn)

    straight.task.train_step = record
    straight.train()
    assert sizes == [4] * 7 + [2] + [4] * 4
    expected = weights(straight.model)

    interrupted = Trainer(tiny_cfg(*sets), work_dir=tmp_path / "b")
    interrupt_after(interrupted, 5)
    resumed = Trainer(tiny_cfg(*sets), work_dir=tmp_path / "b", resume="auto")
    assert resumed.iter == 4
    resumed.train()
    got = weights(resumed.model)
    for key in expected:
        assert torch.equal(got[key], expected[key]), key

    # one sample left over is still dropped (train-mode BatchNorm cannot normalise one pooled value)
    assert (
        Trainer(
            tiny_cfg("data.splits.train.num_clips=29", "train.drop_last=False"), work_dir=tmp_path / "c"
        ).batches_per_epoch
        == 7
    )
    assert Trainer(tiny_cfg("data.splits.train.num_clips=30"), work_dir=tmp_path / "d").batches_per_epoch == 7
    with pytest.raises(ConfigError, match="train.drop_last"):  # the override check, before the Trainer's own
        Trainer(tiny_cfg("train.drop_last=1"), work_dir=tmp_path / "e")
