import pytest

from toolkit.errors import RegistryError
from toolkit.registry import Registry


class Widget:
    def __init__(self, channels: int, *, scale: float = 1.0):
        self.channels, self.scale = channels, scale


def make_registry():
    reg = Registry("WIDGETS")
    reg.register("widget")(Widget)
    return reg


def test_build_from_dict_name_none_and_object():
    reg = make_registry()
    w = reg.build(dict(type="widget", channels=4, scale=2.0))
    assert (w.channels, w.scale) == (4, 2.0)
    assert reg.build("widget", channels=3).channels == 3
    assert reg.build(None) is None
    obj = Widget(1)
    assert reg.build(obj) is obj


def test_spec_keys_win_over_defaults_and_nothing_is_injected():
    reg = make_registry()
    w = reg.build(dict(type="widget", channels=8), channels=2)
    assert w.channels == 8 and w.scale == 1.0


def test_duplicate_name_fails_and_names_both_definitions():
    reg = make_registry()

    class Other:
        pass

    with pytest.raises(RegistryError, match="registered twice.*Widget.*Other"):
        reg.register("widget")(Other)


def test_unknown_name_lists_close_matches():
    reg = make_registry()
    with pytest.raises(RegistryError, match="Did you mean 'widget'"):
        reg.build(dict(type="widgt", channels=1))


def test_bad_argument_shows_signature_and_offending_key():
    reg = make_registry()
    with pytest.raises(RegistryError, match=r"unknown argument\(s\) \['scal'\].*Signature: widget\(channels: int"):
        reg.build(dict(type="widget", channels=1, scal=2))
    with pytest.raises(RegistryError, match="missing a required argument: 'channels'"):
        reg.build("widget")


def test_missing_type_key():
    with pytest.raises(RegistryError, match="no 'type' key"):
        make_registry().build(dict(channels=1))
