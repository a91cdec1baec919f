"""The numpy core against an independent derivation: textbook formulas (exact arithmetic) and
finite differences."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rationals.core import VERSIONS, rational, rational_backward, variant
from rationals.core import math as rmath

from ..contract.cases import VARIANTS, coefficients
from . import textbook


def _coeffs(version, degrees, seed=0):
    rng = np.random.default_rng(seed)
    return (
        coefficients(version, degrees, rng, 0, "numerator"),
        coefficients(version, degrees, rng, 0, "denominator"),
    )


@pytest.mark.parametrize(("version", "degrees"), VARIANTS, ids=str)
def test_forward_is_the_textbook_formula(version, degrees):
    a, b = _coeffs(version, degrees)
    x = np.linspace(-3.5, 3.5, 71)
    want = [textbook.exact(version, a, b, xi) for xi in x]
    np.testing.assert_allclose(rational(x, a, b, version), want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("version", "degrees"), VARIANTS, ids=str)
@pytest.mark.parametrize("magnitude", [1e8, 1e60, 1e150, 1e300])
def test_reciprocal_form_is_exact_at_huge_inputs(version, degrees, magnitude):
    a, b = _coeffs(version, degrees, seed=2)
    x = np.array([-magnitude, magnitude / 3.0])
    want = np.array([textbook.exact(version, a, b, xi) for xi in x])
    got = rational(x, a, b, version)
    finite = np.abs(want) < 1.7e308
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-12)
    np.testing.assert_array_equal(got[~finite], want[~finite])


@pytest.mark.parametrize("version", ["A", "B", "C", "N", "boulle"])
def test_zero_leading_coefficients_do_not_give_nan(version):
    """Identity-like coefficients drop the effective degrees; 1/x^k underflow must not matter."""
    v = variant(version, (5, 4))
    a = np.zeros(v.numerator_size)
    a[1] = 2.0
    b = np.zeros(v.denominator_size)
    if version in ("C", "boulle"):
        b[0] = 1.0
    b[v.denominator_size - 3] = 0.5  # an interior non-zero coefficient
    for dtype, huge in ((np.float64, 1e300), (np.float32, 1e35), (np.float16, 6e4)):
        x = np.array([-huge, -1e4, -1.5, 0.5, 1.5, 1e4, huge], dtype=dtype)
        want = np.array([textbook.exact(version, a, b, float(xi)) for xi in x])
        got = rational(x, a, b, version).astype(np.float64)
        tol = 1e-12 if dtype == np.float64 else 2e-3
        np.testing.assert_allclose(got, want, rtol=tol)
        dx, _da, _db = rational_backward(x, a, b, np.ones_like(x), version)
        assert np.all(np.isfinite(dx))


def _fd(f, v, eps):
    return (f(v + eps) - f(v - eps)) / (2 * eps)


@pytest.mark.parametrize(("version", "degrees"), VARIANTS, ids=str)
def test_backward_matches_finite_differences(version, degrees):
    a, b = _coeffs(version, degrees, seed=4)
    x = np.array([-3.1, -1.7, -1.0001, -0.6, -0.05, 0.3, 0.9999, 1.2, 2.6, 7.5, -40.0])
    if version in ("N", "boulle"):
        x = x[np.abs(x) < 3.5]
    g = np.linspace(0.5, 1.5, x.size)
    dx, da, db = rational_backward(x, a, b, g, version)
    eps = 1e-6
    np.testing.assert_allclose(
        dx, g * _fd(lambda t: rational(t, a, b, version), x, eps), rtol=1e-6, atol=1e-8
    )
    for coef, grad, which in ((a, da, 0), (b, db, 1)):
        for i in range(coef.size):
            e = np.zeros_like(coef)
            e[i] = 1.0

            def loss(t, i=i, e=e, which=which):
                aa, bb = (a + t * e, b) if which == 0 else (a, b + t * e)
                return np.sum(g * rational(x, aa, bb, version))

            fd = (loss(eps) - loss(-eps)) / (2 * eps)
            np.testing.assert_allclose(grad[i], fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("version", "degrees"), VARIANTS, ids=str)
@pytest.mark.parametrize("drop", [0, 1, 2], ids=["full", "lower-degrees", "identity"])
def test_static_degrees_agree_with_runtime_degrees(version, degrees, drop):
    """The static-exponent path (degrees known to the caller) equals the runtime-selected one."""
    v = variant(version, degrees)
    rng = np.random.default_rng(7)
    a = coefficients(version, degrees, rng, 3, "numerator")
    b = coefficients(version, degrees, rng, 3, "denominator")
    if drop and version != "era":
        a[:, max(v.n - drop, 0) + 1 :] = 0.0
        b[:, max(b.shape[1] - drop, 0) :] = 0.0
    x = rng.normal(0, 3, (3, 40)) * np.logspace(-3, 30, 40)
    x[:, :4] = [0.0, 1.0, -1.0, -2.0]
    a_b, b_b = a[:, None, :], b[:, None, :]
    eff = rmath.effective_degrees(v, a_b, b_b)
    assert eff is not None
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(
            rmath.forward(np, v, x, a_b, b_b, eff), rmath.forward(np, v, x, a_b, b_b), rtol=1e-14
        )
        got, want = rmath.backward(np, v, x, a_b, b_b, eff), rmath.backward(np, v, x, a_b, b_b)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
    for g, w in zip(got[1] + got[2], want[1] + want[2], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=0)


def test_effective_degrees_differing_between_groups_is_none():
    v = variant("A", (3, 2))
    a = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 0.0]])
    assert rmath.effective_degrees(v, a, np.ones((2, 2))) is None
    assert rmath.effective_degrees(v, a[:1], np.array([[1.0, 0.0]])) == (3, 1)


@pytest.mark.parametrize(("version", "degrees"), [c for c in VARIANTS if c[0] != "era"], ids=str)
def test_has_full_degrees_iff_effective_degrees_are_n_m(version, degrees):
    v = variant(version, degrees)
    a, b = _coeffs(version, degrees)
    full = v.n, v.m
    assert rmath.effective_degrees(v, a, b) == full and rmath.has_full_degrees(np, v, a, b)
    a2 = a.copy()
    a2[-1] = 0.0
    assert rmath.effective_degrees(v, a2, b) != full and not rmath.has_full_degrees(np, v, a2, b)
    if b.size:
        b2 = b.copy()
        b2[-1] = 0.0
        assert not rmath.has_full_degrees(np, v, a, b2)
        assert (rmath.effective_degrees(v, a, b2) != full) or v.m == 0


def test_sign_of_zero_is_plus_one():
    """Identity-initialised A: b = 0, so only sign(0) = +1 gives the denominator a gradient."""
    x = np.array([0.5, -2.0, 0.0])
    a = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    b = np.zeros(4)
    _, _, db = rational_backward(x, a, b, np.ones(3), "A")
    want = -np.array([np.sum(x * np.abs(x) ** j) for j in range(1, 5)])
    np.testing.assert_allclose(db, want)
    # dR/dx at x = 0 of version B with S(0) = 0 takes the +1 branch as well.
    dx, _, _ = rational_backward(np.array([0.0]), a, np.array([0.5, 0, 0, 0]), np.ones(1), "B")
    np.testing.assert_allclose(dx, [1.0])


def test_d_evaluates_as_b():
    a, b = _coeffs("B", (5, 4))
    x = np.linspace(-3, 3, 11)
    np.testing.assert_array_equal(rational(x, a, b, "D"), rational(x, a, b, "B"))


def test_layouts_any_channel_axis():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 3))
    a, b = rng.normal(size=(3, 6)), rng.normal(size=(2, 4))
    y = rational(x, a, b, "A", channel_axis=1)
    for c in range(6):
        np.testing.assert_allclose(y[:, c], rational(x[:, c], a[c // 2], b[c // 3], "A"))
    _dx, da, db = rational_backward(x, a, b, np.ones_like(x), "A", channel_axis=1)
    _, da0, _ = rational_backward(x[:, :2], a[0], b[0], np.ones((2, 2, 3)), "A")
    np.testing.assert_allclose(da[0], da0)
    assert da.shape == a.shape and db.shape == b.shape


def test_half_precision_keeps_dtype_and_is_finite():
    a, b = _coeffs("A", (5, 4))
    x = np.array([-6e4, -3.0, 0.0, 1.0, 6e4], dtype=np.float16)
    y = rational(x, a, b, "A")
    assert y.dtype == np.float16 and np.all(np.isfinite(y))
    ml_dtypes = pytest.importorskip("ml_dtypes")
    xb = np.array([-1e38, -3.0, 0.0, 3e38], dtype=ml_dtypes.bfloat16)
    yb = rational(xb, a, b, "A")
    assert yb.dtype == ml_dtypes.bfloat16 and not np.any(np.isnan(yb.astype(np.float32)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rational(1.0, np.ones(6), np.ones(4), "E"), "valid versions: A, B, C, D, N"),
        (lambda: rational(1.0, np.ones(6), np.ones(3), "era"), "expects 5 numerator"),
        (lambda: rational(1.0, np.ones(6), [1.0, np.inf, 0, 0], "A"), "finite"),
        (lambda: rational(np.ones((2, 6)), np.ones((4, 6)), np.ones(4), "A"), "C=6.*G=4"),
        (lambda: rational(np.ones(2), np.ones((2, 2, 6)), np.ones(4), "A"), "1-D .shared."),
        (lambda: variant("A", (-1, 2)), "must be >= 0"),
        (lambda: variant("A", (2.5, 2)), "must be an integer"),
        (lambda: variant("era", (5, 3)), "even denominator degree"),
        (lambda: variant("era", (4, 4)), "numerator degree 5"),
        (lambda: variant("A", 5), "pair"),
    ],
)
def test_bad_input_names_the_valid_choices(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_import_rationals_imports_no_framework():
    code = (
        "import sys, rationals, rationals.core; "
        "bad = [m for m in ('torch', 'tensorflow', 'jax', 'mxnet', 'keras', 'scipy', 'matplotlib')"
        " if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([v for v in VARIANTS if v[0] in ("A", "B", "C", "era")]),
    st.integers(0, 10_000),
    st.floats(-1e200, 1e200, allow_nan=False, allow_infinity=False),
)
def test_property_forward_exact_anywhere(case, seed, x0):
    version, degrees = case
    a, b = _coeffs(version, degrees, seed)
    want = textbook.exact(version, a, b, x0)
    got = float(rational(np.array([x0]), a, b, version)[0])
    if np.isinf(want):
        assert got == want
    else:
        assert got == pytest.approx(want, rel=1e-11, abs=1e-300)


def test_every_version_is_covered():
    assert {v for v, _ in VARIANTS} == set(VERSIONS)
