"""Initialisation: the fitter, the shipped tables and their accuracy against the published ones."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rationals.core as core
from rationals.core import VERSIONS, rational, variant
from rationals.core.init import APPROX_FUNCS, FitResult, fit, initial_coefficients
from rationals.core.init import tables as tables_module
from rationals.core.init.fit import ERA_MIN_F, dense_grid, max_error
from rationals.core.init.functions import target
from rationals.core.init.make_tables import FITTED, jobs, published_errors
from rationals.core.init.tables import (
    BOULLE_RELU,
    ERA_TABLE_DEGREES,
    TABLE_DEGREES,
    TABLE_PATH,
    TABLE_VERSIONS,
)

#: A sensible bound of every shipped entry's max error on [−3, 3], per function (the (3, 2)
#: minimax errors are 0.0655, 0.0649, 0.00995, 0.00313, 0.0019 and 3.5e-5).
BOUNDS = {
    "relu": 0.07,
    "leaky_relu": 0.07,
    "gelu": 0.011,
    "swish": 0.0035,
    "tanh": 0.002,
    "sigmoid": 4e-5,
}
#: Pairs (smaller, larger) of table degrees where the larger family contains the smaller one.
NESTED = [((3, 2), (4, 4)), ((3, 2), (5, 4)), ((4, 4), (6, 5)), ((5, 4), (6, 5)), ((6, 5), (7, 6))]


def _degrees(version):
    return ERA_TABLE_DEGREES if version == "era" else TABLE_DEGREES


@pytest.fixture(scope="module")
def shipped_errors():
    """{(version, degrees, function): max error on [−3, 3]}, recomputed from the coefficients."""
    return {
        (version, degrees, name): max_error(
            target(name), *initial_coefficients(name, degrees, version), version
        )
        for version, degrees, name in jobs()
    }


# --------------------------------------------------------------------------- imports and API
def test_importing_core_and_reading_the_table_does_not_import_scipy():
    code = (
        "import sys, rationals.core as c; c.initial_coefficients('gelu', (5, 4), 'B'); "
        "c.initial_coefficients(); assert 'scipy' not in sys.modules, 'scipy imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_core_reexports_the_init_names():
    assert core.fit is fit
    assert core.initial_coefficients is initial_coefficients
    assert core.APPROX_FUNCS == APPROX_FUNCS
    assert core.FitResult is FitResult
    assert set(APPROX_FUNCS) == {
        "leaky_relu", "relu", "gelu", "swish", "tanh", "sigmoid", "identity"
    }


# --------------------------------------------------------------------------- the shipped table
def test_table_covers_every_function_version_and_degrees():
    with TABLE_PATH.open(encoding="utf-8") as f:
        entries = json.load(f)["entries"]
    assert set(entries) == set(TABLE_VERSIONS)
    for version in TABLE_VERSIONS:
        assert set(entries[version]) == {f"{n}/{m}" for n, m in _degrees(version)}
        for by_func in entries[version].values():
            assert set(by_func) == set(FITTED)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", [*APPROX_FUNCS, "silu"])
def test_every_shipped_entry_has_the_right_lengths_without_fitting(version, name):
    misses = tables_module._fitted.cache_info().misses
    for degrees in _degrees(version):
        numerator, denominator = initial_coefficients(name, degrees, version)
        v = variant(version, degrees)
        assert numerator.dtype == denominator.dtype == np.float64
        assert numerator.shape == (v.numerator_size,)
        assert denominator.shape == (v.denominator_size,)
        assert np.all(np.isfinite(numerator)) and np.all(np.isfinite(denominator))
    assert tables_module._fitted.cache_info().misses == misses


def test_shipped_entries_are_at_least_as_accurate_as_the_published_ones():
    checked = 0
    for version, by_degrees in published_errors().items():
        for key, by_func in by_degrees.items():
            degrees = tuple(int(d) for d in key.split("/"))
            for name, theirs in by_func.items():
                ours = max_error(target(name), *initial_coefficients(name, degrees, version),
                                 version)
                assert ours <= theirs + 1e-9, (version, degrees, name, ours, theirs)
                checked += 1
    assert checked == 35  # A (5,4) and (3,2), B, C, D, N (5,4): every entry published


def test_stored_errors_match_the_coefficients(shipped_errors):
    with TABLE_PATH.open(encoding="utf-8") as f:
        entries = json.load(f)["entries"]
    for (version, (n, m), name), error in shipped_errors.items():
        assert entries[version][f"{n}/{m}"][name]["max_error"] == pytest.approx(error, rel=1e-9)


def test_every_shipped_entry_is_below_a_sensible_bound(shipped_errors):
    for (version, degrees, name), error in shipped_errors.items():
        assert error <= BOUNDS[name], (version, degrees, name, error)


def test_errors_do_not_grow_with_the_degrees(shipped_errors):
    for version in TABLE_VERSIONS:
        pairs = [((3, 2), (5, 4)), ((5, 4), (7, 6))] if version == "era" else NESTED
        for name in FITTED:
            for small, large in pairs:
                e_small = shipped_errors[(version, small, name)]
                e_large = shipped_errors[(version, large, name)]
                assert e_large <= e_small * 1.001 + 1e-9, (version, small, large, name)


def test_era_entries_have_no_near_pole():
    x = np.linspace(-10.0, 10.0, 20001)
    for degrees in ERA_TABLE_DEGREES:
        for name in FITTED:
            _, denominator = initial_coefficients(name, degrees, "era")
            for e, f in denominator.reshape(-1, 2):
                assert np.min((x - e) ** 2 + f * f) >= 0.01, (degrees, name, e, f)


@pytest.mark.parametrize("version", ["N", "boulle"])
def test_plain_denominators_stay_away_from_zero_on_the_domain(version):
    x = dense_grid()
    for degrees in TABLE_DEGREES:
        for name in FITTED:
            _, b = initial_coefficients(name, degrees, version)
            q = np.polynomial.polynomial.polyval(x, np.concatenate([[1.0], b]) if version == "N"
                                                 else b)
            assert np.min(q) >= 0.099, (version, degrees, name)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("degrees", [(1, 0), (2, 2), (3, 2), (5, 4), (7, 6)])
def test_identity_is_exact(version, degrees):
    if version == "era" and degrees not in ERA_TABLE_DEGREES:
        pytest.skip("era needs degrees (m+1, m) with m even and >= 2")
    x = np.concatenate([np.linspace(-5.0, 5.0, 101), [1e6, -1e-6]])
    np.testing.assert_array_max_ulp(
        rational(x, *initial_coefficients("identity", degrees, version), version), x, maxulp=2
    )


# --------------------------------------------------------------------------- defaults, aliases
def test_defaults_of_each_version():
    np.testing.assert_array_equal(
        np.concatenate(initial_coefficients()),
        np.concatenate(initial_coefficients("leaky_relu", (5, 4), "A")),
    )
    numerator, denominator = initial_coefficients(version="boulle")
    np.testing.assert_array_equal(numerator, BOULLE_RELU[0])
    np.testing.assert_array_equal(denominator, BOULLE_RELU[1])
    np.testing.assert_array_equal(
        np.concatenate(initial_coefficients(None, (5, 4), "boulle")),
        np.concatenate(initial_coefficients("relu", (5, 4), "boulle")),
    )
    np.testing.assert_array_equal(
        np.concatenate(initial_coefficients(version="era")),
        np.concatenate(initial_coefficients("swish", (5, 4), "era")),
    )
    for version in ("B", "C", "D", "N"):
        np.testing.assert_array_equal(
            np.concatenate(initial_coefficients(version=version)),
            np.concatenate(initial_coefficients("leaky_relu", (5, 4), version)),
        )


def test_silu_is_swish_and_d_is_b():
    np.testing.assert_array_equal(
        np.concatenate(initial_coefficients("silu", (4, 4), "C")),
        np.concatenate(initial_coefficients("swish", (4, 4), "C")),
    )
    np.testing.assert_array_equal(
        np.concatenate(initial_coefficients("gelu", (6, 5), "D")),
        np.concatenate(initial_coefficients("gelu", (6, 5), "B")),
    )


def test_returned_arrays_are_fresh_copies():
    numerator, denominator = initial_coefficients("tanh", (5, 4), "A")
    keep = numerator.copy(), denominator.copy()
    numerator[:] = 7.0
    denominator[:] = 7.0
    again = initial_coefficients("tanh", (5, 4), "A")
    np.testing.assert_array_equal(again[0], keep[0])
    np.testing.assert_array_equal(again[1], keep[1])
    numerator, _ = initial_coefficients(version="boulle")
    numerator[0] = 9.0
    assert initial_coefficients(version="boulle")[0][0] == BOULLE_RELU[0][0]


def test_uncommon_degrees_are_fitted_once_and_cached():
    tables_module._fitted.cache_clear()
    first = initial_coefficients("tanh", (2, 2), "B")
    assert tables_module._fitted.cache_info().misses == 1
    second = initial_coefficients("tanh", (2, 2), "B")
    info = tables_module._fitted.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    assert first[0] is not second[0]
    np.testing.assert_array_equal(first[0], second[0])
    assert max_error(np.tanh, *first, "B") < 0.05


# --------------------------------------------------------------------------- bad input
def test_unknown_function_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown approx_func 'softplus'") as info:
        initial_coefficients("softplus")
    for name in [*APPROX_FUNCS, "silu"]:
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("degrees", "version", "message"),
    [
        ((-1, 2), "A", "numerator degree must be >= 0"),
        ((3, 2.5), "B", "denominator degree must be an integer"),
        ((3,), "C", "pair"),
        ((4, 2), "era", "era needs degrees"),
        ((4, 3), "era", "even denominator degree"),
        ((5, 4), "Z", "unknown version 'Z'"),
    ],
)
def test_bad_degrees_and_versions(degrees, version, message):
    with pytest.raises(ValueError, match=message):
        initial_coefficients("relu", degrees, version)
    with pytest.raises(ValueError, match=message):
        fit(np.tanh, degrees, version)


def test_identity_needs_a_linear_numerator():
    with pytest.raises(ValueError, match="numerator degree >= 1"):
        initial_coefficients("identity", (0, 2), "A")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"func": "tanh"}, "func must be callable"),
        ({"func": lambda x: np.where(x > 0.0, np.inf, x)}, "non-finite"),
        ({"domain": (1.0, -1.0)}, "lo < hi"),
        ({"domain": (0.0, np.inf)}, "finite"),
        ({"domain": 3.0}, "pair"),
        ({"num_points": 5}, "num_points must be an integer >= "),
        ({"max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"weights": lambda x: x}, "weights must be positive"),
        ({"weights": 2.0}, "weights must be None or a callable"),
    ],
)
def test_bad_fit_input(kwargs, message):
    args = {"func": np.tanh, "degrees": (3, 2), "version": "A", "domain": (-2.0, 2.0)} | kwargs
    with pytest.raises(ValueError, match=message):
        fit(**args)


# --------------------------------------------------------------------------- the fitter
def test_fit_any_callable():
    result = fit(np.sin, (5, 4), "A", domain=(-2.0, 2.0))
    assert isinstance(result, FitResult)
    assert result.func_name == "sin"
    assert (result.version, result.degrees) == ("A", (5, 4))
    assert result.max_error < 1e-7
    x = np.linspace(-2.0, 2.0, 401)
    np.testing.assert_allclose(rational(x, result.numerator, result.denominator), np.sin(x),
                               atol=result.max_error * 1.001)


@pytest.mark.parametrize("version", VERSIONS)
def test_fit_every_version(version):
    result = fit(target("gelu"), (3, 2), version, num_points=120)
    v = variant(version, (3, 2))
    assert result.numerator.shape == (v.numerator_size,)
    assert result.denominator.shape == (v.denominator_size,)
    assert result.max_error < 0.0105
    assert result.max_error == pytest.approx(
        max_error(target("gelu"), result.numerator, result.denominator, version), rel=1e-12
    )


def test_era_fit_keeps_its_poles_off_the_real_axis():
    result = fit(lambda x: np.abs(x), (5, 4), "era", domain=(-1.0, 1.0), num_points=120)
    assert np.all(result.denominator[1::2] >= ERA_MIN_F)
    assert result.max_error < 0.05


def test_weights_shift_the_error():
    def heavy_right(x):
        return np.where(x > 0.0, 100.0, 1.0)

    plain = fit(target("relu"), (3, 2), "N", num_points=120)
    weighted = fit(target("relu"), (3, 2), "N", num_points=120, weights=heavy_right)
    x = np.linspace(0.5, 3.0, 501)
    right_error = np.max(np.abs(rational(x, weighted.numerator, weighted.denominator, "N")
                                - target("relu")(x)))
    assert right_error < 0.2 * plain.max_error


@settings(max_examples=12, deadline=None)
@given(
    version=st.sampled_from(["A", "B", "C", "D", "N", "boulle"]),
    n=st.integers(1, 4),
    m=st.integers(0, 3),
    coefficients=st.lists(st.floats(-2.0, 2.0), min_size=5, max_size=5),
)
def test_polynomials_are_fitted_exactly(version, n, m, coefficients):
    """Every version contains Q = const, so a polynomial of degree <= n has error ~0."""
    p = np.array(coefficients[: n + 1])
    result = fit(lambda x: np.polynomial.polynomial.polyval(x, p), (n, m), version,
                 domain=(-1.5, 2.0), num_points=2 * (n + m + 2) + 20)
    assert result.max_error <= 1e-9 * (1.0 + np.sum(np.abs(p)) * 2.0**n)
