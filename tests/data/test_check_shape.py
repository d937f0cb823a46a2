"""The shared input-shape check (``toolkit.modules.shape``): one message format, both error types."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.errors import DataError, ToolkitError
from toolkit.modules.shape import ShapeError, check_shape


def test_message_names_the_module_and_the_expected_shape():
    with pytest.raises(ShapeError) as info:
        check_shape(torch.zeros(2, 1, 8, 8), ("B", 3, "H", "W"), "safmn")
    assert str(info.value) == "safmn: expected input (B, 3, H, W), got (2, 1, 8, 8)"


def test_wrong_rank_and_hint():
    with pytest.raises(ShapeError, match=r"^simvp: expected input \(B, 10, 1, 64, 64\), got \(10, 1, 64, 64\)$"):
        check_shape(torch.zeros(10, 1, 64, 64), ("B", 10, 1, 64, 64), "simvp")
    with pytest.raises(ShapeError, match=r"got \(1, 3, 4, 4\); set data.color"):
        check_shape(torch.zeros(1, 3, 4, 4), ("B", 1, "H", "W"), "DNANet", hint="set data.color")


def test_matching_inputs_pass_whatever_their_free_sizes():
    check_shape(torch.zeros(1, 3, 1, 1), ("B", 3, "H", "W"), "m")
    check_shape(np.zeros((4, 1, 15, 9, 7)), ("B", 1, 15, "S", "S"), "m")  # names are not forced equal
    check_shape((2, 3, 5, 5), ("B", 3, "H", "W"), "m")  # a plain shape works too


def test_error_is_both_a_data_error_and_a_value_error():
    for kind in (ShapeError, DataError, ToolkitError, ValueError):
        with pytest.raises(kind):
            check_shape(torch.zeros(3), ("B", 3), "m")
