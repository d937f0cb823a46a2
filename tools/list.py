"""List what the registries hold.

    python tools/list.py                 # every registry with its entries
    python tools/list.py models          # one registry (case-insensitive), with a line per entry
    python tools/list.py attention       # the attention table: paper, parameters, FLOPs, odd-size check
        [--channels 64 --size 32]        # reference size of the attention table

Every task package (those under tasks/ and installed plug-ins, see ``_common.task_modules``) is imported
first so that MODELS, DATASETS and TASKS are complete; a task package that fails to import is reported
on stderr and skipped.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import warnings

import _common  # also puts the repository on sys.path


def import_everything() -> list[str]:
    """Import the toolkit's registering packages and every task package present; return the skipped ones."""
    for mod in ("toolkit.modules.attention", "toolkit.modules.backbones", "toolkit.losses", "toolkit.metrics"):
        importlib.import_module(mod)
    skipped = []
    for name in _common.task_modules():
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken task must not hide the others
            skipped.append(f"{name}: {type(exc).__name__}: {exc}")
    return skipped


def registries() -> dict:
    from toolkit import registry

    return {name.lower(): getattr(registry, name) for name in registry.__all__ if name != "Registry"}


def summary(obj) -> str:
    """One line describing a registry entry: its ``paper`` attribute or the first docstring line."""
    paper = getattr(obj, "paper", None)
    if isinstance(paper, str) and paper:
        return paper
    doc = inspect.getdoc(obj) or inspect.getdoc(sys.modules.get(obj.__module__)) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def attention_rows(channels: int, size: int) -> list[dict]:
    """Parameters, FLOPs at (1, channels, size, size) and an odd-size shape check for every attention entry."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from toolkit.modules.attention import ATTENTION, build_attention

    rows = []
    for name, cls in ATTENTION.items():
        row = dict(name=name, paper=summary(cls), params="-", flops="-", odd="-")
        try:
            torch.manual_seed(0)
            block = build_attention(name, channels).eval()
            row["params"] = sum(p.numel() for p in block.parameters())
            with torch.no_grad():
                counter = FlopCounterMode(display=False)
                with counter:
                    block(torch.randn(1, channels, size, size))
                row["flops"] = counter.get_total_flops()
                odd = []
                for shape in ((1, channels, 7, 9), (1, channels, 1, 1), (2, channels, size + 1, size - 3)):
                    y = block(torch.randn(shape))
                    odd.append(tuple(y.shape) == shape and bool(torch.isfinite(y).all()))
            row["odd"] = "yes" if all(odd) else "NO"
        except Exception as exc:  # show a broken entry in the table instead of stopping the listing
            row["odd"] = f"error: {type(exc).__name__}: {exc}"
        rows.append(row)
    return rows


def _fmt_count(n) -> str:
    if not isinstance(n, (int, float)):
        return str(n)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def parse_args(argv=None) -> argparse.Namespace:
    p = _common.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("registry", nargs="?", help="registry to show (models, attention, backbones, losses, ...)")
    p.add_argument("--channels", type=int, default=64, help="channels of the attention table's reference input")
    p.add_argument("--size", type=int, default=32, help="height and width of the attention table's reference input")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from toolkit.errors import ConfigError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        skipped = import_everything()
    for line in skipped:
        print(f"warning: skipped {line}", file=sys.stderr)
    regs = registries()
    if args.registry is None:
        for reg in regs.values():
            print(f"{reg.name} ({len(reg)}): {', '.join(reg) or '(none)'}")
        return 0
    key = args.registry.lower()
    if key not in regs:
        raise ConfigError(f"unknown registry {args.registry!r}; registries: {', '.join(regs)}")
    reg = regs[key]
    if key == "attention":
        rows = attention_rows(args.channels, args.size)
        print(f"ATTENTION at input (1, {args.channels}, {args.size}, {args.size}); FLOPs from torch's flop counter")
        print("(matmuls and convolutions, 2 per multiply-add); odd: shape kept at 7x9, 1x1 and odd batch-2 sizes\n")
        table = [[r["name"], _fmt_count(r["params"]), _fmt_count(r["flops"]), r["odd"], r["paper"]] for r in rows]
        print(format_table(["name", "params", "FLOPs", "odd", "paper"], table))
        return 0
    print(f"{reg.name} ({len(reg)})\n")
    table = [[name, f"{obj.__module__}", summary(obj)] for name, obj in reg.items()]
    print(format_table(["name", "module", "description"], table))
    return 0


if __name__ == "__main__":
    _common.run_main(main)
