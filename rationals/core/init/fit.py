"""Minimax fits of R(x) = P(x)/Q(x) to any callable, for every version.

The fit minimises the maximum error max_x w(x)·|f(x) − R(x)| over a grid of the domain.

1. **Linear family.** Every version except ``era`` contains a family in which Q is *linear* in
   its parameters: Q(x) = 1 + Σ_j β_j φ_j(x), with φ_j = |x|^j and β ≥ 0 for ``A`` (exactly
   version A), φ_j = x^j with Q ≥ 1 for ``B``/``D`` (then |S| = S), φ_j = x^j − c^j (Q(c) = 1 at
   the domain's centre c) with Q ≥ 0.2 for ``C`` (T = Q − 0.1 ≥ 0.1), and Q ≥ 0.1 for ``N`` and
   ``boulle`` (Q(0) = 1 is N's form; boulle is normalised at c). P is expanded in Chebyshev
   polynomials of x/h, h = max |domain|, and converted to ascending powers of x at the end.
2. **Start.** The linearised least-squares problem min ‖w (P − f Q)‖₂ (scipy's ``lsq_linear``,
   with β ≥ 0 for A) gives a start when its Q satisfies the constraints; else Q = 1.
3. **Differential correction** (Cheney–Loeb; Barrodale, Powell & Roberts 1972). With the current
   (P_k, Q_k) and error δ_k, one linear programme (HiGHS) finds
       min ζ  s.t.  w|f Q − P| − δ_k Q ≤ ζ δ_k Q_k  on the grid, and the constraints on Q,
   whose solution has a smaller error whenever ζ < 0. The unknowns are the steps
   (P − P_k)/δ_k and (Q − Q_k)/δ_k, so the LP works on O(1) numbers even when δ_k is 1e-10.
   It converges to the best approximation of the family on the grid.
4. **Exchange.** The local maxima of the error on a dense grid join the grid; step 3 repeats.
5. **Polish** (``B``, ``D``, ``C``, ``era``). Their families are larger than the linear one, so
   SLSQP minimises t subject to −t ≤ w (R_θ − f) ≤ t in the version's own parameters θ, with the
   analytic Jacobian of :mod:`rationals.core.math`. It is kept only when it lowers the error.
6. **ERA.** The plain (m+1, m) fit (Q ≥ 0.1 on the domain) is written in partial fractions from
   the roots e ± i f of Q; every |f| is raised to at least :data:`ERA_MIN_F` (so that
   (x − e)² + f² ≥ 0.01 everywhere), the linear coefficients are refitted and step 5 runs
   with the bound |f| ≥ :data:`ERA_MIN_F`. Fixed spread starts compete with this one.

Every candidate is scored with the float64 reference :func:`rationals.core.rational`. Everything
is deterministic (no random starts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import math as rmath
from ..reference import rational
from ..variants import C_OFFSET, Variant, variant

__all__ = ["ERA_MIN_F", "FitResult", "dense_grid", "fit", "max_error"]

#: Smallest |f| of an ERA fit: every (x − e)² + f² is then ≥ 0.01.
ERA_MIN_F = 0.1
#: Points of the dense grid on which errors are measured.
DENSE_POINTS = 60001
#: Largest ratio max Q / min Q on the grid in a fit (bounds the coefficients).
DYNAMIC_RANGE = 1e6
_LP_SECONDS = 5.0  # a linear programme that takes longer is numerically stuck: stop there
_RHO = {"B": 1.0, "C": 2.0 * C_OFFSET, "N": 0.1, "boulle": 0.1}  # Q ≥ ρ Q(anchor) on the grid

Func = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class FitResult:
    """Coefficients of a fit (ascending, the version's parameter order) and its max error."""

    numerator: np.ndarray
    denominator: np.ndarray
    max_error: float
    version: str
    degrees: tuple[int, int]
    func_name: str


def _evaluate(func: Func, x: np.ndarray) -> np.ndarray:
    y = np.asarray(func(x), dtype=np.float64)
    if y.shape != x.shape:
        y = np.broadcast_to(y, x.shape).astype(np.float64)
    if not np.all(np.isfinite(y)):
        raise ValueError("func returned non-finite values on the domain")
    return y


def _check_domain(domain: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(d) for d in domain)
    except (TypeError, ValueError):
        raise ValueError(f"domain must be a pair (lo, hi) of numbers, got {domain!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"domain must be finite with lo < hi, got {domain!r}")
    return lo, hi


def dense_grid(domain: tuple[float, float]) -> np.ndarray:
    """The grid on which max errors are measured: :data:`DENSE_POINTS` points, plus 0 if inside."""
    lo, hi = _check_domain(domain)
    x = np.linspace(lo, hi, DENSE_POINTS)
    return np.union1d(x, [0.0]) if lo < 0.0 < hi else x


def max_error(
    func: Func,
    numerator: np.ndarray,
    denominator: np.ndarray,
    version: str = "A",
    domain: tuple[float, float] = (-3.0, 3.0),
) -> float:
    """max |func(x) − R(x)| on :func:`dense_grid` (``nan`` results count as ``inf``)."""
    x = dense_grid(domain)
    err = np.abs(_evaluate(func, x) - rational(x, numerator, denominator, version))
    return float(np.max(np.where(np.isnan(err), np.inf, err)))


# --------------------------------------------------------------------------- linear family
@dataclass(frozen=True)
class _Family:
    """Q = Σ_j γ_j φ_j(u) on u = x/h, with the constraints that put P/Q inside a version.

    Normalisation: 1/κ ≤ Q ≤ 1 on the grid (κ = :data:`DYNAMIC_RANGE`) and Q(anchor) ≥ 1/κ.
    ``rho``: Q ≥ ρ·Q(anchor) on the grid. At the end P and Q are divided by Q(anchor).
    """

    v: Variant
    h: float
    anchor: float  # in u: 0 for A, B, N (Q = 1 + …), the domain's centre otherwise
    powers: tuple[int, ...]
    abs_u: bool  # φ_j = |u|^j and γ ≥ 0 (version A)
    rho: float | None

    def numerator_basis(self, u: np.ndarray) -> np.ndarray:
        return np.polynomial.chebyshev.chebvander(u, self.v.n)

    def denominator_basis(self, u: np.ndarray) -> np.ndarray:
        base = np.abs(u) if self.abs_u else u
        return np.stack([base**j for j in self.powers], axis=1)

    def coefficients(self, alpha: np.ndarray, gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P, Q) ascending in x, Q of length m+1 with Q(anchor) = 1."""
        n, m, h = self.v.n, self.v.m, self.h
        p = np.zeros(n + 1)
        mono = np.polynomial.chebyshev.cheb2poly(alpha)
        p[: mono.size] = mono
        q = np.zeros(m + 1)
        q[list(self.powers)] = gamma
        scale = float(self.denominator_basis(np.array([self.anchor]))[0] @ gamma)
        return p / h ** np.arange(n + 1) / scale, q / h ** np.arange(m + 1) / scale


def _family(v: Variant, lo: float, hi: float) -> _Family:
    h = max(abs(lo), abs(hi))
    version = v.evaluated_as
    anchor = 0.5 * (lo + hi) / h if version in ("C", "boulle") else 0.0
    powers = tuple(range(v.m + 1))
    if version == "B" and lo < 0.0 < hi:
        powers = (0, *powers[2:])  # S ≥ 0 with S(0) = 0 forces b_1 = 0
    return _Family(v, h, anchor, powers, version == "A", _RHO.get(version))


def _version_coefficients(fam: _Family, p: np.ndarray, q: np.ndarray):
    """The version's own coefficients of the plain P/Q (Q from :meth:`_Family.coefficients`)."""
    version = fam.v.evaluated_as
    if version == "C":  # Q ≥ 0.2 on the domain: T = Q − 0.1 ≥ 0.1 and 0.1 + |T| = Q
        t = q.copy()
        t[0] -= C_OFFSET
        return p, t
    if version == "boulle":
        return p, q
    return p, q[1:]  # A (b_j ≥ 0, Q = 1 + Σ b_j |x|^j), B, N: Q = 1 + S


# --------------------------------------------------------------------------- linear programming
def _start(fam: _Family, num: np.ndarray, den: np.ndarray, fx: np.ndarray, w: np.ndarray):
    """Linearised least squares min ‖w (P − f Q)‖₂ with γ_0 = 1 if its Q is admissible; else Q = 1."""
    from scipy.optimize import lsq_linear

    k = num.shape[1]
    gamma = np.zeros(den.shape[1])
    gamma[0] = 1.0
    alpha = np.linalg.lstsq(w[:, None] * num, w * fx, rcond=None)[0]
    if den.shape[1] == 1:
        return alpha, gamma
    mat = np.hstack([num, -fx[:, None] * den[:, 1:]]) * w[:, None]
    lower = np.full(mat.shape[1], -np.inf)
    if fam.abs_u:
        lower[k:] = 0.0
    sol = lsq_linear(mat, w * fx, bounds=(lower, np.inf), method="bvls").x
    ls_gamma = np.concatenate([[1.0], sol[k:]])
    q = den @ ls_gamma
    q_anchor = float(fam.denominator_basis(np.array([fam.anchor]))[0] @ ls_gamma)
    top = np.max(q)
    ok = np.min(q) >= top / DYNAMIC_RANGE and q_anchor >= top / DYNAMIC_RANGE
    if ok and fam.rho is not None:
        ok = np.min(q) >= fam.rho * q_anchor
    return (sol[:k] / top, ls_gamma / top) if ok else (alpha, gamma)


def _weighted_error(alpha, gamma, num, den, fx, w) -> float:
    return float(np.max(w * np.abs(fx - (num @ alpha) / (den @ gamma))))


def _differential_correction(fam, num, den, fx, w, alpha, gamma, max_iter: int):
    """Iterate the differential-correction LP from (alpha, gamma) until the error stalls."""
    from scipy.optimize import linprog

    k, nb, npts = num.shape[1], den.shape[1], num.shape[0]
    den_anchor = fam.denominator_basis(np.array([fam.anchor]))
    zeros_p, zeros_z = np.zeros((npts, k)), np.zeros((npts, 1))
    lowest = 1.0 / DYNAMIC_RANGE
    delta = _weighted_error(alpha, gamma, num, den, fx, w)
    floor = 1e-14 * max(1.0, float(np.max(np.abs(w * fx))))  # below: float64 rounding noise
    for _ in range(max_iter):
        if delta <= floor:
            break
        qk = den @ gamma
        qa = float(den_anchor[0] @ gamma)
        r = (fx * qk - num @ alpha) * w / delta
        wnum, wden = w[:, None] * num, (w * fx)[:, None] * den
        # Unknowns: steps (P − P_k)/δ, (Q − Q_k)/δ and ζ. The error rows are divided by δ; the
        # rows on Q are written in ΔQ = δ·step, so every row holds O(1) numbers.
        rows = [
            np.hstack([-wnum, wden - delta * den, -qk[:, None]]),  # w(fQ − P) − δQ ≤ ζ δ Q_k
            np.hstack([wnum, -wden - delta * den, -qk[:, None]]),  # w(P − fQ) − δQ ≤ ζ δ Q_k
            np.hstack([zeros_p, delta * den, zeros_z]),  # Q ≤ 1
            np.hstack([zeros_p, -delta * den, zeros_z]),  # Q ≥ 1/κ
            np.hstack([np.zeros((1, k)), -delta * den_anchor, np.zeros((1, 1))]),  # Q(anchor) ≥ 1/κ
        ]
        rhs = [qk - r, qk + r, 1.0 - qk, qk - lowest, [qa - lowest]]
        if fam.rho is not None:  # Q ≥ ρ Q(anchor)
            rows.append(np.hstack([zeros_p, delta * (fam.rho * den_anchor - den), zeros_z]))
            rhs.append(qk - fam.rho * qa)
        rhs[2:] = [np.maximum(b, 0.0) for b in rhs[2:]]  # a step of 0 stays feasible
        bounds = [(None, None)] * k
        bounds += [(-g / delta, None) if fam.abs_u else (None, None) for g in gamma]
        bounds.append((None, 0.0))
        cost = np.zeros(k + nb + 1)
        cost[-1] = 1.0
        res = linprog(cost, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), bounds=bounds,
                      method="highs", options={"time_limit": _LP_SECONDS})
        if res.x is None or res.x[-1] > -1e-9:
            break
        new_alpha, new_gamma = alpha + delta * res.x[:k], gamma + delta * res.x[k:-1]
        if fam.abs_u:
            new_gamma = np.maximum(new_gamma, 0.0)
        top = float(np.max(den @ new_gamma))  # renormalise: max Q = 1 exactly
        new_alpha, new_gamma = new_alpha / top, new_gamma / top
        new_delta = _weighted_error(new_alpha, new_gamma, num, den, fx, w)
        if not new_delta < delta:
            break
        improvement = (delta - new_delta) / delta
        alpha, gamma, delta = new_alpha, new_gamma, new_delta
        if improvement < 1e-7:
            break
    return alpha, gamma


def _local_maxima(err: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` largest local maxima of ``err`` (endpoints included)."""
    padded = np.concatenate([[-np.inf], err, [-np.inf]])
    peaks = np.flatnonzero((padded[1:-1] >= padded[:-2]) & (padded[1:-1] >= padded[2:]))
    return peaks[np.argsort(err[peaks])[::-1][:count]]


def _linear_fit(func: Func, v: Variant, lo: float, hi: float, x: np.ndarray, w_func, max_iter):
    """Steps 1–4: the best rational of the linear family on ``x`` (+ exchanged points)."""
    fam = _family(v, lo, hi)
    dense = dense_grid((lo, hi))
    f_dense, w_dense = _evaluate(func, dense), _weights(w_func, dense)
    pts = x
    alpha = gamma = None
    for _ in range(3):  # exchange rounds
        u = pts / fam.h
        num, den = fam.numerator_basis(u), fam.denominator_basis(u)
        fx, w = _evaluate(func, pts), _weights(w_func, pts)
        if alpha is None:
            alpha, gamma = _start(fam, num, den, fx, w)
        alpha, gamma = _differential_correction(fam, num, den, fx, w, alpha, gamma, max_iter)
        ud = dense / fam.h
        r = fam.numerator_basis(ud) @ alpha / (fam.denominator_basis(ud) @ gamma)
        err = w_dense * np.abs(f_dense - r)
        if np.max(err) <= _weighted_error(alpha, gamma, num, den, fx, w) * (1.0 + 1e-6):
            break
        pts = np.union1d(pts, dense[_local_maxima(err, 4 * (v.n + v.m + 2))])
    return fam, *fam.coefficients(alpha, gamma)


# --------------------------------------------------------------------------- polish (SLSQP)
def _scales(v: Variant, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-coefficient scales s so that the coefficients of u = x/h are θ/s (O(1) numbers)."""
    if v.version == "era":
        return np.ones(v.numerator_size), np.ones(v.denominator_size)
    num = h ** -np.arange(v.n + 1.0)
    den = h ** -np.arange(v.denominator_offset, v.m + 1.0)
    return num, den


def _polish(
    v: Variant, x: np.ndarray, fx: np.ndarray, w: np.ndarray, numerator, denominator, h: float
):
    """min t s.t. |w (R_θ − f)| ≤ t on x, over θ = (numerator, denominator), from the given θ."""
    from scipy.optimize import minimize

    sa, sb = _scales(v, h)
    scale = np.concatenate([sa, sb])
    na = v.numerator_size

    def split(z):
        theta = z[:-1] * scale
        return theta[:na], theta[na:]

    def residual(z):
        a, b = split(z)
        return w * (rmath.forward(np, v, x, a, b) - fx)

    def cons(z):
        res = residual(z)
        return np.concatenate([z[-1] - res, z[-1] + res])

    def cons_jac(z):
        a, b = split(z)
        _, d_num, d_den = rmath.backward(np, v, x, a, b)
        jac = np.stack(d_num + d_den, axis=1) * scale * w[:, None]
        ones = np.ones((x.size, 1))
        return np.vstack([np.hstack([-jac, ones]), np.hstack([jac, ones])])

    theta0 = np.concatenate([numerator, denominator]) / scale
    t0 = float(np.max(np.abs(residual(np.append(theta0, 0.0)))))
    bounds = [(None, None)] * (theta0.size + 1)
    if v.version == "era":  # f_i ≥ ERA_MIN_F (the formula only uses f²)
        for i in range(1, v.denominator_size, 2):
            bounds[na + i] = (ERA_MIN_F, None)
    cost = np.zeros(theta0.size + 1)
    cost[-1] = 1.0
    res = minimize(
        lambda z: z[-1] / t0,
        np.append(theta0, t0),
        jac=lambda z: cost / t0,
        method="SLSQP",
        bounds=bounds,
        constraints=[{"type": "ineq", "fun": cons, "jac": cons_jac}],
        options={"maxiter": 200, "ftol": 1e-12},
    )
    a, b = split(res.x)
    return a, b


# --------------------------------------------------------------------------- ERA
def _era_from_plain(p: np.ndarray, q: np.ndarray, x: np.ndarray, fx: np.ndarray, w: np.ndarray):
    """Partial fractions a x + b + Σ (c x + d)/((x − e)² + f²) of P/Q from the roots of Q."""
    k = (q.size - 1) // 2
    roots = np.roots(q[::-1]) if abs(q[-1]) > 1e-12 * np.max(np.abs(q)) else np.array([])
    upper = sorted((r for r in roots if r.imag > 0.0), key=lambda r: r.real)
    reals = np.sort(roots[roots.imag == 0.0].real) if roots.size else roots.real
    poles = [(r.real, r.imag) for r in upper]
    poles += [(0.5 * (s + t), 0.5 * abs(t - s)) for s, t in zip(reals[::2], reals[1::2])]
    if len(poles) != k:
        return None
    den = np.array([[e, max(f, ERA_MIN_F)] for e, f in poles]).reshape(-1)
    return _era_linear(den, x, fx, w), den


def _era_linear(den: np.ndarray, x: np.ndarray, fx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Least-squares [a, b, c_1, d_1, …] for fixed poles (the ERA formula is linear in them)."""
    cols = [x, np.ones_like(x)]
    for e, f in den.reshape(-1, 2):
        q = (x - e) ** 2 + f * f
        cols += [x / q, 1.0 / q]
    basis = np.stack(cols, axis=1) * w[:, None]
    return np.linalg.lstsq(basis, w * fx, rcond=None)[0]


def _era_starts(v: Variant, lo: float, hi: float, p, q, x, fx, w):
    """Candidate (numerator, denominator) starts of an ERA fit."""
    starts = []
    converted = _era_from_plain(p, q, x, fx, w)
    if converted is not None:
        starts.append(converted)
    k = v.m // 2
    half = 0.5 * (hi - lo)
    for spread, f in ((0.5, 0.5), (1.0, 1.0)):
        e = 0.5 * (lo + hi) + spread * half * np.linspace(-1.0, 1.0, k + 2)[1:-1]
        den = np.stack([e, np.full(k, f * half)], axis=1).reshape(-1)
        starts.append((_era_linear(den, x, fx, w), den))
    return starts


# --------------------------------------------------------------------------- public entry
def _weights(w_func: Func | None, x: np.ndarray) -> np.ndarray:
    if w_func is None:
        return np.ones_like(x)
    w = _evaluate(w_func, x)
    if np.any(w <= 0.0):
        raise ValueError("weights must be positive on the domain")
    return w


def _fit_grid(lo: float, hi: float, num_points: int) -> np.ndarray:
    """Uniform points, Chebyshev points (dense near the ends), the centre and 0 if inside."""
    cheb = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.linspace(0.0, np.pi, num_points // 2))
    extra = [0.5 * (lo + hi)] + ([0.0] if lo < 0.0 < hi else [])
    return np.unique(np.concatenate([np.linspace(lo, hi, num_points), cheb, extra]))


def fit(
    func: Func,
    degrees: tuple[int, int] = (5, 4),
    version: str = "A",
    domain: tuple[float, float] = (-3.0, 3.0),
    *,
    num_points: int = 1000,
    weights: Func | None = None,
    max_iter: int = 60,
) -> FitResult:
    """Fit R of ``version`` and ``degrees`` to ``func`` on ``domain`` in the minimax sense.

    ``func`` maps a float64 array to an array of the same shape. ``weights`` (optional, a
    positive callable w) makes the fit minimise max w·|f − R|; ``max_error`` is always the plain
    max |f − R| on :func:`dense_grid`. ``D`` is fitted as ``B``. See the module docstring for the
    method and its safeguards (Q ≥ 0.1 on the domain for N and boulle, |f| ≥ 0.1 for era).
    """
    v = variant(version, degrees)
    lo, hi = _check_domain(domain)
    if not callable(func):
        raise ValueError(f"func must be callable, got {func!r}")
    if num_points < 2 * (v.n + v.m + 2):
        raise ValueError(f"num_points must be at least {2 * (v.n + v.m + 2)}, got {num_points}")
    x = _fit_grid(lo, hi, num_points)
    fx, w = _evaluate(func, x), _weights(weights, x)

    dense = dense_grid((lo, hi))
    f_dense, w_dense = _evaluate(func, dense), _weights(weights, dense)

    def score(c):  # weighted max error on the dense grid, nan counted as inf
        err = w_dense * np.abs(f_dense - rational(dense, c[0], c[1], version))
        return float(np.max(np.where(np.isnan(err), np.inf, err)))

    plain = Variant("boulle", v.n, v.m) if v.version == "era" else v
    fam, p, q = _linear_fit(func, plain, lo, hi, x, weights, max_iter)
    if v.version == "era":
        candidates = [
            _polish(v, x, fx, w, a, b, fam.h) for a, b in _era_starts(v, lo, hi, p, q, x, fx, w)
        ]
    else:
        candidates = [_version_coefficients(fam, p, q)]
        if v.evaluated_as in ("B", "C"):
            candidates.append(_polish(v, x, fx, w, *candidates[0], fam.h))
    best = min(candidates, key=score)
    numerator, denominator = (np.array(c, dtype=np.float64) for c in best)
    if v.version == "era":
        denominator[1::2] = np.abs(denominator[1::2])
    name = getattr(func, "__name__", None) or type(func).__name__
    error = max_error(func, numerator, denominator, version, (lo, hi))
    return FitResult(numerator, denominator, error, version, v.degrees, name)

