"""Outlier rule: closed-form z*, equivalence with the log-density rule, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.quant.errors import QuantParamError
from sim.quant.outliers import detect_outliers, fit_gaussian, z_threshold


def log_normal_pdf(x: float, mu: float, sigma: float) -> float:
    """ln N(x; mu, sigma), written out independently of the library."""
    return math.log(1.0 / (sigma * math.sqrt(2.0 * math.pi)) * math.exp(-((x - mu) ** 2) / (2.0 * sigma * sigma)))


@pytest.mark.parametrize("sigma", [0.01, 0.04, 0.09, 1.0, 5.0])
@pytest.mark.parametrize("threshold", [-4.0, -2.0, -8.0])
def test_z_threshold_is_the_density_crossing(sigma: float, threshold: float) -> None:
    z = z_threshold(sigma, threshold)
    if z > 0:
        assert log_normal_pdf(z * sigma, 0.0, sigma) == pytest.approx(threshold, abs=1e-9)
        assert log_normal_pdf(0.999 * z * sigma, 0.0, sigma) > threshold
        assert log_normal_pdf(1.001 * z * sigma, 0.0, sigma) < threshold


def test_z_threshold_known_values() -> None:
    # -2T - ln(2 pi) - 2 ln(sigma) for T=-4, sigma=0.04: 8 - 1.837877 + 6.437752 = 12.599875
    assert z_threshold(0.04) == pytest.approx(math.sqrt(8 - math.log(2 * math.pi) - 2 * math.log(0.04)))
    assert z_threshold(0.04) == pytest.approx(3.5496, abs=1e-4)
    assert z_threshold(0.0) == math.inf
    assert z_threshold(100.0) == 0.0  # density never above e^-4: everything is an outlier


def test_mask_matches_elementwise_rule() -> None:
    rng = np.random.default_rng(3)
    w = np.concatenate([rng.normal(0.01, 0.05, 20000), rng.standard_t(2, 300) * 0.05]).astype(np.float32)
    fit, mask = detect_outliers(w, -4.0)
    mu, sd = float(np.mean(w.astype(np.float64))), float(np.std(w.astype(np.float64)))
    assert fit.mean == pytest.approx(mu, rel=1e-12, abs=1e-15)
    assert fit.std == pytest.approx(sd, rel=1e-12)
    expected = np.array([log_normal_pdf(float(x), mu, sd) <= -4.0 for x in w])
    assert np.array_equal(mask, expected)
    assert 0 < mask.sum() < w.size
    assert np.all((w[mask] <= fit.lo) | (w[mask] >= fit.hi))
    assert np.all((w[~mask] > fit.lo) & (w[~mask] < fit.hi))


def test_constant_and_huge_sigma_tensors() -> None:
    _, mask = detect_outliers(np.full((4, 5), 0.3, np.float32))
    assert not mask.any()
    _, mask = detect_outliers(np.array([-100.0, 0.0, 100.0], np.float32))
    assert mask.all()


def test_bad_threshold() -> None:
    with pytest.raises(QuantParamError):
        fit_gaussian(np.ones(3), float("nan"))
