"""Reference modes against literal float64 transliterations of the public reference modules.

torch is not a dependency; each function below transcribes the reference forward pass
(HF transformers ``models/ibert/quant_modules.py``, zkkli/I-ViT ``quant_modules.py``) operation
by operation on float64 numpy arrays, the way the modules compute when run on float64 tensors
(parameters float32, as in docs/sources.md 9). The kernels' reference modes must match these
bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.kernels import ibert, ivit
from sim.kernels.dyadic import to_dyadic


def t_int_gelu(x_int: np.ndarray, s: float) -> tuple[np.ndarray, float]:
    k, const, coeff = 1.4142, 14, [-0.2888, -1.769, 1.0]
    coeff[2] /= coeff[0]
    sf = s / k
    b_int = np.floor(coeff[1] / sf)
    c_int = np.floor(coeff[2] / sf**2)
    sign = np.sign(x_int)
    abs_int = np.minimum(np.abs(x_int), -b_int)
    y_int = sign * ((abs_int + b_int) ** 2 + c_int)
    sf = sf**2 * coeff[0]
    y_int = np.floor(y_int / 2**const)
    sf = sf * 2**const
    shift_int = np.floor_divide(1.0, sf)
    return x_int * (y_int + shift_int), s * sf / 2


def t_int_softmax(x_int: np.ndarray, s: float, s16: float, output_bit: int = 8) -> np.ndarray:
    x0, const, coef = -0.6931, 30, [0.35815147, 0.96963238, 1.0]
    coef[1] /= coef[0]
    coef[2] /= coef[0]
    x_int = x_int - x_int.max(axis=-1, keepdims=True)
    x0_int = np.floor(x0 / s)
    x_int = np.maximum(x_int, const * x0_int)
    q = np.floor(x_int / x0_int)
    r = x_int - x0_int * q
    b_int = np.floor(coef[1] / s)
    c_int = np.floor(coef[2] / s**2)
    z = (r + b_int) * r + c_int
    exp_sf = coef[0] * s**2
    exp_int = np.maximum(np.floor(z * 2.0 ** (const - q)), 0)
    exp_sf = exp_sf / 2**const
    # QuantAct(16) -> FixedPointMul(pre_act=exp_int, pre_act_scaling_factor=exp_sf)
    z_int = np.round(exp_int / exp_sf)
    new_scale = float(exp_sf) / float(np.float32(s16))
    m, e = to_dyadic(new_scale, 31, compat="reference")  # batch_frexp (checked in test_kernels_numeric)
    out = np.round((z_int * float(m)) / (2.0**e))
    e16 = np.clip(out.astype(np.float32), -32768, 32767).astype(np.float64)
    exp = e16 * s16
    exp_int = exp / s16
    exp_int_sum = exp_int.sum(axis=-1, keepdims=True)
    factor = np.floor(2**32 / exp_int_sum)
    return np.floor(exp_int * factor / 2 ** (32 - output_bit))


def t_layernorm(x_int: np.ndarray, w: np.ndarray, b: np.ndarray, shift: float, ivit_sqrt: bool) -> np.ndarray:
    dim_sqrt = np.sqrt(np.float32(x_int.shape[-1]))
    mean_int = np.round(x_int.mean(axis=-1, keepdims=True))
    y_int = x_int - mean_int
    if ivit_sqrt:
        var_int = np.sum(y_int**2, axis=-1, keepdims=True)
        k = 2**16
        for _ in range(10):
            k = np.floor((k + np.floor(var_int / k)) / 2)
        factor = np.floor((2**31 - 1) / k)
    else:
        y_sh = np.floor(y_int / 2**shift)
        var_int = np.sum(y_sh**2, axis=-1, keepdims=True)
        std_int = np.floor(np.sqrt(var_int)) * 2**shift
        factor = np.floor(2**31 / std_int)
    y_int = np.floor(y_int * factor / 2)
    sf = np.float32(dim_sqrt / np.float32(2**30))
    bias = b / w  # float32 parameters
    bias_int = np.floor(bias / sf)
    return y_int + bias_int


def t_exp_shift(x_int: np.ndarray, s: float, n: int) -> np.ndarray:
    x_int = x_int + np.floor(x_int / 2) - np.floor(x_int / 2**4)
    x0_int = np.floor(-1.0 / s)
    x_int = np.maximum(x_int, n * x0_int)
    q = np.floor(x_int / x0_int)
    r = x_int - x0_int * q
    exp_int = r / 2 - x0_int
    return np.maximum(np.floor(exp_int * 2.0 ** (n - q)), 0)


def t_shiftmax(x_int: np.ndarray, s: float, output_bit: int = 8) -> np.ndarray:
    x_int = x_int - x_int.max(axis=-1, keepdims=True)
    exp_int = t_exp_shift(x_int, s, 15)
    exp_int_sum = np.minimum(exp_int.sum(axis=-1, keepdims=True), 2**31 - 1)
    factor = np.floor((2**31 - 1) / exp_int_sum)
    return np.floor(exp_int * factor / 2 ** (31 - output_bit + 1))


def t_shift_gelu(pre_x_int: np.ndarray, s: float, output_bit: int = 8) -> np.ndarray:
    s_sig = s * 1.702
    x_int_max = pre_x_int.max(axis=-1, keepdims=True)
    exp_int = t_exp_shift(pre_x_int - x_int_max, s_sig, 23)
    exp_int_max = t_exp_shift(-x_int_max, s_sig, 23)
    exp_int_sum = np.minimum(exp_int + exp_int_max, 2**31 - 1)
    factor = np.floor((2**31 - 1) / exp_int_sum)
    sigmoid_int = np.floor(exp_int * factor / 2 ** (31 - output_bit + 1))
    return pre_x_int * sigmoid_int


def rand_q(seed: int, s: float, shape, sigma: float = 3.0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0.0, sigma, shape)
    return np.clip(np.round(x / s), -(2**31), 2**31 - 1).astype(np.int64)


@pytest.mark.parametrize("s", [1e-3, 2.0**-10, 1e-4, 3e-6, 4 / 127])
def test_gelu_reference_float64(s):
    q = rand_q(1, s, (8, 64))
    out, s_out = ibert.int_gelu(q, s, compat="reference")
    exp, s_exp = t_int_gelu(q.astype(np.float64), s)
    np.testing.assert_array_equal(out, exp)
    assert s_out == s_exp


@pytest.mark.parametrize("s", [1e-2, 1e-3, 1e-4, 2e-6])
def test_softmax_reference_float64(s):
    q = rand_q(2, s, (16, 64))
    s16 = ibert.calibrate_softmax_exp_scale(q, s)
    for scale16 in (s16, s16 * 1.37):
        out, _ = ibert.int_softmax(q, s, compat="reference", exp_scale=scale16)
        np.testing.assert_array_equal(out, t_int_softmax(q.astype(np.float64), s, scale16))


@pytest.mark.parametrize("s,shift", [(1e-3, 0), (1e-4, 0), (1e-5, 2)])
def test_layernorm_reference_float64(s, shift):
    rng = np.random.default_rng(3)
    c = 96
    w = rng.normal(1.0, 0.3, c).astype(np.float32)
    b = rng.normal(0.0, 0.2, c).astype(np.float32)
    q = rand_q(4, s, (8, c))
    out, _ = ibert.int_layernorm(q, s, w, b, compat="reference", shift=shift)
    np.testing.assert_array_equal(out, t_layernorm(q.astype(np.float64), w, b, shift, ivit_sqrt=False))
    out, _ = ivit.int_layernorm(q, s, w, b, compat="reference")
    np.testing.assert_array_equal(out, t_layernorm(q.astype(np.float64), w, b, 0, ivit_sqrt=True))


@pytest.mark.parametrize("s", [0.1, 0.05, 1e-2, 1e-3, 1e-4, 2e-6])
def test_shiftmax_reference_float64(s):
    q = rand_q(5, s, (16, 64))
    out, _ = ivit.shiftmax(q, s, compat="reference")
    np.testing.assert_array_equal(out, t_shiftmax(q.astype(np.float64), s))


@pytest.mark.parametrize("s", [0.1, 0.05, 1e-2, 1e-3])
def test_shift_gelu_reference_float64(s):
    q = rand_q(6, s, (16, 48), sigma=2.0)
    q[0] -= int(2 / s)
    out, s_out = ivit.shift_gelu(q, s, compat="reference")
    np.testing.assert_array_equal(out, t_shift_gelu(q.astype(np.float64), s))
    assert s_out == s * np.float32(1 / 2**7)


def test_float32_parameters_matter():
    # bias_i is computed in float32 steps; doing it in float64 changes some values
    rng = np.random.default_rng(7)
    c = 768
    w = rng.normal(1.0, 0.3, c).astype(np.float32)
    b = rng.normal(0.0, 0.2, c).astype(np.float32)
    sf32 = np.float32(np.sqrt(np.float32(c)) / np.float32(2**30))
    b32 = np.floor((b / w) / sf32)
    b64 = np.floor((b.astype(np.float64) / w.astype(np.float64)) / float(sf32))
    assert (b32 != b64).any()
    assert math.isfinite(float(b32.max()))
