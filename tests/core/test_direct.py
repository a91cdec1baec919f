"""The direct form (plain Horner, for moderate inputs) against the overflow-free general form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rationals.core import direct, variant
from rationals.core import math as rmath

from ..contract.cases import VARIANTS, coefficients
from . import textbook


def _rel(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    if not want.size:
        return 0.0
    return np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-300)


@pytest.mark.parametrize(("version", "degrees"), VARIANTS, ids=str)
@pytest.mark.parametrize("groups", [0, 3])
def test_direct_equals_general_within_the_limit(version, degrees, groups):
    v = variant(version, degrees)
    rng = np.random.default_rng(11)
    a = coefficients(version, degrees, rng, groups, "numerator")
    b = coefficients(version, degrees, rng, groups, "denominator")
    if groups:
        a, b = a[:, None, :], b[:, None, :]
    limit = direct.direct_limit(v, np.abs(a).sum() + np.abs(b).sum(), np.float64)
    scale = 3.5 if version in ("N", "boulle") else min(limit, 50.0)
    x = np.clip(rng.normal(0, 2, (3, 64)), -scale, scale)
    x[:, :5] = [0.0, 1.0, -1.0, scale, -scale]
    np.testing.assert_allclose(
        direct.forward(np, v, x, a, b), rmath.forward(np, v, x, a, b), rtol=1e-12, atol=1e-300
    )
    got, want = direct.backward(np, v, x, a, b), rmath.backward(np, v, x, a, b)
    assert _rel(got[0], want[0]) < 1e-12
    assert len(got[1]) == len(want[1]) and len(got[2]) == len(want[2])
    for g, w in zip(got[1] + got[2], want[1] + want[2], strict=True):
        assert _rel(g, w) < 1e-12


@pytest.mark.parametrize("version", ["A", "B", "C"])
def test_direct_limit_keeps_float32_finite(version):
    """At ±limit every output of the direct form is finite in float32 (and matches float64)."""
    v = variant(version, (7, 6))
    rng = np.random.default_rng(2)
    a = coefficients(version, (7, 6), rng, 0, "numerator") * 30
    b = coefficients(version, (7, 6), rng, 0, "denominator") * 30
    limit = direct.direct_limit(v, np.abs(a).sum() + np.abs(b).sum(), np.float32)
    assert 10.0 < limit < 1e6
    x64 = np.array([-limit, -limit / 3, 0.0, 0.5, limit / 3, limit])
    x32, a32, b32 = x64.astype(np.float32), a.astype(np.float32), b.astype(np.float32)
    with np.errstate(all="raise"):
        dx, da, db = direct.backward(np, v, x32, a32, b32)
        y = direct.forward(np, v, x32, a32, b32)
    for t in (y, dx, *da, *db):
        assert np.all(np.isfinite(t))
    assert _rel(y, rmath.forward(np, v, x64, a, b)) < 1e-5


def test_sign_of_zero_is_plus_one_in_the_direct_form():
    v = variant("A", (5, 4))
    x = np.array([0.5, -2.0, 0.0])
    a, b = np.array([0.0, 1.0, 0, 0, 0, 0]), np.zeros(4)
    _, _, db = direct.backward(np, v, x, a, b)
    want = -np.array([x * np.abs(x) ** j for j in range(1, 5)])
    np.testing.assert_allclose(np.array(db), want)


@pytest.mark.parametrize(("version", "degrees"), VARIANTS, ids=str)
def test_reference_auto_form_matches_reciprocal(version, degrees):
    from rationals.core import rational, rational_backward

    rng = np.random.default_rng(5)
    a = coefficients(version, degrees, rng, 2, "numerator")
    b = coefficients(version, degrees, rng, 2, "denominator")
    x = np.clip(rng.normal(0, 1.5, (3, 4, 5)), -3.5, 3.5)
    g = rng.normal(size=x.shape)
    kw = {"channel_axis": 1}
    fast, slow = rational(x, a, b, version, form="auto", **kw), rational(x, a, b, version, **kw)
    assert _rel(fast, slow) < 1e-12
    got = rational_backward(x, a, b, g, version, form="auto", **kw)
    want = rational_backward(x, a, b, g, version, **kw)
    for u, w in zip(got, want, strict=True):
        assert _rel(u, w) < 1e-12
    huge = np.array([1e200, -3.0])  # beyond the limit: the reciprocal form, finite
    assert np.isfinite(rational(huge, a[0], b[0], version, form="auto")[1])


def test_reference_rejects_unknown_form():
    with pytest.raises(ValueError, match="valid: reciprocal, auto"):
        from rationals.core import rational

        rational(np.ones(3), np.ones(6), np.ones(4), form="fast")


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([c for c in VARIANTS if c[0] in ("A", "B", "C")]),
    st.integers(0, 10_000),
    st.floats(-1.0, 1.0, allow_nan=False),
)
def test_property_direct_is_exact_up_to_its_limit(case, seed, fraction):
    """Anywhere in [−limit, limit] (float64: up to ~1e30) the direct form is the exact value."""
    version, degrees = case
    v = variant(version, degrees)
    rng = np.random.default_rng(seed)
    a = coefficients(version, degrees, rng, 0, "numerator")
    b = coefficients(version, degrees, rng, 0, "denominator")
    limit = direct.direct_limit(v, np.abs(a).sum() + np.abs(b).sum(), np.float64)
    x0 = fraction * limit
    got = float(direct.forward(np, v, np.array([x0]), a, b)[0])
    assert got == pytest.approx(textbook.exact(version, a, b, x0), rel=1e-11, abs=1e-300)
