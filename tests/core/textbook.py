"""The textbook formulas of every variant, written independently of rationals.core.math.

Plain Python arithmetic: works on floats and on ``fractions.Fraction`` (exact, any magnitude).
"""

from __future__ import annotations

from fractions import Fraction

ERA_EPS = Fraction(1, 10**6)


def _abs(v):
    return v if v >= 0 else -v


def _poly(c, x):
    return sum(ci * x**i for i, ci in enumerate(c))


def denominator(version: str, b, x):
    if version == "A":
        return 1 + sum(_abs(bj) * _abs(x) ** j for j, bj in enumerate(b, start=1))
    if version in ("B", "D"):
        return 1 + _abs(sum(bj * x**j for j, bj in enumerate(b, start=1)))
    if version == "C":
        return Fraction(1, 10) + _abs(_poly(b, x))
    if version == "N":
        return 1 + sum(bj * x**j for j, bj in enumerate(b, start=1))
    if version == "boulle":
        return _poly(b, x)
    raise ValueError(version)


def rational(version: str, a, b, x):
    """R(x) exactly as written in shared/README.md."""
    if version == "era":
        out = a[0] * x + a[1]
        for i in range(len(b) // 2):
            c, d, e, f = a[2 + 2 * i], a[3 + 2 * i], b[2 * i], b[2 * i + 1]
            out += (c * x + d) / ((x - e) ** 2 + f**2 + ERA_EPS)
        return out
    return _poly(a, x) / denominator(version, b, x)


def exact(version: str, a, b, x: float) -> float:
    """R(x) in exact rational arithmetic, rounded once to float."""
    fa = [Fraction(float(v)) for v in a]
    fb = [Fraction(float(v)) for v in b]
    r = rational(version, fa, fb, Fraction(float(x)))
    try:
        return float(r)
    except OverflowError:
        return float("inf") if r > 0 else float("-inf")
