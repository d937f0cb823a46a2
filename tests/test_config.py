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


# --------------------------------------------------------------------------- keys a file may use


@pytest.fixture
def based(tmp_path):
    """A base like runtime.py plus a dataset base; ``child(text)`` writes a config that inherits both."""
    write(
        tmp_path / "runtime.py",
        """
        train = dict(batch_size=16, max_iters=None, ema=None)
        eval = dict(batch_size=16, vis_items=4)
        optim = dict(type="adam", lr=1e-3)
        model = dict(type="a", width=8)
        """,
    )
    write(
        tmp_path / "dataset.py",
        """
        data = dict(type="d", root=None, synth=dict(), split=dict(type="disjoint", train=0.3), pair=dict(gt=None))
        eval = dict(threshold=0.5)
        """,
    )

    def child(text):
        return write(tmp_path / "child.py", '_base_ = ["runtime.py", "dataset.py"]\n' + textwrap.dedent(text))

    return child


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "train = dict(max_iter=100)",
            r"child.py:2: train.max_iter: no key 'max_iter' in train.*Did you mean max_iters",
        ),
        (
            "x = 1\neval = dict(\n    batch_size=2,\n    treshold=0.3,\n)",
            r"child.py:5: eval.treshold: .*Did you mean threshold\?.*declare it in the same dict: _new_=\['treshold'\]",
        ),
        ("data = dict(roots='x')", r"data.roots: no key 'roots' in data.*Did you mean root"),
        ("data = dict(pair=dict(gt='a', lg='b'))", r"data.pair.lg: no key 'lg' in data.pair"),
        ("eval = dict(k=1, _new_=3)", r"child.py:2: eval._new_ must list the names of the keys added, got 3"),
        (
            "data = dict(type='clips', path='x.npy')",
            r"data.path: .*data names type 'clips' but inherits the keys of 'd': replace the inherited dict with "
            r"data=dict\(_delete_=True, type='clips', ...\)",
        ),
    ],
)
def test_a_key_the_bases_do_not_define_is_an_error_naming_file_and_line(based, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(based(text))


def test_keys_that_are_known_declared_or_not_checked(based):
    cfg = load_config(
        based(
            """
            train = dict(max_iters=10, ema=dict(decay=0.9))  # a None default takes a dict
            eval = dict(threshold=0.7, report_items=3, _new_=["report_items"])  # threshold: from the dataset base
            model = dict(depth=3)  # component specs: the constructor checks its keys
            optim = dict(type="adamw", betas=(0.9, 0.99))
            data = dict(synth=dict(num_train=4), split=dict(regions=2))  # an empty dict, a nested typed spec
            extra = dict(anything=1)  # a section no base defines
            """
        )
    )
    assert cfg.eval == {"batch_size": 16, "vis_items": 4, "threshold": 0.7, "report_items": 3}
    assert cfg.train.ema == {"decay": 0.9} and cfg.model.depth == 3 and cfg.optim.betas == (0.9, 0.99)
    assert cfg.data.synth == {"num_train": 4} and cfg.data.split == {"type": "disjoint", "train": 0.3, "regions": 2}
    replaced = load_config(based("data = dict(_delete_=True, type='clips', path='x.npy')"))
    assert replaced.data == {"type": "clips", "path": "x.npy"}
    assert "_new_" not in load_config(based("eval = dict(k=1, _new_='k')")).eval  # a string declares one key


def test_a_file_without_base_may_use_any_key(tmp_path):
    assert load_config(write(tmp_path / "plain.py", "train = dict(max_iter=3)\n")).train == {"max_iter": 3}


def test_every_shipped_config_uses_known_keys_only():
    root = Path(__file__).resolve().parents[1]
    configs = [p for p in sorted((root / "tasks").glob("*/*.py")) if "_base_ = " in p.read_text()]
    configs += sorted((root / "configs" / "mix").glob("*.py"))
    assert len(configs) >= 25
    for path in configs:
        load_config(path)  # raises on an unknown key


# --------------------------------------------------------------------------- the evaluator's limits


@pytest.mark.parametrize(
    "text, message",
    [
        ("a = 1\nx = " + " + ".join(["1"] * 200_000), r"big.py:2: expression too deeply nested to parse"),
        ("x = " + " + ".join(["1"] * 150), r"big.py:1: expression nested deeper than 100 levels"),
        ("x = 10 ** 10 ** 9", r"big.py:1: 10 \*\* 1000000000 has about 3,000,000,000 bits; configs allow 4096"),
        ("x = 2 ** 4000 * 2 ** 4000", r"big.py:1: integer of 8001 bits; configs allow 4096"),
        ("x = [0] * 10 ** 9", r"big.py:1: repeats a sequence 1000000000 times: more than 1,000,000 values"),
        ("x = 'ab' * 10 ** 7", r"repeats a sequence 10000000 times"),
        ("x = [0] * 600_000\ny = x + x", r"big.py:2: the config builds more than 1,000,000 values and characters"),
        ("x = [0] * 400_000\ny = [x, x, x]", r"big.py:2: the config builds more than 1,000,000"),
        ("x = '%0999999999d' % 1", r"big.py:1: '%' formatting is not supported"),
    ],
)
def test_the_literal_evaluator_is_bounded(tmp_path, text, message):
    path = tmp_path / "big.py"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_ordinary_arithmetic_stays_allowed(tmp_path):
    cfg = load_config(write(tmp_path / "ok.py", "x = 2 ** 31 - 1\ny = 10 ** -3\nz = [0.5] * 1000\nw = 7 % 3\n"))
    assert (cfg.x, cfg.y, len(cfg.z), cfg.w) == (2**31 - 1, 1e-3, 1000, 1)
