"""tools/list.py: registry listing, the attention table and the unknown-registry message."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from toolkit.modules.attention import ATTENTION

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture(scope="module")
def list_tool():
    sys.path.insert(0, str(TOOLS))
    try:
        spec = importlib.util.spec_from_file_location("tools_list_under_test", TOOLS / "list.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(TOOLS))


def test_lists_every_registry(list_tool, capsys):
    assert list_tool.main([]) == 0
    out = capsys.readouterr().out
    for name in ("MODELS", "ATTENTION", "BACKBONES", "LOSSES", "METRICS", "DATASETS", "TASKS"):
        assert f"\n{name} (" in "\n" + out
    attn_line = next(line for line in out.splitlines() if line.startswith("ATTENTION"))
    assert attn_line == f"ATTENTION ({len(ATTENTION)}): {', '.join(ATTENTION)}"


def test_one_registry_case_insensitive(list_tool, capsys):
    assert list_tool.main(["BackBones"]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "toolkit.modules.backbones.resnet" in out and "ResNet-50" in out


def test_attention_table_values(list_tool, capsys):
    assert list_tool.main(["attention", "--size", "8"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[5:] if line.strip()}
    assert set(rows) == set(ATTENTION)
    # SE at C = 64, r = 16: 2*64*4 weights + 4 + 64 biases; two 1x1 convs on a 1x1 map: 2*(64*4 + 4*64) FLOPs
    assert rows["se"][1:4] == ["580", "1.02K", "yes"]
    # ECA at C = 64: k = 3 weights; a 1-D conv over 64 positions: 2*3*64 FLOPs
    assert rows["eca"][1:4] == ["3", "384", "yes"]
    assert rows["simam"][1:4] == ["0", "0", "yes"]
    assert all(r[3] == "yes" for r in rows.values()), out
    assert "Woo et al., ECCV 2018" in out


def test_attention_table_flags_a_shape_changing_block(list_tool, monkeypatch):
    class Shrinks(torch.nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.pool = torch.nn.MaxPool2d(2)

        def forward(self, x):
            return self.pool(x)

    monkeypatch.setitem(ATTENTION._entries, "zz_shrinks", Shrinks)
    rows = {r["name"]: r for r in list_tool.attention_rows(8, 8)}
    assert rows["zz_shrinks"]["odd"].startswith(("NO", "error"))
    assert rows["se"]["odd"] == "yes"


def test_unknown_registry_exits_2_with_the_list(list_tool, capsys):
    with pytest.raises(SystemExit) as exc:
        list_tool._common.run_main(lambda: list_tool.main(["modles"]))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown registry 'modles'") and "models, attention, backbones" in err
