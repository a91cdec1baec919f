"""The variants of R(x) = P(x) / Q(x): parameter counts, degrees and their validation.

All coefficients are ascending (index i multiplies x^i). With degrees ``(n, m)``:

========  =============================================  ======================
version   denominator Q(x)                               denominator length
========  =============================================  ======================
``A``     1 + Σ_{j=1..m} |b_j| |x|^j                     m   (b_1..b_m)
``B``     1 + |b_1 x + … + b_m x^m|                      m
``C``     0.1 + |b_0 + b_1 x + … + b_m x^m|              m+1 (b_0..b_m)
``D``     as ``B``; adapters multiply each b_j by U[0.9, 1.1] in training
``N``     1 + b_1 x + … + b_m x^m  (poles possible)      m
``boulle`` q_0 + q_1 x + … + q_m x^m (poles possible)     m+1
``era``   partial fractions, see below                   m = 2k values
========  =============================================  ======================

The numerator is a_0..a_n (n+1 values) for every version but ``era``, where degrees (2k+1, 2k) give
σ(x) = a x + b + Σ_{i=1..k} (c_i x + d_i) / ((x − e_i)² + f_i² + ε) with numerator
[a, b, c_1, d_1, …] (2 + 2k values) and denominator [e_1, f_1, …] (2k values).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

VERSIONS = ("A", "B", "C", "D", "N", "boulle", "era")
SAFE_VERSIONS = ("A", "B", "C", "D", "era")

#: Added to every quadratic (x − e)² + f² of ``era`` so that f → 0 cannot divide by zero.
ERA_EPSILON = 1e-6
#: The constant of version ``C``'s denominator, 0.1 + |T(x)|.
C_OFFSET = 0.1


@dataclass(frozen=True)
class Variant:
    """A version with its degrees: knows how many coefficients it takes."""

    version: str
    n: int
    m: int

    @property
    def numerator_size(self) -> int:
        """Length of the numerator vector."""
        return self.m + 2 if self.version == "era" else self.n + 1

    @property
    def denominator_size(self) -> int:
        """Length of the denominator vector."""
        if self.version in ("C", "boulle"):
            return self.m + 1
        return self.m

    @property
    def denominator_offset(self) -> int:
        """Power of x that multiplies the first denominator coefficient (0 or 1)."""
        return 0 if self.version in ("C", "boulle") else 1

    @property
    def evaluated_as(self) -> str:
        """The deterministic formula: ``D`` evaluates as ``B``."""
        return "B" if self.version == "D" else self.version

    @property
    def degrees(self) -> tuple[int, int]:
        return (self.n, self.m)


def check_version(version: str) -> str:
    """Return ``version`` or raise a ValueError that lists the valid ones."""
    if version not in VERSIONS:
        raise ValueError(f"unknown version {version!r}; valid versions: {', '.join(VERSIONS)}")
    return version


def variant(version: str, degrees: tuple[int, int] | list[int]) -> Variant:
    """Validate ``version`` and ``degrees`` and return the :class:`Variant`."""
    check_version(version)
    try:
        n, m = degrees
    except (TypeError, ValueError):
        raise ValueError(f"degrees must be a pair (n, m) of integers, got {degrees!r}") from None
    for name, d in (("numerator", n), ("denominator", m)):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise ValueError(f"{name} degree must be an integer, got {d!r}")
        if d < 0:
            raise ValueError(f"{name} degree must be >= 0, got {d}")
    n, m = int(n), int(m)
    if version == "era":
        if m < 2 or m % 2:
            raise ValueError(f"era needs an even denominator degree m >= 2, got m={m}")
        if n != m + 1:
            raise ValueError(f"era needs degrees (m+1, m): numerator degree {m + 1}, got {n}")
    return Variant(version, n, m)


def variant_from_sizes(version: str, numerator_size: int, denominator_size: int) -> Variant:
    """Recover the degrees from coefficient lengths (used when coefficients are given directly)."""
    check_version(version)
    if version == "era":
        m = denominator_size
        if numerator_size != m + 2:
            raise ValueError(
                f"era with {denominator_size} denominator values (k={m // 2}) expects "
                f"{m + 2} numerator values [a, b, c_1, d_1, ...], got {numerator_size}"
            )
        return variant(version, (m + 1, m))
    if numerator_size < 1:
        raise ValueError("the numerator needs at least one coefficient (a_0)")
    m = denominator_size - 1 if version in ("C", "boulle") else denominator_size
    if m < 0:
        raise ValueError(f"version {version} needs at least one denominator coefficient (b_0)")
    return variant(version, (numerator_size - 1, m))
