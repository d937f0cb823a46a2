"""Shared command-line plumbing for the tools: repository path, the ``--set`` option, error reporting."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python tools/x.py` from anywhere
    sys.path.insert(0, str(ROOT))


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the tools' one-line errors: ``error: <what argparse found> (see <tool> --help)``, exit 2.

    (argparse's own ``error`` prints the whole usage block before its message.)
    """

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def task_modules() -> list[str]:
    """Every task package this installation knows, found rather than listed.

    The packages under ``tasks/`` of this repository, and plug-ins installed elsewhere that declare
    themselves under the entry-point group ``dense_toolkit.tasks`` (``change_detection =
    mylab.tasks.change_detection`` in their package metadata). A config can name any importable
    task package (``task = "mylab.tasks.change_detection"``) whether or not it is declared here.
    """
    import pkgutil
    from importlib.metadata import entry_points

    import tasks

    found = [f"tasks.{m.name}" for m in pkgutil.iter_modules(tasks.__path__) if m.ispkg]
    found += [ep.value for ep in entry_points(group="dense_toolkit.tasks")]
    return sorted(dict.fromkeys(found))


def add_set_option(parser, help: str = "config overrides: a.b.0.c=value (prefix + to add a key)") -> None:
    """``--set KEY=VALUE ...``: config overrides, repeatable; collected in ``args.set``."""
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", action="extend", help=help)


def error_message(exc: BaseException) -> str:
    """The message of ``exc``; for an error re-raised from a DataLoader worker, the original error's message.

    PyTorch re-raises a worker's exception in the main process as the same type holding "Caught X in DataLoader
    worker process N. Original Traceback ..." and the whole worker traceback; the message the error was raised
    with is the text after the traceback's last line that names the type, as without workers.
    """
    text = str(exc)
    if not text.startswith("Caught ") or "\nOriginal Traceback (most recent call last):" not in text:
        return text
    kind = type(exc)
    for name in (f"{kind.__module__}.{kind.__qualname__}", kind.__qualname__):
        at = text.rfind(f"\n{name}: ")
        if at >= 0:
            return text[at + len(name) + 3 :].strip()
        if text.rstrip().endswith(f"\n{name}"):  # raised without a message
            return ""
    return text.strip().splitlines()[-1]


def run_main(main) -> None:
    """Call ``main()``; user mistakes (ToolkitError) and refused file operations (OSError) print one line and
    exit 2, also when raised inside a DataLoader worker; Ctrl-C exits 130."""
    from toolkit.errors import ToolkitError

    try:
        code = main()
    except ToolkitError as exc:
        print(f"error: {error_message(exc)}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # the file system said no (read-only folder, a file where a folder should be, full disk)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or error_message(exc)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def write_hparams(log_dir, hparams: dict, metrics: dict, domains: dict | None = None) -> None:
    """One TensorBoard HParams session in ``log_dir``: a run's hyper-parameters and the metrics it reached.

    ``tensorboard --logdir PARENT`` then lists every such folder below ``PARENT`` as a row of its HParams
    dashboard. Values TensorBoard cannot hold (``None``, lists) are written as their text; metrics that are
    ``None`` (a run without a value) are left out. ``domains``: the values a categorical key may take.
    """
    import json

    from torch.utils.tensorboard import SummaryWriter

    def plain(v):
        return v if isinstance(v, (bool, int, float, str)) else (str(v) if v is None else json.dumps(v))

    hp = {k: plain(v) for k, v in hparams.items()}
    values = {k: float(v) for k, v in metrics.items() if v is not None}
    discrete = {}
    for k, choices in (domains or {}).items():  # TensorBoard wants one type per key, the value's
        mapped = [plain(c) for c in choices]
        if k in hp and all(type(c) is type(hp[k]) for c in mapped):
            discrete[k] = mapped
    with SummaryWriter(str(log_dir)) as writer:
        # run_name "." puts the session in log_dir itself rather than in a sub-folder named by the time
        writer.add_hparams(hp, values, hparam_domain_discrete=discrete or None, run_name=".")
