"""Forward and analytic backward of every variant, written once over an array namespace ``xp``.

``xp`` is any namespace with numpy's ``abs``, ``where`` and ``zeros_like``/``ones_like``
(``numpy``, ``torch``, ``jax.numpy``, ``tf.experimental.numpy``); arithmetic uses operators.
Coefficients are arrays whose *last* axis indexes the coefficient and whose other axes broadcast
against ``x`` (``(K,)`` for the shared layout, ``(C, 1, …, 1, K)`` per channel).

Overflow-free evaluation
------------------------
For |x| ≤ 1 the polynomials are evaluated directly (Horner in x). For |x| > 1 they are evaluated in
the reciprocal form: with z = 1/x, n' and m' the *effective* degrees (index of the highest non-zero
coefficient),

    P(x) = x^{n'} P̂(z),   P̂(z) = Σ_{i≤n'} a_i z^{n'−i},
    T(y) = y^{m'} T̂(w),   T̂(w) = Σ_{j≤m'} d_j w^{m'−j}   (y = |x| or x, w = 1/y),

so that Q = |x|^{m'} Q̂ with Q̂ bounded away from 0 and ∞ (its leading coefficient is non-zero), and
R = x^{n'}/|x|^{m'} · P̂/Q̂. Every intermediate is then bounded by the true result, so nothing
overflows unless the true value does, and 0/0 cannot occur. Powers |x|^e with a data-dependent e
are picked from a small table by ``where``, so shapes and code paths stay static (jit-friendly).

The subgradient of |·| at 0 is +1 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .variants import C_OFFSET, ERA_EPSILON, Variant

Array = Any


def sign_pos(xp: Any, v: Array) -> Array:
    """sign(v) with sign(0) = +1."""
    one = xp.ones_like(v)
    return xp.where(v >= 0, one, -one)


def _slices(c: Array, k: int) -> list[Array]:
    return [c[..., i] for i in range(k)]


def _effective_degree(xp: Any, coefs: list[Array]) -> Array:
    eff = xp.zeros_like(coefs[0])
    for i, c in enumerate(coefs[1:], start=1):
        eff = xp.where(c != 0, float(i), eff)
    return eff


def _rolled(xp: Any, coefs: list[Array], eff: Array | float) -> list[Array]:
    """r_k = c_{eff−k} (0 where eff−k < 0): the coefficients of the reversed polynomial in 1/x."""
    if isinstance(eff, float):  # static effective degree
        zero = xp.zeros_like(coefs[0])
        return [coefs[int(eff) - k] if int(eff) >= k else zero for k in range(len(coefs))]
    out = []
    for k in range(len(coefs)):
        r = xp.zeros_like(coefs[0])
        for i, c in enumerate(coefs):
            if i + k < len(coefs):
                r = xp.where(eff == float(i + k), c, r)
        out.append(r)
    return out


def _horner(xp: Any, v: Array, big: Array, direct: list[Array], rolled: list[Array]) -> Array:
    acc = xp.where(big, rolled[-1], direct[-1])
    for k in range(len(direct) - 2, -1, -1):
        acc = acc * v + xp.where(big, rolled[k], direct[k])
    return acc


def _select_power(
    xp: Any, table: dict[int, Array], exponent: Array, lo: int | None = None, hi: int | None = None
) -> Array:
    """table[e] where e == exponent (an integer-valued array in [lo, hi]), elementwise."""
    keys = [e for e in table if (lo is None or e >= lo) and (hi is None or e <= hi)]
    out = table[keys[0]]
    for e in keys[1:]:
        out = xp.where(exponent == float(e), table[e], out)
    return out


@dataclass
class _Denominator:
    """Q = κ + α(T(y)), T(y) = Σ_j d_j y^j, α = |·| or identity, y = |x| (A) or x."""

    d: list[Array]
    kappa: float
    abs_t: bool
    abs_y: bool


def _denominator(xp: Any, v: Variant, b: Array) -> _Denominator:
    bs = _slices(b, v.denominator_size)
    one = xp.ones_like(b[..., 0] if v.denominator_size else xp.sum(b, axis=-1))
    version = v.evaluated_as
    if version == "A":
        return _Denominator([one] + [xp.abs(c) for c in bs], 0.0, False, True)
    if version == "B":
        return _Denominator([one * 0.0, *bs], 1.0, True, False)
    if version == "C":
        return _Denominator(bs, C_OFFSET, True, False)
    if version == "N":
        return _Denominator([one, *bs], 0.0, False, False)
    return _Denominator(bs, 0.0, False, False)  # boulle


def _derivative(xp: Any, direct: list[Array], rolled: list[Array], eff: Array):
    zero = xp.zeros_like(direct[0])
    d_direct = [direct[k + 1] * float(k + 1) for k in range(len(direct) - 1)] + [zero]
    d_rolled = [(eff - float(k)) * rolled[k] for k in range(len(rolled))]
    return d_direct, d_rolled


@dataclass
class _Pieces:
    """Per-element quantities shared by forward and backward."""

    big: Array  # |x| > 1: reciprocal form
    sgn: Array  # sign(x), +1 at 0
    z: Array  # x, or 1/x in the big branch
    th: Array  # T(y), or T̂(w) in the big branch
    qh: Array  # Q, or Q̂ = Q / |x|^{m'} in the big branch
    r: Array  # R(x)
    p_eff: Array  # n'
    q_eff: Array  # m'
    shift: Array  # m' in the big branch, 0 in the small one
    power: dict[int, Array]  # |x|^e for e in [-(m+1), max(n, m)]
    den: _Denominator
    m: int
    static: bool = False  # p_eff, q_eff are Python floats: exponents and parities are static
    iq: Array = None  # 1/Q̂, set by backward: one division instead of one per coefficient

    def static_power(self, xp: Any, e_big: int, e_small: int, odd: bool | None = None) -> Array:
        """±|x|^{e_big−m'} in the big branch, ±|x|^{e_small} in the small one (static exponents).

        The sign is sgn where ``odd`` (a bool: both branches), or, for ``odd=None``, where
        :meth:`parity` of that branch's exponent is odd.
        """
        q = int(self.q_eff)
        mag = xp.where(self.big, self.power[e_big - q], self.power[e_small])
        if odd is not None:
            odd_big = odd_small = odd
        elif self.den.abs_t or self.den.abs_y:
            odd_big, odd_small = e_big % 2 == 1, e_small % 2 == 1
        else:
            odd_big, odd_small = (e_big - q) % 2 == 1, e_small % 2 == 1
        if odd_big and odd_small:
            return self.sgn * mag
        if odd_big or odd_small:
            return xp.where(self.big == odd_big, self.sgn, 1.0) * mag
        return mag

    def signed_power(self, xp: Any, i: Array | float, odd: Array | bool | None) -> Array:
        """±|x|^{i−shift} (sign sgn when ``odd``): x^i / (Q/Q̂) without overflow."""
        if self.static and isinstance(i, float):
            return self.static_power(xp, int(i), int(i), odd if isinstance(odd, bool) else None)
        if isinstance(i, float):  # static i: shift ∈ [0, m] leaves m+1 candidates
            mag = _select_power(xp, self.power, i - self.shift, int(i) - self.m, int(i))
        else:
            mag = _select_power(xp, self.power, i - self.shift)
        if isinstance(odd, bool):
            return self.sgn * mag if odd else mag
        return xp.where(odd, self.sgn * mag, mag)

    def x_over_q(self, xp: Any, i: Array | float, odd: Array | bool | None) -> Array:
        """x^i / Q as ±|x|^{i−shift} · (1/Q̂) (backward only: needs :attr:`iq`)."""
        return self.signed_power(xp, i, odd) * self.iq

    def parity(self, xp: Any, e: Array | int) -> Array | bool | None:
        """Whether sgn multiplies x^e/Q: parity of e for |·| variants, of e − m' otherwise.

        ``e`` is a Python int, or a coefficient-shaped exponent that applies in the big branch
        (0 in the small one): the modulo runs on coefficient-shaped arrays only, never per element
        (XLA on CPU lowers a per-element float modulo to a libm call). None when the degrees are
        static (:meth:`static_power` then derives the sign itself).
        """
        absolute = self.den.abs_t or self.den.abs_y
        if isinstance(e, int):
            if self.static:
                return None
            if absolute:
                return e % 2 != 0
            odd_big = self.big & ((e - self.q_eff) % 2 != 0)
            return odd_big | ~self.big if e % 2 else odd_big
        return self.big & ((e if absolute else e - self.q_eff) % 2 != 0)


def _pieces(
    xp: Any, v: Variant, x: Array, a: Array, b: Array, effective: tuple[int, int] | None = None
) -> _Pieces:
    n, m = v.n, v.m
    ax = xp.abs(x)
    big = ax > 1.0
    sgn = sign_pos(xp, x)
    z = xp.where(big, 1.0 / xp.where(big, x, 1.0), x)
    az = xp.abs(z)

    a_c = _slices(a, n + 1)
    den = _denominator(xp, v, b)
    if effective is None:
        p_eff, q_eff = _effective_degree(xp, a_c), _effective_degree(xp, den.d)
    else:
        p_eff, q_eff = float(effective[0]), float(effective[1])
    ph = _horner(xp, z, big, a_c, _rolled(xp, a_c, p_eff))
    th = _horner(xp, az if den.abs_y else z, big, den.d, _rolled(xp, den.d, q_eff))

    power = {0: xp.ones_like(ax)}
    for e in range(1, max(n, m) + 1):  # x^j/Q in the small branch needs j ≤ m
        power[e] = power[e - 1] * ax
    for e in range(1, m + 2):
        power[-e] = power[-e + 1] * xp.where(big, az, 0.0)
    shift = xp.where(big, q_eff, 0.0)

    static = effective is not None
    if den.abs_t:  # Q̂ = κ |z|^{m'} + |T̂|
        z_m = power[-int(q_eff)] if static else _select_power(xp, power, -q_eff, -m, 0)
        qh = den.kappa * xp.where(big, z_m, 1.0) + xp.abs(th)
    else:
        qh = den.kappa + th
    p = _Pieces(big, sgn, z, th, qh, None, p_eff, q_eff, shift, power, den, m, static)
    if static:
        p.r = p.static_power(xp, int(p_eff), 0) * (ph / qh)
    else:
        n_used = xp.where(big, p_eff, 0.0)  # R = ±|x|^{n'−m'} P̂/Q̂, or P/Q
        p.r = p.signed_power(xp, n_used, p.parity(xp, p_eff)) * (ph / qh)
    return p


def effective_degrees(v: Variant, a: Any, b: Any) -> tuple[int, int] | None:
    """(n', m'): indices of the highest non-zero numerator and denominator-polynomial
    coefficients (numpy arrays, any layout), or None if they differ between groups.

    Plain Python on the few coefficients: it runs on every call of the torch CPU kernels.
    """
    import numpy as np

    def last_nonzero(rows: list[list[float]]) -> int | None:
        found = {max((i for i, c in enumerate(r) if c != 0), default=0) for r in rows}
        return found.pop() if len(found) == 1 else None

    a_rows = np.asarray(a, dtype=np.float64).reshape(-1, v.n + 1).tolist()
    size = v.denominator_size
    b_rows = np.asarray(b, dtype=np.float64).reshape(-1, size).tolist() if size else [[]]
    lead = {"A": [1.0], "B": [0.0], "N": [1.0]}.get(v.evaluated_as, [])  # T's fixed d_0
    n_eff, m_eff = last_nonzero(a_rows), last_nonzero([lead + r for r in b_rows])
    return None if n_eff is None or m_eff is None else (n_eff, m_eff)


def has_full_degrees(xp: Any, v: Variant, a: Array, b: Array) -> Array:
    """Whether every leading coefficient (a_n and the top denominator one) is non-zero, i.e. the
    effective degrees are (n, m): a scalar boolean array, for a run-time switch (``lax.cond``,
    ``tf.cond``) between the static-degree code and the general one."""
    return xp.all(a[..., v.n] != 0) & xp.all(_denominator(xp, v, b).d[-1] != 0)


def forward(
    xp: Any, v: Variant, x: Array, a: Array, b: Array, effective: tuple[int, int] | None = None
) -> Array:
    """R(x) elementwise, in the dtype of ``x`` (pass a float32/float64 ``x``).

    ``effective``: the effective degrees (n', m') of the coefficients (:func:`effective_degrees`)
    when the caller knows them; the code then has static exponents (much faster when compiled).
    """
    if v.version == "era":
        return _era_forward(xp, v, x, a, b)
    return _pieces(xp, v, x, a, b, effective).r


def backward(
    xp: Any, v: Variant, x: Array, a: Array, b: Array, effective: tuple[int, int] | None = None
):
    """Per-element derivatives: (dR/dx, [dR/da_i], [dR/db_j]).

    The coefficient derivatives are lists of arrays of x's shape; callers multiply by the
    upstream gradient and reduce (fused kernels do so without materialising the lists).
    ``effective`` as in :func:`forward`.
    """
    if v.version == "era":
        return _era_backward(xp, v, x, a, b)
    p = _pieces(xp, v, x, a, b, effective)
    p.iq = 1.0 / p.qh
    den, big = p.den, p.big
    a_c = _slices(a, v.n + 1)

    # dR/da_i = x^i / Q.
    d_num = [p.x_over_q(xp, float(i), p.parity(xp, i)) for i in range(v.n + 1)]

    # dR/dd_j = −R/Q · α'(T) · y^j, then the chain rule from d to b.
    first = v.denominator_offset
    if den.abs_y:  # A: y = |x|, d_j = |b_j|
        d_den = [
            -p.r * p.x_over_q(xp, float(j), False) * sign_pos(xp, b[..., j - 1])
            for j in range(1, v.m + 1)
        ]
        s_hat = 1.0
    else:
        s_hat = 1.0
        sign_t = 1.0
        if den.abs_t:
            # sign(T) = sgn^{m'} sign(T̂) in the big branch; sign(0) = +1.
            s_hat = sign_pos(xp, p.th)
            m_odd = int(p.q_eff) % 2 == 1 if p.static else big & (p.q_eff % 2 == 1)
            if p.static and not m_odd:
                sign_t = s_hat
            else:
                big_odd = big if p.static else m_odd
                sign_t = xp.where(big_odd & (p.th != 0), p.sgn * s_hat, s_hat)
                s_hat = xp.where(big_odd & (p.th == 0), p.sgn, s_hat)
        d_den = [
            -p.r * p.x_over_q(xp, float(j), p.parity(xp, j)) * sign_t
            for j in range(first, v.m + 1)
        ]

    # dR/dx = P'/Q − R Q'/Q.
    p_d, p_dr = _derivative(xp, a_c, _rolled(xp, a_c, p.p_eff), p.p_eff)
    t_d, t_dr = _derivative(xp, den.d, _rolled(xp, den.d, p.q_eff), p.q_eff)
    pdh = _horner(xp, p.z, big, p_d, p_dr)
    tdh = _horner(xp, xp.abs(p.z) if den.abs_y else p.z, big, t_d, t_dr)
    # P'/Q: P'(x)/Q, or ±|x|^{n'−1−m'} P̂'(z)/Q̂ in the big branch.
    if p.static:
        p_over_q = p.static_power(xp, int(p.p_eff) - 1, 0) * (pdh * p.iq)
    else:
        n_used = xp.where(big, p.p_eff - 1.0, 0.0)
        p_over_q = p.signed_power(xp, n_used, p.parity(xp, p.p_eff - 1.0)) * (pdh * p.iq)
    # Q'/Q: α'(T) T'(y) y'/Q, or z ŝ T̂'(w)/Q̂ in the big branch.
    if den.abs_y:
        q_over_q = xp.where(big, p.z, p.sgn) * (tdh * p.iq)
    elif den.abs_t:
        q_over_q = xp.where(big, p.z * s_hat, sign_pos(xp, p.th)) * (tdh * p.iq)
    else:
        q_over_q = xp.where(big, p.z, 1.0) * (tdh * p.iq)
    dx = p_over_q - p.r * q_over_q
    return dx, d_num, d_den


def _era_terms(xp: Any, v: Variant, x: Array, a: Array, b: Array):
    k = v.m // 2
    for i in range(k):
        c, d = a[..., 2 + 2 * i], a[..., 3 + 2 * i]
        e, f = b[..., 2 * i], b[..., 2 * i + 1]
        u = x - e
        q = u * u + f * f + ERA_EPSILON
        yield c, d, e, f, u, q


def _era_forward(xp: Any, v: Variant, x: Array, a: Array, b: Array) -> Array:
    out = a[..., 0] * x + a[..., 1]
    for c, d, _e, _f, _u, q in _era_terms(xp, v, x, a, b):
        out = out + c * (x / q) + d / q  # (c x + d)/q without overflowing c x
    return out


def _era_backward(xp: Any, v: Variant, x: Array, a: Array, b: Array):
    ones = xp.ones_like(x)
    dx = a[..., 0] * ones
    d_num = [x, ones]
    d_den = []
    for c, d, _e, f, u, q in _era_terms(xp, v, x, a, b):
        xq, iq = x / q, 1.0 / q
        h = c * xq + d * iq  # (c x + d)/q
        d_num += [xq, iq]
        d_den += [h * (2.0 * u * iq), -h * (2.0 * f * iq)]
        dx = dx + c * iq - h * (2.0 * u * iq)
    return dx, d_num, d_den
