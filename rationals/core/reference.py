"""The numpy reference: R(x) and its analytic backward for every variant and layout.

Inputs of any float dtype are accepted; float16/bfloat16 are computed in float32 and the result is
returned in the input's dtype. Every adapter and kernel is tested against these two functions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from . import direct
from . import math as rmath
from .layout import channel_groups, coefficient_shape, reduce_axes
from .validation import check_coefficients
from .variants import Variant, check_version

__all__ = ["rational", "rational_backward"]


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float64 stays float64; every other float type is computed in float32."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def _broadcast(c: np.ndarray, x: np.ndarray, channel_axis: int, what: str) -> np.ndarray:
    if c.ndim == 1:
        return c
    axis = channel_axis % x.ndim if x.ndim else 0
    channels = x.shape[axis]
    per_channel = c[channel_groups(channels, c.shape[0], what)]
    return per_channel.reshape(coefficient_shape(x.ndim, channel_axis, channels, c.shape[1]))


def _setup(x, numerator, denominator, version: str, channel_axis: int):
    check_version(version)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating) and x.dtype.name != "bfloat16":
        x = x.astype(np.float64)
    a = np.asarray(numerator, dtype=np.float64)
    b = np.asarray(denominator, dtype=np.float64)
    v = check_coefficients(version, a, b)
    grouped = a.ndim == 2 or b.ndim == 2
    if grouped and x.ndim == 0:
        raise ValueError("grouped coefficients need an input with a channel axis")
    ct = compute_dtype(x.dtype)
    xc = x.astype(ct)
    a_b = _broadcast(a, xc, channel_axis, "numerator").astype(ct)
    b_b = _broadcast(b, xc, channel_axis, "denominator").astype(ct)
    return v, x, xc, a, b, a_b, b_b, grouped


Form = Literal["reciprocal", "auto"]


def _use_direct(form: Form, v: Variant, xc: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether to evaluate :mod:`rationals.core.direct` (``form="auto"`` and moderate inputs)."""
    if form not in ("reciprocal", "auto"):
        raise ValueError(f"unknown form {form!r}; valid: reciprocal, auto")
    if form == "reciprocal" or v.version == "era" or xc.size == 0:
        return False
    limit = direct.direct_limit(v, float(np.abs(a).sum() + np.abs(b).sum()), xc.dtype)
    return bool(np.max(np.abs(xc)) <= limit)  # False for NaN


def rational(
    x: np.ndarray,
    numerator: np.ndarray,
    denominator: np.ndarray,
    version: str = "A",
    *,
    channel_axis: int = -1,
    form: Form = "reciprocal",
) -> np.ndarray:
    """R(x) = P(x)/Q(x) of ``version`` (``"D"`` evaluates as ``"B"``).

    ``numerator``/``denominator`` are ascending coefficients: 1-D for the shared layout, 2-D
    ``(groups, K)`` for grouped/per-channel layouts over ``channel_axis``. ``form="auto"`` uses
    the faster direct form (:mod:`rationals.core.direct`) when max |x| allows it; the default
    always uses the overflow-free reciprocal form (the reference the tests compare against).
    """
    v, x, xc, a, b, a_b, b_b, _ = _setup(x, numerator, denominator, version, channel_axis)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        if _use_direct(form, v, xc, a, b):
            return np.asarray(direct.forward(np, v, xc, a_b, b_b)).astype(x.dtype)
        eff = rmath.effective_degrees(v, a_b, b_b)
        return np.asarray(rmath.forward(np, v, xc, a_b, b_b, eff)).astype(x.dtype)


def _reduce(d: list[np.ndarray], g: np.ndarray, coef: np.ndarray, x_ndim: int, channel_axis: int):
    if not d:
        return np.zeros(coef.shape)
    if coef.ndim == 1:
        return np.array([np.sum(g * di) for di in d])
    axes = reduce_axes(x_ndim, channel_axis)
    per_channel = np.stack([np.sum(g * di, axis=axes) for di in d], axis=-1)  # (C, K)
    groups = coef.shape[0]
    return per_channel.reshape(groups, -1, per_channel.shape[-1]).sum(axis=1)


def rational_backward(
    x: np.ndarray,
    numerator: np.ndarray,
    denominator: np.ndarray,
    grad_output: np.ndarray,
    version: str = "A",
    *,
    channel_axis: int = -1,
    form: Form = "reciprocal",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dL/dx, dL/dnumerator, dL/ddenominator) given dL/dR = ``grad_output``.

    Coefficient gradients are float64 and shaped like the coefficients; dL/dx has x's dtype.
    ``form`` as in :func:`rational`.
    """
    v, x, xc, a, b, a_b, b_b, _ = _setup(x, numerator, denominator, version, channel_axis)
    g = np.broadcast_to(np.asarray(grad_output).astype(xc.dtype), xc.shape)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        if _use_direct(form, v, xc, a, b):
            dx, d_num, d_den = direct.backward(np, v, xc, a_b, b_b)
        else:
            eff = rmath.effective_degrees(v, a_b, b_b)
            dx, d_num, d_den = rmath.backward(np, v, xc, a_b, b_b, eff)
        dx = np.asarray(g * dx).astype(x.dtype)
        ga = _reduce(d_num, g, a, xc.ndim, channel_axis).astype(np.float64)
        gb = _reduce(d_den, g, b, xc.ndim, channel_axis).astype(np.float64)
    return dx, ga.reshape(a.shape), gb.reshape(b.shape)


def describe(v: Variant) -> str:
    """Human-readable formula of a variant, for reprs and plots."""
    return f"version {v.version}, degrees {v.degrees}"
