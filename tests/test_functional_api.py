"""encode(): the functional API contract (shapes, modes, errors, caching)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import SimInputError
from sim.functional import MODES, api, encode


@pytest.mark.parametrize("mode", MODES)
def test_shapes_for_every_mode(mode):
    ids = np.array([[101, 5, 6, 7, 102, 0], [101, 9, 9, 102, 0, 0]])
    mask = (ids != 0).astype(int)
    h = encode(ids, workload="tiny", mode=mode, attention_mask=mask)
    assert h.shape == (2, 6, 64) and h.dtype == np.float64 and np.all(np.isfinite(h))


def test_one_sequence_and_lists_accepted():
    h = encode([101, 5, 102], workload="tiny")
    assert h.shape == (1, 3, 64)
    assert np.array_equal(h, encode(np.array([[101, 5, 102]]), workload="tiny"))


def test_ivit_kernels_run():
    h = encode([[101, 5, 102]], workload="tiny", mode="int8", nonlinear="ivit")
    assert h.shape == (1, 3, 64)


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "int4"}, "mode must be one of"),
    ({"nonlinear": "softmax"}, "nonlinear must be one of"),
    ({"token_ids": [[1, 2, 1000]]}, "outside the vocabulary"),
    ({"token_ids": [[-1, 2]]}, "outside the vocabulary"),
    ({"token_ids": [[[1, 2]]]}, r"\[batch, seq\]"),
    ({"token_ids": [[1.5, 2.0]]}, "must be integers"),
    ({"token_ids": np.zeros((1, 0), dtype=int)}, "empty"),
    ({"token_ids": np.ones((1, 65), dtype=int)}, "exceeds 64 positions"),
    ({"attention_mask": [[1, 1]]}, "differs from token_ids"),
    ({"attention_mask": [[1, 2, 1]]}, "0 or 1"),
    ({"attention_mask": [[0, 0, 0]]}, "at least one unmasked"),
    ({"workload": "vit-base"}, r"pixel_values of vit-base must be \[batch, 3, 224, 224\]"),
    ({"weights": "/nonexistent/model.safetensors", "mode": "int8"}, "no such checkpoint"),
])
def test_bad_input_is_one_line_value_error(kwargs, match):
    args = {"token_ids": [[101, 5, 102]], "workload": "tiny", **kwargs}
    with pytest.raises(SimInputError, match=match) as err:
        encode(args.pop("token_ids"), **args)
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)


def test_integer_model_cached():
    from sim.workload.loader import load_workload

    wl = load_workload("tiny")
    a = api.integer_encoder(wl, None, "int8", "ibert")
    assert api.integer_encoder(wl, None, "int8", "ibert") is a
    assert api.integer_encoder(wl, None, "int8", "ivit") is not a
