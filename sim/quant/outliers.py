r"""GOBO outlier detection: fit one Gaussian per tensor, flag weights of low log-density.

Rule. Fit :math:`\mu, \sigma` (maximum likelihood: mean and population standard deviation,
``ddof=0``, in float64) over all weights of the tensor. A weight :math:`w` is an *outlier* when

.. math:: \ln \mathcal{N}(w;\mu,\sigma) = -\tfrac12\ln(2\pi) - \ln\sigma - \frac{(w-\mu)^2}{2\sigma^2} \le T

with :math:`T` the threshold (default -4, natural log). Solving for :math:`|w-\mu|`:

.. math:: |w-\mu| \ge z^\ast\sigma,\qquad z^\ast = \sqrt{\max\bigl(0,\; -2T - \ln(2\pi) - 2\ln\sigma\bigr)}

so the threshold in standard deviations depends on :math:`\sigma` itself (the density is not
scale-free): for :math:`T=-4`, :math:`\sigma=0.04` gives :math:`z^\ast\approx 3.55` and
:math:`\sigma=0.09` gives :math:`z^\ast\approx 3.31`. When the radicand is <= 0 (that is
:math:`\sigma \ge e^{-T-\ln(2\pi)/2} \approx 21.8` for :math:`T=-4`) the density never exceeds
:math:`e^T` and every weight is an outlier. A constant tensor (:math:`\sigma = 0`) has no outliers.
Ties (:math:`\ln p = T` exactly) are outliers.

Differences from the third-party reference code (``sklearn`` ``GaussianMixture(1)`` and
``score_samples <= -4``): that code adds ``reg_covar = 1e-6`` to the variance; we fit the plain MLE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .params import check_threshold

_LN_2PI = math.log(2.0 * math.pi)
_CHUNK = 1 << 22  # elements per float64 chunk (32 MiB)


@dataclass(frozen=True)
class GaussianFit:
    """The Gaussian fitted to a tensor and its outlier bounds (all in weight units except ``z``)."""

    mean: float
    std: float
    threshold: float  # natural-log density threshold T (nats)
    z: float  # z*, the threshold in standard deviations (inf when std == 0: no outliers)

    @property
    def lo(self) -> float:
        """Weights <= ``lo`` are outliers (weight units; -inf when there are none)."""
        return self.mean - self.z * self.std if math.isfinite(self.z) else -math.inf

    @property
    def hi(self) -> float:
        """Weights >= ``hi`` are outliers (weight units; +inf when there are none)."""
        return self.mean + self.z * self.std if math.isfinite(self.z) else math.inf

    @property
    def abs_threshold(self) -> float:
        """``z * std``: a weight is an outlier when ``|w - mean| >= abs_threshold`` (weight units)."""
        return self.z * self.std if math.isfinite(self.z) else math.inf


def z_threshold(std: float, threshold: float = -4.0) -> float:
    """Closed-form outlier threshold in standard deviations for a Gaussian of this ``std``.

    Returns ``sqrt(max(0, -2*threshold - ln(2*pi) - 2*ln(std)))``; ``inf`` when ``std == 0``.
    ``threshold`` is a natural-log density (nats); ``std`` is in weight units.
    """
    t = check_threshold(threshold)
    if not std > 0.0:
        return math.inf
    radicand = -2.0 * t - _LN_2PI - 2.0 * math.log(std)
    return math.sqrt(radicand) if radicand > 0.0 else 0.0


def fit_gaussian(weights: np.ndarray, threshold: float = -4.0) -> GaussianFit:
    """Fit mean and population std (float64) over all elements of ``weights``; attach the threshold."""
    flat = np.asarray(weights).reshape(-1)
    n = flat.size
    if n == 0:
        return GaussianFit(0.0, 0.0, check_threshold(threshold), math.inf)
    total = 0.0
    for start in range(0, n, _CHUNK):
        total += float(np.sum(flat[start:start + _CHUNK], dtype=np.float64))
    mean = total / n
    ss = 0.0
    for start in range(0, n, _CHUNK):
        d = flat[start:start + _CHUNK].astype(np.float64) - mean
        ss += float(np.dot(d, d))
    std = math.sqrt(ss / n)
    return GaussianFit(mean=mean, std=std, threshold=check_threshold(threshold), z=z_threshold(std, threshold))


def outlier_mask(weights: np.ndarray, fit: GaussianFit) -> np.ndarray:
    """Boolean mask (same shape as ``weights``) of the outliers: ``|w - mean| >= z * std`` in float64."""
    arr = np.asarray(weights)
    flat = arr.reshape(-1)
    out = np.zeros(flat.size, dtype=bool)
    if not math.isfinite(fit.z):
        return out.reshape(arr.shape)
    thr = fit.abs_threshold
    for start in range(0, flat.size, _CHUNK):
        d = flat[start:start + _CHUNK].astype(np.float64)
        d -= fit.mean
        np.abs(d, out=d)
        np.greater_equal(d, thr, out=out[start:start + _CHUNK])
    return out.reshape(arr.shape)


def detect_outliers(weights: np.ndarray, threshold: float = -4.0) -> tuple[GaussianFit, np.ndarray]:
    """Fit the Gaussian and return it with the outlier mask (see the module docstring for the rule)."""
    fit = fit_gaussian(weights, threshold)
    return fit, outlier_mask(weights, fit)
