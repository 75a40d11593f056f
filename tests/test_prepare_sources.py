"""Weight sources of a GOBO design for matmul weights GOBO does not quantize (ViT's patch projection and
classifier): stored as the design's dense element, as the functional pass computes with them."""

from __future__ import annotations

import math

from sim.mapping.weights import MATMUL_TYPES
from sim.prepare import prepare
from tests.conftest import REPO

VIT_TINY = REPO / "tests" / "data" / "vit_tiny" / "config.json"


def _bytes(src, shape) -> int:
    return int(src.offchip_bytes(shape[0], int(math.prod(shape[1:]))).sum())


def test_unquantized_vit_tensors_are_the_dense_element_of_the_design() -> None:
    for hw, elem in (("gobo", 1), ("gobo-compress-tcore", 2)):
        run = prepare(hw, str(VIT_TINY))
        assert run.unit.weight_bytes == elem
        unquantized = [t for t in run.graph.tensors if t.tensor_type in MATMUL_TYPES and t.name not in run.qmodel.packed]
        assert unquantized, "the tiny ViT has tensors GOBO does not quantize (patch projection, classifier)"
        for t in unquantized:
            assert _bytes(run.weight_sources[t.name], t.shape) == elem * math.prod(t.shape), t.name
        packed = [t for t in run.graph.tensors if t.name in run.qmodel.packed]
        assert packed and all(_bytes(run.weight_sources[t.name], t.shape) < elem * math.prod(t.shape)
                              for t in packed if len(t.shape) >= 2)
