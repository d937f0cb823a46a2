import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from toolkit.config import Config, load_config, merge
from toolkit.errors import ConfigError


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def chain(tmp_path):
    (tmp_path / "base").mkdir()
    write(
        tmp_path / "base" / "runtime.py",
        """
        seed = 1
        train = dict(batch_size=16, lr=1e-3, amp=None, steps=[1, 2, 3])
        model = dict(type="a", width=8, attn=dict(type="se", reduction=4))
        """,
    )
    return write(
        tmp_path / "child.py",
        """
        _base_ = ["base/runtime.py"]
        width = 4 * 8
        train = dict(batch_size=32, steps=[5])
        model = dict(width=width, attn=dict(_delete_=True, type="cbam"))
        _helper = 3
        """,
    )


def test_base_merge_lists_replace_and_delete(chain):
    cfg = load_config(chain)
    assert cfg.seed == 1
    assert cfg.train == {"batch_size": 32, "lr": 1e-3, "amp": None, "steps": [5]}
    assert cfg.model.width == 32  # arithmetic on an earlier name
    assert cfg.model.attn == {"type": "cbam"}  # _delete_ replaced the inherited dict
    assert "_helper" not in cfg


def test_overrides_types_and_adding_keys(chain):
    cfg = load_config(chain, ["train.lr=0.01", "train.steps.0=7", "train.amp=bf16", "+model.depth=3", "seed=2"])
    assert cfg.train.lr == 0.01 and cfg.train.steps == [7] and cfg.train.amp == "bf16"
    assert cfg.model.depth == 3 and cfg.seed == 2
    assert load_config(chain, ["train.lr=1"]).train.lr == 1.0  # int accepted for a float
    # a string key keeps number-like tokens as written (Python would read 50_50 as the int 5050)
    assert load_config(chain, ["model.type=50_50"]).model.type == "50_50"
    assert load_config(chain, ["model.type=1e3"]).model.type == "1e3"


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.batchsize=3", "no key 'batchsize'.*Did you mean batch_size"),
        ("train.batch_size=big", "expected int like the default 32, got str"),
        ("train.steps.4=1", "index 4 out of range"),
        ("trainbatch", "must look like key.path=value"),
        ("seed=true", "expected int"),
    ],
)
def test_override_errors(chain, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(chain, [override])


def test_missing_file_and_close_match(tmp_path, chain):
    with pytest.raises(ConfigError, match="config file not found.*close matches.*child.py"):
        load_config(tmp_path / "chlid.py")


def test_code_in_configs_is_rejected(tmp_path):
    bad = write(tmp_path / "bad.py", "import os\n")
    with pytest.raises(ConfigError, match=r"bad.py:1: imports are not allowed"):
        load_config(bad)
    bad = write(tmp_path / "bad2.py", "x = open('f')\n")
    with pytest.raises(ConfigError, match=r"bad2.py:1: only literals"):
        load_config(bad)


def test_dump_round_trip(chain, tmp_path):
    cfg = load_config(chain, ["+model.kernel=(3, 5)"])
    cfg.dump(tmp_path / "out.py")
    cfg.dump(tmp_path / "out.json")
    again = load_config(tmp_path / "out.py")

    def public(c):
        return {k: v for k, v in c.to_dict().items() if not k.startswith("_")}

    assert public(again) == public(cfg)
    assert again.model.kernel == (3, 5)
    assert json.loads((tmp_path / "out.json").read_text())["model"]["width"] == 32


def test_merge_is_pure():
    base = {"a": {"b": 1}}
    out = merge(base, {"a": {"c": 2}})
    assert out == {"a": {"b": 1, "c": 2}} and base == {"a": {"b": 1}}
    assert isinstance(Config(out).a, Config)


def test_loading_a_config_does_not_import_torch():
    code = (
        "import sys; from toolkit.config import load_config; "
        "load_config('tasks/video_pred/simvp.py'); print('torch' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "False"


def test_empty_component_slot_is_filled_by_its_type(chain, tmp_path):
    cfg = write(tmp_path / "slot.py", "model = dict(type='a', attn=None)\n")
    got = load_config(cfg, ["model.attn.type=cbam"])
    assert got.model.attn == {"type": "cbam"}
    with pytest.raises(ConfigError, match="the default is None"):
        load_config(cfg, ["model.attn.reduction=4"])  # other keys still need +


def test_changing_an_attention_type_drops_the_old_options(tmp_path):
    cfg = write(tmp_path / "attn.py", "model = dict(type='m', attn=dict(type='cbam', spatial_kernel=7), width=3)\n")
    got = load_config(cfg, ["model.attn.type=se", "+model.attn.reduction=8"])
    assert got.model.attn == {"type": "se", "reduction": 8} and got.model.width == 3
    same = load_config(cfg, ["model.attn.type=cbam"])
    assert same.model.attn == {"type": "cbam", "spatial_kernel": 7}  # same type keeps its options


@pytest.mark.parametrize("slot", ["None", "dict(type=None)"])
def test_attention_options_without_a_type_fail_at_the_override_naming_the_slot(tmp_path, slot):
    cfg = write(tmp_path / "slot.py", f"model = dict(type='m', attn={slot}, enc_attn=None, extra=None)\n")
    message = (
        r"override \+model.attn.reduction=8: model.attn names no attention type, so no block would use the option; "
        r"name the block first: --set model.attn.type=se \+model.attn.reduction=8"
    )
    with pytest.raises(ConfigError, match=message):
        load_config(cfg, ["+model.attn.reduction=8"])
    with pytest.raises(ConfigError, match=r"model.enc_attn names no attention type"):
        load_config(cfg, ["+model.enc_attn.kernel_size=3"])
    got = load_config(cfg, ["model.attn.type=se", "+model.attn.reduction=8"])
    assert got.model.attn == {"type": "se", "reduction": 8}
    assert load_config(cfg, ["+model.extra.k=1"]).model.extra == {"k": 1}  # other None slots take keys as before


def test_a_saved_run_config_keeps_the_name_of_the_config_it_came_from(chain, tmp_path):
    cfg = load_config(chain, ["seed=3"])
    run = tmp_path / "work_dirs" / "child" / "20250101_000000"
    run.mkdir(parents=True)
    cfg.dump(run / "config.py")
    again = load_config(run / "config.py")
    assert Path(again._source_).stem == "child"  # the Trainer names the run folder after this stem
    assert again.seed == 3
    assert Path(load_config(chain)._source_) == chain  # an ordinary config is its own source
