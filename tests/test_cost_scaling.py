"""Technology scaling (Stillmaker & Baas 2017, with the hwcomponents-cacti SRAM rule below 22 nm)."""

from __future__ import annotations

import itertools
import math

import pytest

from sim.config.hardware import NODES_NM
from sim.cost.scaling import (
    SUPPORTED_NODES_NM,
    area_scale,
    energy_factor_at,
    energy_scale,
)


def test_identity():
    for n in SUPPORTED_NODES_NM:
        assert energy_scale(n, n) == 1.0 and area_scale(n, n) == 1.0


@pytest.mark.parametrize("node, energy, area", [
    (65, 1.51, 1.5), (32, 0.65, 0.46), (28, 0.53, 0.38), (20, 0.29, 0.21), (16, 0.23, 0.19), (14, 0.18, 0.17),
    (7, 0.12, 0.059),
])
def test_factors_from_45nm_match_the_reference_notes(node, energy, area):
    """docs/sources.md section 5 table, 'Energy x, same 0.9 V' and 'Area x' columns."""
    assert energy_scale(45, node) == pytest.approx(energy, abs=0.006)
    assert area_scale(45, node) == pytest.approx(area, abs=0.006)


def test_interpolated_node_lies_between_neighbours():
    ef = {n: energy_factor_at(n, 0.9) for n in (45, 40, 32)}
    assert ef[45] > ef[40] > ef[32]
    assert ef[40] == pytest.approx(ef[45] + (40 - 45) / (32 - 45) * (ef[32] - ef[45]))


@pytest.mark.parametrize("kind", ["logic", "sram"])
def test_smaller_node_less_energy_and_area(kind):
    nodes = sorted(SUPPORTED_NODES_NM, reverse=True)
    for big, small in itertools.pairwise(nodes):
        assert energy_scale(big, small, kind=kind) < 1.0, (big, small)
        assert area_scale(big, small, kind=kind) < 1.0, (big, small)


@pytest.mark.parametrize("kind", ["logic", "sram"])
def test_factors_compose(kind):
    for a, b, c in itertools.product((65, 45, 28, 16, 7), repeat=3):
        assert energy_scale(a, b, kind=kind) * energy_scale(b, c, kind=kind) == pytest.approx(
            energy_scale(a, c, kind=kind))
        assert area_scale(a, b, kind=kind) * area_scale(b, c, kind=kind) == pytest.approx(area_scale(a, c, kind=kind))


def test_sram_rule_below_22nm():
    for n in (16, 14, 7):
        assert energy_scale(22, n, kind="sram") == pytest.approx(math.sqrt(n / 22))
        assert area_scale(22, n, kind="sram") == pytest.approx(n / 22)
    assert energy_scale(45, 28, kind="sram") == energy_scale(45, 28)  # logic rule down to 22 nm


def test_every_config_node_is_supported():
    assert set(NODES_NM) <= set(SUPPORTED_NODES_NM)


def test_out_of_range_node_raises():
    with pytest.raises(ValueError, match="between 7 and 65"):
        energy_scale(45, 5)
