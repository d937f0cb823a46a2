"""Shared command-line plumbing for the tools: repository path, the ``--set`` option, error reporting."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python tools/x.py` from anywhere
    sys.path.insert(0, str(ROOT))


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
