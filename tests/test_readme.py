"""The commands of the README's ``bash`` code blocks work as written.

How the commands are found: every fenced ``bash`` block of README.md is split into commands (shell
comments dropped, ``\\`` continuations joined, ``&&`` chains split) with :mod:`shlex`. Each command is then

- not run, with the reason shown as a pytest skip: ``pip ...`` (installs from the network; the test
  environment has the packages), ``python -m pytest`` (this suite itself), ``torchrun ...`` (several
  processes of full-size SimVP; DDP is tested by ``tests/engine/test_ddp.py``), ``tensorboard`` and
  ``optuna-dashboard`` (web servers that run until stopped), a command naming
  ``../shared`` data that is absent, and any block preceded by ``<!-- test: skip REASON -->``;
- otherwise it must be ``python tools/<tool>.py ...``; any other kind of command fails the test, so a new
  kind of example cannot pass unnoticed.

Placeholders written in capitals (``CFG``, ``RUN/checkpoints/best.pt``, ``PATH``, ``FILE_OR_FOLDER``, ...)
and the example paths of the README (``work_dirs/simvp/20260101_120000/...``, ``other.pt``) get the values of
:data:`PLACEHOLDERS`: CFG is ``tasks/video_pred/simvp_tiny.py``, RUN its newest run of this test (the quick
start trains it first), a choice ``a|b|c`` its first option. A capitalised placeholder without a value fails.

Default run (quick, a few seconds): each command is parsed by its tool's own ``parse_args``; a config it
names is loaded with the command's ``--set`` overrides and its Task built and checked
(``Task.check_components``: model, attention, loss and metric names); ``--task NAME`` is looked up. This is
what breaks first when the README falls behind the code (a renamed flag, a moved config, a stale key).

``-m slow`` (several minutes): every command runs as a subprocess, in README order, from the repository
root, and must exit 0. Outputs go to a temporary folder (``--work-dir``, or ``--out`` where the tool would
write into the repository), and training commands get a budget appended: ``--set train.max_iters=2
train.val_interval=2 train.batch_size=2 train.num_workers=0 eval.max_batches=1 eval.num_workers=0``
(``tools/tune.py``: the train keys for every trial); evaluations score ``--max-batches 2``. Everything else
is as the README writes it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
SHARED = ROOT.parent / "shared"
README = ROOT / "README.md"

# placeholder -> value; {run} / {run2}: the newest / second-newest run of CFG, {tmp}: this test's folder
PLACEHOLDERS = {
    "CFG": "tasks/video_pred/simvp_tiny.py",
    "RUN/checkpoints/best.pt": "{run}/checkpoints/best.pt",
    "PATH": "{run}/checkpoints/best.pt",
    "other.pt": "{run}/checkpoints/best.pt",
    "work_dirs/simvp/20260101_120000/checkpoints/last.pt": "{run}/checkpoints/last.pt",
    "FILE_OR_FOLDER": "{tmp}/clips.npy",  # CFG is a video config: a .npy of clips (written by the fixture)
    "OUT": "{tmp}/predictions.npy",
    "DIR": "{tmp}/explain",
    "RUN_DIR": ["{run}", "{run2}"],  # successive occurrences
    "...": None,  # "and more": dropped
}
BUDGET_TRAIN = [
    "train.max_iters=2",
    "train.val_interval=2",
    "train.batch_size=2",
    "train.num_workers=0",
    "eval.max_batches=1",
    "eval.num_workers=0",
]
_CAPS = re.compile(r"^[A-Z][A-Z_]{1,}$")


@dataclass
class Command:
    block: int  # 1-based index of the bash block in README.md
    line: int  # README line of the block's opening fence
    argv: list[str]
    skip: str | None = None
    id: str = field(default="")


def _blocks() -> list[tuple[int, str, str | None]]:
    """``(line, text, skip reason)`` of every fenced bash block of README.md."""
    lines = README.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            before = next((ln.strip() for ln in reversed(lines[: start - 1]) if ln.strip()), "")
            marker = re.fullmatch(r"<!--\s*test:\s*skip\s+(.+?)\s*-->", before)
            out.append((start, "\n".join(body), marker.group(1) if marker else None))
        i += 1
    return out


def _commands() -> list[Command]:
    commands = []
    for b, (line, text, marker) in enumerate(_blocks(), start=1):
        for logical in text.replace("\\\n", " ").splitlines():
            tokens = shlex.split(logical, comments=True)
            while tokens:
                argv = tokens[: tokens.index("&&")] if "&&" in tokens else tokens
                tokens = tokens[len(argv) + 1 :]
                cmd = Command(b, line, argv, skip=marker or _skip_reason(argv))
                name = Path(argv[1]).stem if argv[0] == "python" and len(argv) > 1 else argv[0]
                cmd.id = f"block{b}-{sum(c.block == b for c in commands) + 1}-{name}"
                commands.append(cmd)
    return commands


def _skip_reason(argv: list[str]) -> str | None:
    if argv[0] == "pip":
        return "pip installs from the network; the test environment has the packages"
    if argv[:3] == ["python", "-m", "pytest"]:
        return "the test suite itself"
    if argv[0] == "torchrun":
        return "several processes of full-size SimVP; DDP is tested by tests/engine/test_ddp.py"
    if argv[0] in ("tensorboard", "optuna-dashboard"):
        return f"{argv[0]} starts a web server that runs until it is stopped"
    if any("../shared" in t for t in argv) and not SHARED.is_dir():
        return "needs ../shared, which is absent"
    return None


COMMANDS = _commands()


def _substitute(argv: list[str], values: dict[str, str]) -> list[str]:
    out, seen = [], {}
    for token in argv:
        if token in PLACEHOLDERS:
            value = PLACEHOLDERS[token]
            if isinstance(value, list):
                value = value[min(seen.setdefault(token, 0), len(value) - 1)]
                seen[token] += 1
            if value is not None:
                out.append(value.format(**values))
            continue
        if "|" in token and not token.startswith("-"):  # a choice written a|b|c: its first option
            token = token.split("|")[0]
        assert not _CAPS.match(token), f"README placeholder {token!r} has no value in tests/test_readme.py"
        out.append(token)
    return out


def _load_tool(name: str):
    sys.path.insert(0, str(TOOLS))
    try:
        spec = importlib.util.spec_from_file_location(f"readme_tool_{name}", TOOLS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(TOOLS))
    return module


def test_the_readme_commands_are_found():
    runnable = [c.argv for c in COMMANDS if c.skip is None]
    assert ["python", "tools/train.py", "tasks/video_pred/simvp_tiny.py"] in runnable  # the quick start
    assert ["python", "tools/eval.py", "--task", "video_pred"] in runnable
    assert len(runnable) >= 15, runnable
    for c in COMMANDS:
        assert c.skip or c.argv[:2] == ["python", f"tools/{Path(c.argv[1]).name}"], (
            f"README.md line {c.line}: {shlex.join(c.argv)} is neither a tools/ command nor a known kind "
            "(pip, pytest, torchrun, tensorboard, optuna-dashboard): run it here or mark its block "
            "<!-- test: skip REASON -->"
        )
    with pytest.raises(AssertionError, match="placeholder 'NEWTHING' has no value"):
        _substitute(["python", "tools/train.py", "NEWTHING"], {})


def _dry_check(argv: list[str], where: str) -> None:
    """Parse ``argv`` with its tool's parser, load its config with its overrides, check the Task's names."""
    from toolkit.config import load_config
    from toolkit.engine.task import build_task, task_class

    tool = Path(argv[1]).stem
    try:
        args = _load_tool(tool).parse_args(argv[2:])
    except SystemExit as exc:  # the tools' parsers print one error line and exit 2
        raise AssertionError(f"{where}: the parser of tools/{tool}.py refused it (exit {exc})") from None
    config = getattr(args, "config", None)
    if isinstance(config, str):
        cfg = load_config(ROOT / config, getattr(args, "set", None) or [])
        if tool != "tune":  # a tune config's trials are checked by tools/tune.py itself
            build_task(cfg).check_components()
    if getattr(args, "task", None):
        task_class(args.task, where="--task")


def test_the_check_catches_stale_commands(capsys):
    from toolkit.errors import ConfigError, RegistryError

    with pytest.raises(AssertionError, match="parser of tools/train.py refused it"):
        _dry_check(["python", "tools/train.py", "tasks/video_pred/simvp_tiny.py", "--resume-from", "x.pt"], "x")
    assert "unrecognized arguments: --resume-from" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="max_itres"):
        _dry_check(["python", "tools/train.py", "tasks/video_pred/simvp_tiny.py", "--set", "train.max_itres=2"], "x")
    with pytest.raises(RegistryError, match="cbma"):
        _dry_check(["python", "tools/train.py", "tasks/video_pred/simvp.py", "--set", "model.attn.type=cbma"], "x")
    with pytest.raises(ConfigError, match="moved.py|not found|No such"):
        _dry_check(["python", "tools/eval.py", "tasks/video_pred/moved.py", "--checkpoint", "x.pt"], "x")


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.id for c in COMMANDS])
def test_readme_command_is_well_formed(cmd: Command, tmp_path):
    """Parsed by its tool; its config loads with its overrides and its registry names exist (no training)."""
    if cmd.skip:
        pytest.skip(cmd.skip)
    argv = _substitute(cmd.argv, {"run": str(tmp_path / "RUN"), "run2": str(tmp_path / "RUN2"), "tmp": tmp_path})
    _dry_check(argv, f"README.md line {cmd.line}: {shlex.join(cmd.argv)}")


@pytest.fixture(scope="module")
def readme_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("readme")
    clips = np.random.default_rng(0).random((2, 5, 32, 32), dtype=np.float32)  # (N, T, H, W) for CFG's infer
    np.save(tmp / "clips.npy", clips)
    return tmp


def _budget(argv: list[str], tmp: Path) -> list[str]:
    tool = Path(argv[1]).stem
    extra: list[str] = []
    if tool in ("train", "eval", "tune") and "--work-dir" not in argv:
        extra += ["--work-dir", str(tmp / "work")]
    if tool == "train":
        extra += ["--set", *BUDGET_TRAIN]
    if tool == "tune":
        extra += ["--set", *[s for s in BUDGET_TRAIN if s.startswith("train.")]]
    if tool == "eval":
        extra += ["--max-batches", "2", "--set", "eval.num_workers=0"]
    if tool == "compare" and "--out" not in argv:
        extra += ["--out", str(tmp / "compare")]
    return argv + extra


def _runs(tmp: Path) -> list[Path]:
    stem = Path(PLACEHOLDERS["CFG"]).stem
    runs = [p.parent.parent for p in (tmp / "work" / stem).glob("*/checkpoints/best.pt")]
    return sorted(runs, key=lambda p: (p / "checkpoints" / "best.pt").stat().st_mtime, reverse=True)


@pytest.mark.slow
@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.id for c in COMMANDS])
def test_readme_command_runs(cmd: Command, readme_dir: Path):
    """The command, with outputs in a temporary folder and a 2-iteration budget, exits 0."""
    if cmd.skip:
        pytest.skip(cmd.skip)
    runs = _runs(readme_dir)
    values = {"run": runs[0] if runs else "NO_RUN_YET", "tmp": readme_dir}
    values["run2"] = runs[1] if len(runs) > 1 else values["run"]
    argv = _budget(_substitute(cmd.argv, values), readme_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (
        f"README.md line {cmd.line}: {shlex.join(cmd.argv)}\nran as: {shlex.join(argv)}\n"
        f"exit {done.returncode}\n{(done.stdout + done.stderr)[-3000:]}"
    )
