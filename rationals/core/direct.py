"""The direct form: R = P(x)/Q(x) by plain Horner in x, for inputs known to be moderate.

:mod:`rationals.core.math` evaluates |x| > 1 in a reciprocal form so that nothing overflows at any
magnitude; that costs a division by x, coefficient selections and signed powers per element. When
max |x| is at most :func:`direct_limit` (computed from the coefficients), no power of x, product or
quotient below can overflow, and Q of the safe variants is bounded away from 0 (A and B: Q ≥ 1,
C: Q ≥ 0.1), so the plain formulas give the same function with about a third of the work:

    P = Σ a_i x^i,  T = Σ d_j y^j,  Q = κ + α(T),  R = P/Q,
    ∂R/∂a_i = x^i/Q,  ∂R/∂d_j = −R/Q · α'(T) · y^j,  ∂R/∂x = P'/Q − R/Q · α'(T) T'(y) y'(x),

with the conventions of :mod:`rationals.core.math` (y = |x| for A, d_j = |b_j| for A,
sign(0) = +1). ERA has no polynomial form to switch: its forward is always direct.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import numpy as np

from . import math as rmath
from .math import Array, _denominator, _slices, sign_pos
from .variants import Variant

__all__ = ["Form", "backward", "direct_limit", "evaluators", "forward"]

#: How R is evaluated: ``"direct"`` (this module), or the reciprocal form of
#: :mod:`rationals.core.math` with static effective degrees ``(n', m')`` or run-time ones (None).
Form = Literal["direct"] | tuple[int, int] | None


def direct_limit(v: Variant, coefficient_abs_sum: Any, dtype: Any) -> Any:
    """The largest max |x| for which the direct form cannot overflow in ``dtype``.

    With s = 1 + Σ|coefficients| and k = max(n, m, 1): every term is at most s · |x|^k, and
    every product of two of them at most (s · |x|^k)², so |x|^k ≤ √max / s keeps all of them
    finite (float32: max |x| ≈ 7000 for (5, 4) with coefficients summing to 10).
    ``coefficient_abs_sum`` may be a float or a scalar array of any backend (for in-graph checks).
    """
    k = max(v.n, v.m, 1)
    return (float(np.sqrt(np.finfo(dtype).max)) / (1.0 + coefficient_abs_sum)) ** (1.0 / k)


def evaluators(xp: Any, v: Variant, form: Form) -> tuple[Callable, Callable]:
    """(forward, backward) of ``form`` over ``xp``, each called as f(x, a, b)."""
    if form == "direct":
        return partial(forward, xp, v), partial(backward, xp, v)
    return (partial(rmath.forward, xp, v, effective=form),
            partial(rmath.backward, xp, v, effective=form))


def _powers(xp: Any, y: Array, k: int) -> list[Array]:
    out = [xp.ones_like(y)]
    for _ in range(k):
        out.append(out[-1] * y)
    return out


def _horner(coefs: list[Array], x: Array) -> Array:
    acc = coefs[-1]
    for c in coefs[-2::-1]:
        acc = acc * x + c
    return acc


def _parts(xp: Any, v: Variant, x: Array, a: Array, b: Array):
    den = _denominator(xp, v, b)
    y = xp.abs(x) if den.abs_y else x
    t = _horner(den.d, y) * xp.ones_like(x)
    q = den.kappa + (xp.abs(t) if den.abs_t else t)
    p = _horner(_slices(a, v.n + 1), x) * xp.ones_like(x)
    return den, y, t, q, p


def forward(xp: Any, v: Variant, x: Array, a: Array, b: Array) -> Array:
    """R(x) in the direct form (every |x| at most :func:`direct_limit`)."""
    if v.version == "era":
        return rmath.forward(xp, v, x, a, b)
    _den, _y, _t, q, p = _parts(xp, v, x, a, b)
    return p / q


def backward(xp: Any, v: Variant, x: Array, a: Array, b: Array):
    """(dR/dx, [dR/da_i], [dR/db_j]) in the direct form, as :func:`rationals.core.math.backward`."""
    if v.version == "era":
        return rmath.backward(xp, v, x, a, b)
    den, y, t, q, p = _parts(xp, v, x, a, b)
    iq = 1.0 / q
    r = p * iq
    a_c = _slices(a, v.n + 1)
    xs = _powers(xp, x, max(v.n, v.m))
    d_num = [xs[i] * iq for i in range(v.n + 1)]
    ys = _powers(xp, y, v.m) if den.abs_y else xs
    r_iq = r * iq
    if den.abs_y:  # A: d_j = |b_j|, α = identity
        d_den = [-(r_iq * ys[j]) * sign_pos(xp, b[..., j - 1]) for j in range(1, v.m + 1)]
        slope = 1.0
    else:
        slope = sign_pos(xp, t) if den.abs_t else 1.0
        r_iq_s = r_iq * slope
        d_den = [-(r_iq_s * ys[j]) for j in range(v.denominator_offset, v.m + 1)]
    p_d = [a_c[i] * float(i) for i in range(1, v.n + 1)]
    t_d = [den.d[j] * float(j) for j in range(1, len(den.d))]
    dp = _horner(p_d, x) if p_d else 0.0
    dt = _horner(t_d, y) if t_d else 0.0
    dq = slope * dt * (sign_pos(xp, x) if den.abs_y else 1.0)
    dx = dp * iq - r_iq * dq
    return dx * xp.ones_like(x), d_num, d_den
