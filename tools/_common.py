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


def run_main(main) -> None:
    """Call ``main()``; user mistakes (ToolkitError) and refused file operations (OSError) print one line and
    exit 2, Ctrl-C exits 130."""
    from toolkit.errors import ToolkitError

    try:
        code = main()
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # the file system said no (read-only folder, a file where a folder should be, full disk)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
