"""The shared contract: every backend against the numpy core, on the same inputs.

Each backend (tests/contract/backend_*.py) is a parameter; a backend not installed in the running
environment is skipped (``RATIONALS_REQUIRE_BACKENDS`` turns that into a failure in CI).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rationals.core import rational, rational_backward

from .cases import LAYOUTS, VARIANTS, coefficients, inputs

#: Relative tolerances against the float64 core: float64 backends must agree to ≤ 1e-10.
RTOL = {"float64": 1e-10, "float32": 2e-4, "float16": 2e-2, "bfloat16": 2e-2}


def _case(version, degrees, layout, seed=0):
    rng = np.random.default_rng(seed)
    x = inputs(layout.shape, rng)
    a = coefficients(version, degrees, rng, layout.numerator_groups, "numerator")
    b = coefficients(version, degrees, rng, layout.denominator_groups, "denominator")
    g = rng.normal(size=layout.shape)
    return x, a, b, g


def _close(actual, expected, rtol, what):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if not actual.size:
        return
    err = np.max(np.abs(actual - expected)) / (np.max(np.abs(expected)) + 1e-30)
    assert err <= rtol, f"{what}: relative error {err:.3e} > {rtol:.0e}"


def _dtype_or_skip(backend, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"{backend.name} does not evaluate {dtype}")


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
@pytest.mark.parametrize(("version", "degrees"), VARIANTS, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_values_and_gradients(backend, version, degrees, layout, dtype):
    _dtype_or_skip(backend, dtype)
    x, a, b, g = _case(version, degrees, layout)
    ax = layout.channel_axis
    want = rational(x, a, b, version, channel_axis=ax)
    _close(backend.forward(x, a, b, version, ax, dtype), want, RTOL[dtype], "R(x)")
    wdx, wda, wdb = rational_backward(x, a, b, g, version, channel_axis=ax)
    dx, da, db = backend.backward(x, a, b, g, version, ax, dtype)
    _close(dx, wdx, RTOL[dtype], "dL/dx")
    _close(da, wda, 10 * RTOL[dtype], "dL/dnumerator")
    _close(db, wdb, 10 * RTOL[dtype], "dL/ddenominator")


#: Inputs far beyond the polynomial range of each dtype (powers overflow, 1/x underflows).
HUGE = {"float64": 1e300, "float32": 1e30, "bfloat16": 1e30, "float16": 6e4}


@pytest.mark.parametrize("version", ["A", "B", "C", "D", "era"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
@pytest.mark.parametrize("init", ["random", "identity"])
def test_safe_versions_finite_at_any_magnitude(backend, version, dtype, init):
    _dtype_or_skip(backend, dtype)
    degrees = (5, 4)
    rng = np.random.default_rng(1)
    a = coefficients(version, degrees, rng, 0, "numerator")
    b = coefficients(version, degrees, rng, 0, "denominator")
    if init == "identity":  # zero leading coefficients: the effective degrees drop
        a, b = np.zeros_like(a), (np.zeros_like(b) if version != "era" else np.ones_like(b))
        a[1 if version != "era" else 0] = 1.0
        if version == "C":
            a[1], b[0] = 0.9, 0.9  # (0.9 x) / (0.1 + 0.9) = 0.9 x / 1.0
    huge = HUGE[dtype]
    x = np.array([-huge, -huge / 7, -1e4, -3.0, -1.0, 0.0, 1e-20, 1.0, 3.0, 1e4, huge / 7, huge])
    y = backend.forward(x, a, b, version, -1, dtype)
    assert np.all(np.isfinite(y) | np.isinf(y)), "NaN in R(x)"
    want = rational(x, a, b, version)
    finite = np.isfinite(want) & (np.abs(want) < 0.5 * HUGE[dtype] * 10)
    np.testing.assert_allclose(y[finite], want[finite], rtol=RTOL[dtype] * 5, atol=1e-6)
    g = np.ones_like(x) * 1e-3
    dx, _, _ = backend.backward(x, a, b, g, version, -1, dtype)
    assert not np.any(np.isnan(dx)), f"NaN in dL/dx: {dx}"
    wdx, _, _ = rational_backward(x, a, b, g, version)
    np.testing.assert_allclose(dx, wdx, rtol=RTOL[dtype] * 5, atol=1e-6)


@pytest.mark.parametrize("version", ["A", "B"])
def test_sign_of_zero_is_plus_one(backend, version):
    """Identity init (b = 0): the denominator still gets the gradient −Σ g R |x|^j (or x^j)."""
    dtype = "float64" if "float64" in backend.dtypes else "float32"
    x = np.array([0.5, -0.25, 0.75, 0.0, 2.0])
    a = np.array([0.0, 1.0, 0.0, 0.0])
    b = np.zeros(2)
    g = np.ones_like(x)
    _, _, db = backend.backward(x, a, b, g, version, -1, dtype)
    y = np.abs(x) if version == "A" else x  # A: sign(b_j)=+1 · |x|^j ; B: sign(S=0)=+1 · x^j
    want = -np.array([np.sum(x * y), np.sum(x * y**2)])
    np.testing.assert_allclose(db, want, rtol=1e-5)
    assert np.all(db != 0)


def test_grouped_layout_counts_channels(backend):
    """Channel c uses group c // (C // G): per-group values match separate shared calls."""
    dtype = "float64" if "float64" in backend.dtypes else "float32"
    rng = np.random.default_rng(3)
    x = inputs((4, 6), rng)
    a = coefficients("A", (3, 2), rng, 3, "numerator")
    b = coefficients("A", (3, 2), rng, 3, "denominator")
    y = backend.forward(x, a, b, "A", -1, dtype)
    for c in range(6):
        y_c = rational(x[:, c], a[c // 2], b[c // 2], "A")
        np.testing.assert_allclose(y[:, c], y_c, rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize(
    ("numerator", "denominator", "version", "shape", "message"),
    [
        (np.zeros(6), np.zeros(4), "Z", (4,), "valid versions: A, B, C, D, N, boulle, era"),
        (np.zeros(6), np.zeros(3), "era", (4,), "numerator"),
        (np.zeros(6), np.array([0.1, np.nan, 0.0, 0.0]), "A", (4,), "finite"),
        (np.zeros((1, 6)), np.zeros((4, 4)), "A", (2, 6), "C=6"),
        (np.zeros((5, 6)), np.zeros((1, 4)), "A", (2, 6), "G=5"),
        (np.zeros((2, 2, 6)), np.zeros(4), "A", (2, 6), "1-D"),
    ],
)
def test_bad_input_is_a_clear_error(backend, numerator, denominator, version, shape, message):
    dtype = backend.dtypes[0]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        backend.forward(np.ones(shape), numerator, denominator, version, -1, dtype)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(VARIANTS),
    # x0 / 3 must not be subnormal either: TensorFlow's CPU kernels flush subnormals to zero.
    st.floats(-50, 50, allow_nan=False, allow_subnormal=False).map(
        lambda v: 0.0 if abs(v) < 1e-300 else v),
    st.integers(0, 2**31 - 1),
)
def test_property_matches_core_anywhere(backend, case, x0, seed):
    """Hypothesis: at any point (both branches, any scale) a backend agrees with the core."""
    version, degrees = case
    rng = np.random.default_rng(seed)
    a = coefficients(version, degrees, rng, 0, "numerator")
    b = coefficients(version, degrees, rng, 0, "denominator")
    if version in ("N", "boulle") and abs(x0) > 3.5:
        x0 = 3.5 * np.sign(x0)
    x = np.array([x0, -x0, x0 / 3])
    dtype = "float64" if "float64" in backend.dtypes else "float32"
    want = rational(x, a, b, version)
    np.testing.assert_allclose(
        backend.forward(x, a, b, version, -1, dtype), want, rtol=RTOL[dtype] * 10, atol=1e-12
    )
    g = np.ones_like(x)
    wdx, wda, wdb = rational_backward(x, a, b, g, version)
    dx, da, db = backend.backward(x, a, b, g, version, -1, dtype)
    np.testing.assert_allclose(dx, wdx, rtol=RTOL[dtype] * 10, atol=1e-12)
    np.testing.assert_allclose(da, wda, rtol=RTOL[dtype] * 10, atol=1e-12)
    np.testing.assert_allclose(db, wdb, rtol=RTOL[dtype] * 10, atol=1e-12)
