"""The compiled CPU kernels behind ``rational`` on the CPU: chosen by default, large inputs with
slow (huge or NaN) elements, every layout's chunking, determinism, and the XLA fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from rationals import cpu  # noqa: E402
from rationals.core import rational as core_rational  # noqa: E402
from rationals.core import rational_backward  # noqa: E402
from rationals.jax import rational  # noqa: E402
from rationals.jax.kernels import cpu as cpu_kernels  # noqa: E402
from tests.contract.cases import huge_elements_case  # noqa: E402

A = np.array([0.02, 0.5, 1.6, 1.2, 0.3, 0.05])
B = np.array([1.2, 0.4, 0.1, 0.9])


def _backward_hlo(implementation="auto", a=A, b=B, shape=(64,)):
    fn = jax.jit(jax.grad(lambda x, a, b: jnp.sum(rational(x, a, b, implementation=implementation)),
                          argnums=(0, 1, 2)))
    return fn.lower(jnp.ones(shape, jnp.float32), jnp.asarray(a, jnp.float32),
                    jnp.asarray(b, jnp.float32)).compile().as_text()


def test_auto_uses_the_kernels_on_the_cpu():
    hlo = _backward_hlo()
    assert cpu_kernels.BACKWARD in hlo
    assert cpu_kernels.BACKWARD not in _backward_hlo("xla")


def test_switched_off_auto_is_xla_and_cpu_says_why(monkeypatch):
    monkeypatch.setenv("RATIONALS_CPU_KERNELS", "0")
    assert cpu_kernels.BACKWARD not in _backward_hlo()
    with pytest.raises(ValueError, match="RATIONALS_CPU_KERNELS=0"):
        rational(jnp.ones(3), A, B, implementation="cpu")


def test_degrees_beyond_the_kernels_fall_back_to_xla():
    a = np.zeros(cpu.MAX_DEGREE + 2)
    a[1] = 1.0
    assert cpu_kernels.BACKWARD not in _backward_hlo(a=a)
    with pytest.raises(ValueError, match=f"exceed {cpu.MAX_DEGREE}"):
        rational(jnp.ones(3), a, B, implementation="cpu")


def test_a_failed_build_warns_and_uses_xla(monkeypatch):
    def fail():
        raise cpu.BuildError("no C++ compiler found")

    monkeypatch.setattr(cpu_kernels, "register", fail)
    cpu._warn_once.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hlo = _backward_hlo()
    assert cpu_kernels.BACKWARD not in hlo
    assert any("no C++ compiler found" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    ("shape", "channel_axis", "a_groups", "b_groups"),
    [
        ((3, 70001), -1, 0, 0),  # shared: several chunks, a partial block at the end
        ((2, 24, 37, 41), 1, 4, 24),  # NCHW: runs of 37·41 per channel
        ((3000, 40), -1, 1, 8),  # channels last, groups of 5 channels: runs of 5
        ((3000, 40), -1, 40, 40),  # per channel, channels last: a lane per channel, 40 = 2·16 + 8
    ],
)
def test_large_inputs_with_huge_and_nan_elements_match_the_core(
    shape, channel_axis, a_groups, b_groups
):
    x, a, b, g, huge = huge_elements_case(shape, a_groups, b_groups, 50)
    flat = x.reshape(-1)
    flat[huge[0]] = np.nan
    y, vjp = jax.vjp(lambda x, a, b: rational(x, a, b, channel_axis=channel_axis,
                                              implementation="cpu"),
                     jnp.asarray(x, jnp.float32), jnp.asarray(a, jnp.float32),
                     jnp.asarray(b, jnp.float32))
    dx, da, db = vjp(jnp.asarray(g, jnp.float32))
    want_y = core_rational(x, a, b, channel_axis=channel_axis)
    want = rational_backward(x, a, b, g, channel_axis=channel_axis)
    nan = np.isnan(x)
    np.testing.assert_array_equal(np.isnan(np.asarray(y)), nan)
    np.testing.assert_allclose(np.asarray(y)[~nan], want_y[~nan], rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(dx)[~nan], want[0][~nan], rtol=2e-5, atol=1e-5)
    # NaN poisons the coefficient gradients of its own channel's group only: compare without it.
    flat[huge[0]] = 0.0
    g_flat = g.reshape(-1)
    g_flat[huge[0]] = 0.0
    _, vjp = jax.vjp(lambda a, b: rational(jnp.asarray(x, jnp.float32), a, b,
                                           channel_axis=channel_axis, implementation="cpu"),
                     jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32))
    da, db = vjp(jnp.asarray(g, jnp.float32))
    want = rational_backward(x, a, b, g, channel_axis=channel_axis)
    for got, ref in ((da, want[1]), (db, want[2])):
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_coefficient_gradients_are_deterministic():
    x = jnp.asarray(np.random.default_rng(1).normal(0, 2, 2**19), jnp.float32)
    grad = jax.jit(jax.grad(lambda a, b: jnp.sum(rational(x, a, b) ** 2), argnums=(0, 1)))
    first = grad(jnp.asarray(A, jnp.float32), jnp.asarray(B, jnp.float32))
    for _ in range(3):
        again = grad(jnp.asarray(A, jnp.float32), jnp.asarray(B, jnp.float32))
        for u, v in zip(first, again, strict=True):
            np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_nan_input_gives_nan_coefficient_gradients_like_the_core():
    x = jnp.asarray([0.5, np.nan, -1.0], jnp.float32)
    da = jax.grad(lambda a: jnp.sum(rational(x, a, B, implementation="cpu")))(
        jnp.asarray(A, jnp.float32))
    assert np.isnan(np.asarray(da)).all()
    assert np.isnan(rational_backward(np.asarray(x, np.float64), A, B, np.ones(3))[1]).all()


def test_auto_path_keeps_working_under_vmap():
    x = jnp.asarray(np.random.default_rng(2).normal(size=(3, 50)), jnp.float32)
    ys = jax.vmap(lambda xi: rational(xi, A, B))(x)
    np.testing.assert_allclose(np.asarray(ys), core_rational(np.asarray(x, np.float64), A, B),
                               rtol=1e-5, atol=1e-6)


def test_backward_writes_dx_over_a_temporary_cotangent():
    """Inside a chain the cotangent is a temporary: the kernel overwrites it with dL/dx (no second
    x-sized buffer), and the result is still the core's."""
    x = np.random.default_rng(3).normal(0, 2, 5000)
    loss = lambda x: jnp.sum(jnp.sin(rational(x, A, B, implementation="cpu")))  # noqa: E731
    grad = jax.jit(jax.grad(loss))
    hlo = grad.lower(jnp.asarray(x, jnp.float32)).compile().as_text()
    call = next(line for line in hlo.splitlines() if cpu_kernels.BACKWARD in line)
    assert "output_to_operand_aliasing={{0}: (1, {})}" in call
    want = rational_backward(x, A, B, np.cos(core_rational(x, A, B)))[0]
    np.testing.assert_allclose(np.asarray(grad(jnp.asarray(x, jnp.float32))), want,
                               rtol=1e-4, atol=1e-5)
