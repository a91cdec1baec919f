"""Minimax fits of R(x) = P(x)/Q(x) to any callable, for every version.

:func:`fit` minimises the maximum error max_x w(x)·|f(x) − R(x)| over a grid of the domain.

1. **Linear families.** Each version contains families in which Q is *linear* in its parameters,
   Q(u) = Σ_j γ_j φ_j(u) on u = x/h (h = max |domain|), with linear constraints:

   ========  ==========================  ==========================================
   version   φ_j                         constraint that makes P/Q the version's R
   ========  ==========================  ==========================================
   A         |u|^j                       γ ≥ 0 (this *is* version A)
   B, D      u^j (j ≠ 1), |u| u^(j−1)    Q ≥ Q(0), so |S| = S, resp. |S| = sign(x) S
   C         u^j                         Q ≥ 0.2 Q(c), so T = Q − 0.1 ≥ 0.1
   N         u^j                         Q ≥ 0.1 Q(0): no pole near the domain
   boulle    u^j                         Q ≥ 0.1 Q(c)
   ========  ==========================  ==========================================

   (c: the domain's centre.) P is a Chebyshev series in u. Normalisation: the mean of Q on the
   grid is 1, and Q ≥ 1/κ there (κ = :data:`DYNAMIC_RANGE`, which bounds the coefficients); at
   the end P and Q are divided by Q(0) (A, B, N) or Q(c) (C, boulle).
2. **Start.** The linearised least-squares problem min ‖w (P − f Q)‖₂ with γ_0 = 1 (scipy's
   ``lsq_linear``, γ ≥ 0 for A) gives the start when its Q satisfies the constraints; else Q = 1.
3. **Differential correction** (Cheney & Loeb 1961; Barrodale, Powell & Roberts 1972). With the
   current (P_k, Q_k) and error δ_k, one linear programme (HiGHS) solves
       min ζ  s.t.  w |f Q − P| − δ_k Q ≤ ζ δ_k Q_k  on the grid, and the constraints on Q;
   the error of its solution is below δ_k whenever ζ < 0. The unknowns are the steps
   (P − P_k)/δ_k and (Q − Q_k)/δ_k, so the LP works on O(1) numbers even when δ_k is 1e-12.
   The iteration converges to the best approximation of the family on the grid.
4. **Exchange.** The largest local maxima of the error on :func:`dense_grid` join the grid and
   step 3 resumes, until the dense error equals the grid error.
5. **ERA.** A plain (m+1, m) fit as for boulle, with Q > 0 on all of ℝ besides (the linear
   constraints cos^m θ · Q(tan θ) ≥ η Q(c) on a grid of θ ∈ [−π/2, π/2]), so that Q's roots
   are conjugate pairs e ± i f. Its partial fractions, with residues ρ: a pair contributes
   (c x + d)/((x − e)² + f²) with c = 2 Re ρ, d = −2 Re(ρ (e − i f)); the stored f is
   √(f² − ε) to cancel ERA's ε. Poles must lie in a box: f ≥ :data:`ERA_MIN_F` (so that
   (x − e)² + f² ≥ 0.01 everywhere), and |e − c|, f ≤ :data:`ERA_POLE_RADIUS` half-widths
   (farther poles only buy tiny gains with huge, cancelling c, d). If all poles lie in the box,
   the partial fractions are the result. Otherwise the poles are moved into the box and the
   linear coefficients refitted by least squares; with two fixed spreads of poles these are
   starts, from which SLSQP solves min t s.t. −t ≤ w (R_θ − f) ≤ t in ERA's own parameters θ,
   with the box as bounds and the analytic Jacobian of :mod:`rationals.core.math`.

Candidates are scored with the float64 reference :func:`rationals.core.rational` on
:func:`dense_grid`; the best one is returned. There is no randomness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import math as rmath
from ..reference import rational
from ..variants import C_OFFSET, ERA_EPSILON, Variant, variant

__all__ = ["ERA_MIN_F", "ERA_POLE_RADIUS", "FitResult", "dense_grid", "fit", "max_error"]

Func = Callable[[np.ndarray], np.ndarray]

#: Smallest f of an ERA fit: every (x − e)² + f² is then ≥ 0.01.
ERA_MIN_F = 0.1
#: ERA poles stay within this many half-widths of the domain's centre (e and f).
ERA_POLE_RADIUS = 10.0
#: Points of the uniform grid on which errors are measured.
DENSE_POINTS = 60001
#: Largest ratio mean Q / min Q on the grid in a fit (bounds the coefficients).
DYNAMIC_RANGE = 1e6
_RHO = {"B": 1.0, "C": 2.0 * C_OFFSET, "N": 0.1, "boulle": 0.1}  # Q ≥ ρ Q(anchor) on the grid
_WHOLE_LINE_MARGIN = 1e-4  # η: cos^m θ Q(tan θ) ≥ η Q(c) for the ERA plain fit
_EXCHANGE_ROUNDS = 5
_LP_MAX_ITER = 2000  # simplex iterations (a few dozen are typical): beyond, the LP is stuck
#: HiGHS reports numerical trouble on some near-degenerate LPs; the next attempt usually solves it.
_LP_ATTEMPTS = (
    ("highs", {}),
    ("highs-ipm", {}),
    ("highs-ds", {"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9}),
)


@dataclass(frozen=True, eq=False)
class FitResult:
    """Coefficients of a fit (ascending, the version's parameter order) and its max error."""

    numerator: np.ndarray
    denominator: np.ndarray
    max_error: float
    version: str
    degrees: tuple[int, int]
    func_name: str


def _evaluate(func: Func, x: np.ndarray, what: str = "func") -> np.ndarray:
    y = np.broadcast_to(np.asarray(func(x), dtype=np.float64), x.shape)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{what} returned non-finite values on the domain")
    return y


def _check_domain(domain: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(d) for d in domain)
    except (TypeError, ValueError):
        raise ValueError(f"domain must be a pair (lo, hi) of numbers, got {domain!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"domain must be finite with lo < hi, got {domain!r}")
    return lo, hi


def dense_grid(domain: tuple[float, float] = (-3.0, 3.0)) -> np.ndarray:
    """:data:`DENSE_POINTS` uniform points of ``domain``, plus 0 when it lies inside."""
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
    """max |func(x) − R(x)| on :func:`dense_grid` (a NaN of R counts as an infinite error)."""
    x = dense_grid(domain)
    err = np.abs(_evaluate(func, x) - rational(x, numerator, denominator, version))
    return float(np.max(np.where(np.isnan(err), np.inf, err)))


@dataclass(frozen=True, eq=False)
class _Problem:
    """The target on the fitting grid and on the dense grid."""

    func: Func
    weights: Func | None
    lo: float
    hi: float
    x: np.ndarray
    fx: np.ndarray
    w: np.ndarray
    dense: np.ndarray
    f_dense: np.ndarray
    w_dense: np.ndarray


def _weights(w_func: Func | None, x: np.ndarray) -> np.ndarray:
    if w_func is None:
        return np.ones_like(x)
    w = _evaluate(w_func, x, "weights")
    if np.any(w <= 0.0):
        raise ValueError("weights must be positive on the domain")
    return w


def _problem(func: Func, weights: Func | None, lo: float, hi: float, num_points: int) -> _Problem:
    """Grid: uniform points, Chebyshev points (dense near the ends), the centre and 0 if inside."""
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    cheb = mid + half * np.cos(np.linspace(0.0, np.pi, num_points // 2))
    extra = [mid, 0.0] if lo < 0.0 < hi else [mid]
    x = np.unique(np.concatenate([np.linspace(lo, hi, num_points), cheb, extra]))
    dense = dense_grid((lo, hi))
    return _Problem(func, weights, lo, hi, x, *_pair(func, weights, x), dense,
                    *_pair(func, weights, dense))


def _pair(func: Func, weights: Func | None, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _evaluate(func, x), _weights(weights, x)


# --------------------------------------------------------------------------- linear families
@dataclass(frozen=True)
class _Family:
    """Q = Σ_j γ_j φ_j(u) on u = x/h, with the constraints that put P/Q inside a version."""

    v: Variant
    h: float
    anchor: float  # in u: 0 for A, B, N (whose Q is 1 + …), the domain's centre otherwise
    powers: tuple[int, ...]
    kind: str  # φ_j: "abs" |u|^j with γ ≥ 0 (A), "odd" |u| u^(j−1) (B), "plain" u^j
    rho: float | None  # Q ≥ ρ Q(anchor) on the grid
    whole_line: bool = False  # Q > 0 on all of ℝ (era): no real pole anywhere

    def numerator_basis(self, u: np.ndarray) -> np.ndarray:
        return np.polynomial.chebyshev.chebvander(u, self.v.n)

    def denominator_basis(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        if self.kind == "abs":
            cols = [np.abs(u) ** j for j in self.powers]
        elif self.kind == "odd":
            cols = [np.abs(u) * u ** (j - 1) if j else np.ones_like(u) for j in self.powers]
        else:
            cols = [u**j for j in self.powers]
        return np.stack(cols, axis=-1)

    def homogeneous_basis(self) -> np.ndarray:
        """Rows cos^m θ · φ_j(tan θ) on θ ∈ [−π/2, π/2]: Q > 0 on ℝ iff all of them are > 0."""
        theta = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 8 * self.v.m + 1)
        sin, cos = np.sin(theta)[:, None], np.cos(theta)[:, None]
        return sin ** np.array(self.powers) * cos ** (self.v.m - np.array(self.powers))

    def coefficients(self, alpha: np.ndarray, gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P, Q) ascending in x with Q(anchor) = 1; Q's x^j coefficient is γ_j for every kind."""
        n, m, h = self.v.n, self.v.m, self.h
        p = np.zeros(n + 1)
        mono = np.polynomial.chebyshev.cheb2poly(alpha)
        p[: mono.size] = mono
        q = np.zeros(m + 1)
        q[list(self.powers)] = gamma
        scale = float(self.denominator_basis(self.anchor) @ gamma)
        return p / h ** np.arange(n + 1) / scale, q / h ** np.arange(m + 1) / scale

    def version_coefficients(self, p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The version's (numerator, denominator) of the plain P/Q from :meth:`coefficients`."""
        version = self.v.evaluated_as
        if version == "C":  # Q ≥ 0.2 on the domain: T = Q − 0.1 ≥ 0.1, so 0.1 + |T| = Q
            t = q.copy()
            t[0] -= C_OFFSET
            return p, t
        if version == "boulle":
            return p, q
        return p, q[1:]  # A: Q = 1 + Σ b_j |x|^j (b ≥ 0); B: Q = 1 + |S|; N: Q = 1 + S


def _families(v: Variant, lo: float, hi: float) -> list[_Family]:
    h = max(abs(lo), abs(hi))
    if v.version == "era":  # the plain fit, without real poles, whose poles start ERA's
        return [_Family(v, h, 0.5 * (lo + hi) / h, tuple(range(v.m + 1)), "plain", _RHO["boulle"],
                        whole_line=True)]
    version = v.evaluated_as
    rho = _RHO.get(version)
    powers = tuple(range(v.m + 1))
    if version == "A":
        return [_Family(v, h, 0.0, powers, "abs", None)]
    if version == "B":  # S ≥ 0 (S(0) = 0 then forces b_1 = 0), or sign(x) S ≥ 0
        even = (0, *powers[2:]) if lo < 0.0 < hi else powers
        return [_Family(v, h, 0.0, even, "plain", rho), _Family(v, h, 0.0, powers, "odd", rho)]
    anchor = 0.0 if version == "N" else 0.5 * (lo + hi) / h
    return [_Family(v, h, anchor, powers, "plain", rho)]


# --------------------------------------------------------------------------- linear programming
def _start(fam: _Family, num: np.ndarray, den: np.ndarray, fx: np.ndarray, w: np.ndarray):
    """Linearised least squares min ‖w (P − f Q)‖₂, γ_0 = 1, if its Q is admissible; else Q = 1."""
    from scipy.optimize import lsq_linear

    k = num.shape[1]
    gamma = np.zeros(den.shape[1])
    gamma[0] = 1.0
    alpha = np.linalg.lstsq(w[:, None] * num, w * fx, rcond=None)[0]
    if den.shape[1] == 1:
        return alpha, gamma
    mat = np.hstack([num, -fx[:, None] * den[:, 1:]]) * w[:, None]
    lower = np.full(mat.shape[1], -np.inf)
    if fam.kind == "abs":
        lower[k:] = 0.0
    sol = lsq_linear(mat, w * fx, bounds=(lower, np.inf), method="bvls").x
    ls_gamma = np.concatenate([[1.0], sol[k:]])
    q, q_anchor = den @ ls_gamma, float(fam.denominator_basis(fam.anchor) @ ls_gamma)
    top = float(np.mean(q))
    ok = min(np.min(q), q_anchor) >= top / DYNAMIC_RANGE
    if ok and fam.rho is not None:
        ok = np.min(q) >= fam.rho * q_anchor
    if ok and fam.whole_line:
        ok = np.min(fam.homogeneous_basis() @ ls_gamma) >= _WHOLE_LINE_MARGIN * q_anchor
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
    hom = fam.homogeneous_basis() if fam.whole_line else None
    den_mean = np.mean(den, axis=0)
    scale = float(den_mean @ gamma)  # grid points may have been added: mean Q = 1 again
    alpha, gamma = alpha / scale, gamma / scale
    floor = 1e-14 * max(1.0, float(np.max(np.abs(w * fx))))  # float64 rounding of f Q − P
    delta = _weighted_error(alpha, gamma, num, den, fx, w)
    for _ in range(max_iter):
        if delta <= floor:
            break
        qk, qa = den @ gamma, float(den_anchor[0] @ gamma)
        r = (fx * qk - num @ alpha) * w / delta
        wnum, wden = w[:, None] * num, (w * fx)[:, None] * den
        # Unknowns: the steps (P − P_k)/δ, (Q − Q_k)/δ and ζ. The error rows are divided by δ,
        # the rows on Q are written in ΔQ = δ·step: every row holds O(1) numbers.
        rows = [
            np.hstack([-wnum, wden - delta * den, -qk[:, None]]),  # w (fQ − P) − δQ ≤ ζ δ Q_k
            np.hstack([wnum, -wden - delta * den, -qk[:, None]]),  # w (P − fQ) − δQ ≤ ζ δ Q_k
            np.hstack([zeros_p, -delta * den, zeros_z]),  # Q ≥ 1/κ
            np.hstack([np.zeros((1, k)), -delta * den_anchor, np.zeros((1, 1))]),  # Q(anchor)
        ]
        rhs = [qk - r, qk + r, qk - lowest, [qa - lowest]]
        if fam.rho is not None:  # Q ≥ ρ Q(anchor)
            rows.append(np.hstack([zeros_p, delta * (fam.rho * den_anchor - den), zeros_z]))
            rhs.append(qk - fam.rho * qa)
        if fam.whole_line:  # cos^m θ Q(tan θ) ≥ η Q(anchor)
            rows.append(np.hstack([np.zeros((hom.shape[0], k)),
                                   delta * (_WHOLE_LINE_MARGIN * den_anchor - hom),
                                   np.zeros((hom.shape[0], 1))]))
            rhs.append(hom @ gamma - _WHOLE_LINE_MARGIN * qa)
        rhs[2:] = [np.maximum(b, 0.0) for b in rhs[2:]]  # a zero step stays feasible
        mean_row = np.concatenate([np.zeros(k), delta * den_mean, [0.0]])[None, :]  # mean Q = 1
        bounds = [(None, None)] * k
        bounds += [(-g / delta, None) if fam.kind == "abs" else (None, None) for g in gamma]
        bounds.append((None, 0.0))
        cost = np.zeros(k + nb + 1)
        cost[-1] = 1.0
        for method, options in _LP_ATTEMPTS:
            res = linprog(cost, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), A_eq=mean_row,
                          b_eq=[0.0], bounds=bounds, method=method,
                          options={"maxiter": _LP_MAX_ITER, **options})
            if res.status == 0:
                break
        if res.status != 0 or res.x[-1] > -1e-9:
            break
        new_alpha, new_gamma = alpha + delta * res.x[:k], gamma + delta * res.x[k:-1]
        if fam.kind == "abs":
            new_gamma = np.maximum(new_gamma, 0.0)
        scale = float(den_mean @ new_gamma)  # renormalise to mean Q = 1 exactly
        new_alpha, new_gamma = new_alpha / scale, new_gamma / scale
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


def _linear_fit(prob: _Problem, fam: _Family, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2–4: the best (P, Q) of ``fam``, ascending in x with Q(anchor) = 1."""
    pts, fx, w = prob.x, prob.fx, prob.w
    u_dense = prob.dense / fam.h
    num_dense, den_dense = fam.numerator_basis(u_dense), fam.denominator_basis(u_dense)
    alpha = gamma = None
    for _ in range(_EXCHANGE_ROUNDS):
        num, den = fam.numerator_basis(pts / fam.h), fam.denominator_basis(pts / fam.h)
        if alpha is None:
            alpha, gamma = _start(fam, num, den, fx, w)
        alpha, gamma = _differential_correction(fam, num, den, fx, w, alpha, gamma, max_iter)
        err = prob.w_dense * np.abs(prob.f_dense - (num_dense @ alpha) / (den_dense @ gamma))
        if np.max(err) <= _weighted_error(alpha, gamma, num, den, fx, w) * (1.0 + 1e-6):
            break
        new = prob.dense[_local_maxima(err, 4 * (fam.v.n + fam.v.m + 2))]
        pts = np.union1d(pts, new)
        fx, w = _pair(prob.func, prob.weights, pts)
    return fam.coefficients(alpha, gamma)


# --------------------------------------------------------------------------- ERA
def _era_linear(prob: _Problem, den: np.ndarray) -> np.ndarray:
    """Least-squares [a, b, c_1, d_1, …] for fixed [e_1, f_1, …] (ERA is linear in them)."""
    x = prob.x
    cols = [x, np.ones_like(x)]
    for e, f in den.reshape(-1, 2):
        q = (x - e) ** 2 + f * f + ERA_EPSILON
        cols += [x / q, 1.0 / q]
    basis = np.stack(cols, axis=1) * prob.w[:, None]
    return np.linalg.lstsq(basis, prob.w * prob.fx, rcond=None)[0]


def _era_box(prob: _Problem, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of [e_1, f_1, …]: |e − centre| ≤ R, ERA_MIN_F ≤ f ≤ R, R = ERA_POLE_RADIUS·half-width.

    Poles further out only add huge, nearly cancelling coefficients (c, d ~ R²).
    """
    mid, radius = 0.5 * (prob.lo + prob.hi), ERA_POLE_RADIUS * 0.5 * (prob.hi - prob.lo)
    return (np.array([mid - radius, ERA_MIN_F] * k), np.array([mid + radius, radius] * k))


def _partial_fractions(p: np.ndarray, q: np.ndarray, box: tuple[np.ndarray, np.ndarray]):
    """ERA coefficients equal to P/Q, from the roots z = e ± i f of Q and their residues ρ.

    P/Q = a x + b + Σ ρ/(x − z) + ρ̄/(x − z̄), and a conjugate pair is (c x + d)/((x − e)² + f²)
    with c = 2 Re ρ, d = −2 Re(ρ z̄). ERA adds ε to each quadratic: f is stored as √(f² − ε).
    Unless all poles lie in ``box`` (see :func:`_era_box`), returns (None, the poles clipped
    to it); a real pair s < t counts as the pole (s + t)/2 ± i (t − s)/2.
    """
    poly = np.polynomial.polynomial
    roots = poly.polyroots(q)
    upper = sorted(roots[roots.imag > 0.0], key=lambda z: z.real)
    reals = np.sort(roots[roots.imag == 0.0].real)
    poles = [(z.real, z.imag) for z in upper]
    poles += [(0.5 * (s + t), 0.5 * (t - s)) for s, t in zip(reals[::2], reals[1::2], strict=False)]
    den = np.array([[e, np.sqrt(max(f * f - ERA_EPSILON, 0.0))] for e, f in poles]).reshape(-1)
    if den.size != box[0].size:
        return None, None
    clipped = np.clip(den, *box)
    if reals.size or np.any(clipped != den):
        return None, clipped
    quotient, rem = poly.polydiv(p, q)
    numerator = [quotient[1] if quotient.size > 1 else 0.0, quotient[0]]
    dq = poly.polyder(q)
    for z in upper:
        rho = poly.polyval(z, rem) / poly.polyval(z, dq)
        numerator += [2.0 * rho.real, -2.0 * (rho * np.conj(z)).real]
    return np.array(numerator), den


def _era_starts(prob: _Problem, v: Variant, p: np.ndarray, q: np.ndarray):
    """The plain fit P/Q in partial fractions if its poles lie in the box (then nothing better
    is known: returns it alone), else starts to polish: its poles clipped to the box and two
    fixed spreads of poles, with least-squares linear coefficients."""
    k = v.m // 2
    box = _era_box(prob, k)
    dens = []
    if abs(q[-1]) > 1e-12 * np.max(np.abs(q)):  # Q of full degree: k pairs of roots
        numerator, den = _partial_fractions(p, q, box)
        if numerator is not None:
            return [(numerator, den)], False
        if den is not None:
            dens.append(den)
    mid, half = 0.5 * (prob.lo + prob.hi), 0.5 * (prob.hi - prob.lo)
    for spread in (0.5, 1.0):
        e = mid + spread * half * np.linspace(-1.0, 1.0, k + 2)[1:-1]
        den = np.stack([e, np.full(k, spread * half)], axis=1).reshape(-1)
        dens.append(np.clip(den, *box))
    return [(_era_linear(prob, d), d) for d in dens], True


def _era_polish(prob: _Problem, v: Variant, numerator: np.ndarray, denominator: np.ndarray):
    """min t s.t. |w (R_θ − f)| ≤ t over ERA's θ, poles in the box (SLSQP).

    The points: the fitting grid and the largest local maxima of the start's error on the
    dense grid.
    """
    from scipy.optimize import minimize

    start_err = prob.w_dense * np.abs(
        rmath.forward(np, v, prob.dense, numerator, denominator) - prob.f_dense
    )
    peaks = prob.dense[_local_maxima(start_err, 4 * (v.n + v.m + 2))]
    x = np.union1d(prob.x, peaks)
    (fx, w), na = _pair(prob.func, prob.weights, x), v.numerator_size

    def residual(z):
        return w * (rmath.forward(np, v, x, z[:na], z[na:-1]) - fx)

    def cons(z):
        res = residual(z)
        return np.concatenate([z[-1] - res, z[-1] + res])

    def cons_jac(z):
        _, d_num, d_den = rmath.backward(np, v, x, z[:na], z[na:-1])
        jac = np.stack(d_num + d_den, axis=1) * w[:, None]
        ones = np.ones((x.size, 1))
        return np.vstack([np.hstack([-jac, ones]), np.hstack([jac, ones])])

    theta = np.concatenate([numerator, denominator])
    t0 = float(np.max(np.abs(residual(np.append(theta, 0.0)))))
    lower, upper = _era_box(prob, v.m // 2)
    bounds = [(None, None)] * na + list(zip(lower, upper, strict=True)) + [(None, None)]
    grad = np.zeros(theta.size + 1)
    grad[-1] = 1.0 / t0
    res = minimize(lambda z: z[-1] / t0, np.append(theta, t0), jac=lambda z: grad,
                   method="SLSQP", bounds=bounds,
                   constraints=[{"type": "ineq", "fun": cons, "jac": cons_jac}],
                   options={"maxiter": 200, "ftol": 1e-12})
    return res.x[:na], np.clip(res.x[na:-1], lower, upper)


# --------------------------------------------------------------------------- public entry
def fit(
    func: Func,
    degrees: tuple[int, int] = (5, 4),
    version: str = "A",
    domain: tuple[float, float] = (-3.0, 3.0),
    *,
    num_points: int = 300,
    weights: Func | None = None,
    max_iter: int = 60,
) -> FitResult:
    """Fit R of ``version`` and ``degrees`` to ``func`` on ``domain`` in the minimax sense.

    ``func`` maps a float64 array to an array of the same shape. ``weights`` (optional, a
    positive callable w) makes the fit minimise max w·|f − R|; ``max_error`` is always the plain
    max |f − R| on :func:`dense_grid`. ``num_points`` sets the initial grid (more points are
    added where the error peaks), ``max_iter`` caps the LP iterations per round. ``D`` is
    fitted as ``B``. Safeguards: Q ≥ 0.1 Q(0) resp. Q(c) on the domain for N and boulle,
    f ≥ 0.1 for era. See the module docstring for the method.
    """
    v = variant(version, degrees)
    lo, hi = _check_domain(domain)
    if not callable(func):
        raise ValueError(f"func must be callable, got {func!r}")
    if weights is not None and not callable(weights):
        raise ValueError(f"weights must be None or a callable, got {weights!r}")
    least = 2 * (v.n + v.m + 2)
    for name, value, low in (("num_points", num_points, least), ("max_iter", max_iter, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    prob = _problem(func, weights, lo, hi, num_points)

    if v.version == "era":
        starts, polish = _era_starts(prob, v, *_linear_fit(prob, _families(v, lo, hi)[0], max_iter))
        candidates = starts + ([_era_polish(prob, v, a, b) for a, b in starts] if polish else [])
    else:
        candidates = [
            fam.version_coefficients(*_linear_fit(prob, fam, max_iter))
            for fam in _families(v, lo, hi)
        ]

    def score(c):  # weighted max error on the dense grid, NaN counted as infinite
        err = prob.w_dense * np.abs(prob.f_dense - rational(prob.dense, c[0], c[1], version))
        return float(np.max(np.where(np.isnan(err), np.inf, err)))

    numerator, denominator = (np.array(c, dtype=np.float64) for c in min(candidates, key=score))
    name = getattr(func, "__name__", None) or type(func).__name__
    error = max_error(func, numerator, denominator, version, (lo, hi))
    return FitResult(numerator, denominator, error, version, v.degrees, name)
