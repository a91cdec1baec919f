"""``rationals.jax.rational`` beyond the contract: transformations, D, dtypes, paths, residuals."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from rationals.core import rational as core_rational  # noqa: E402
from rationals.core import rational_backward  # noqa: E402
from rationals.jax import initial_coefficients, op, rational  # noqa: E402

A = jnp.array([0.02, 0.5, 1.6, 1.2, 0.3, 0.05])
B = jnp.array([1.2, 0.4, 0.1, 0.9])


def _x(shape, seed=0, scale=1.5):
    return jnp.asarray(np.random.default_rng(seed).normal(0, scale, shape), jnp.float32)


# Tests jit what they run: one compilation is much cheaper than eager dispatch of the core's
# few hundred small operations, each compiled on first use for every new shape.


def _loss(x, a, b, **kw):
    return jnp.sum(jnp.sin(rational(x, a, b, **kw)))


def _reference_grads(x, a, b, version="A"):
    """Gradients of _loss from the numpy core: dL/dR = cos(R)."""
    x, a, b = (np.asarray(t, np.float64) for t in (x, a, b))
    return rational_backward(x, a, b, np.cos(core_rational(x, a, b, version)), version)


def _assert_all_close(got, want, rtol=1e-4):
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=rtol,
                                   atol=rtol * np.max(np.abs(w)))


def test_jit_grad_and_remat_match_the_core():
    x = _x((4, 6))
    want = _reference_grads(x, A, B)
    _assert_all_close(jax.jit(jax.grad(_loss, argnums=(0, 1, 2)))(x, A, B), want)
    remat = jax.jit(jax.grad(jax.checkpoint(_loss), argnums=(0, 1, 2)))
    _assert_all_close(remat(x, A, B), want)


def test_vmap_over_inputs_and_over_coefficients():
    x = _x((3, 5))
    a_batch = jnp.stack([A, 2 * A, -A])
    grad_a = jax.grad(lambda ai, xi: _loss(xi, ai, B))
    ys, per_row, ga = jax.jit(lambda x, a_batch: (
        jax.vmap(lambda xi: rational(xi, A, B))(x),
        jax.vmap(lambda xi, ai: rational(xi, ai, B))(x, a_batch),
        jax.vmap(grad_a)(a_batch, x),
    ))(x, a_batch)
    np.testing.assert_allclose(ys, core_rational(np.asarray(x), A, B), rtol=1e-5)
    for i in range(3):
        np.testing.assert_allclose(per_row[i], core_rational(np.asarray(x[i]), a_batch[i], B),
                                   rtol=1e-5)
        _assert_all_close([ga[i]], _reference_grads(x[i], a_batch[i], B)[1:2])


@pytest.mark.parametrize(
    ("shape", "channel_axis", "numerator", "denominator"),
    [
        ((1000,), -1, A, B),  # shared, with a remainder after the chunks
        ((50, 6), -1, jnp.tile(A, (1, 1)), jnp.tile(B, (3, 1))),  # grouped, channels last
        ((7, 30), -1, jnp.tile(A, (3, 1)), B),
    ],
)
def test_cpu_chunked_backward_matches_core(
    monkeypatch, shape, channel_axis, numerator, denominator
):
    monkeypatch.setattr(op, "CPU_CHUNK", 64)  # so that small inputs take the chunked path
    rng = np.random.default_rng(1)
    x = _x(shape)
    a = numerator * jnp.asarray(rng.uniform(0.5, 1.5, numerator.shape), jnp.float32)
    g = jnp.asarray(rng.normal(size=shape), jnp.float32)
    backward = jax.jit(lambda x, a, b, g: jax.vjp(
        lambda x, a, b: rational(x, a, b, channel_axis=channel_axis, implementation="xla"),
        x, a, b)[1](g)
    ).lower(x, a, denominator, g).compile()
    assert "while" in backward.as_text(), "the chunked path was not taken"
    got = backward(x, a, denominator, g)
    want = rational_backward(np.asarray(x), np.asarray(a), np.asarray(denominator),
                             np.asarray(g), channel_axis=channel_axis)
    for gv, wv in zip(got, want, strict=True):
        np.testing.assert_allclose(gv, wv, rtol=2e-4, atol=1e-3 * np.max(np.abs(wv)))


def test_residuals_are_x_and_the_coefficients():
    x = _x((64, 32))
    _, vjp = jax.vjp(lambda x, a, b: rational(x, a, b), x, A, B)
    saved = sum(leaf.nbytes for leaf in jax.tree.leaves(vjp) if hasattr(leaf, "nbytes"))
    assert saved == x.nbytes + A.nbytes + B.nbytes


def test_version_d_noise_follows_the_key():
    x = _x((200,))
    d = jax.jit(lambda x, b, key: rational(x, A, b, "D", key=key))
    key = jax.random.key(0)
    y1, y2, y3 = d(x, B, key), d(x, B, key), d(x, B, jax.random.key(1))
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(y1, y3)
    noise = np.asarray(jax.random.uniform(key, B.shape, B.dtype, 0.9, 1.1))  # one per coefficient
    np.testing.assert_allclose(y1, core_rational(np.asarray(x), A, B * noise, "B"), rtol=1e-5)
    np.testing.assert_allclose(jax.jit(lambda x: rational(x, A, B, "D"))(x),
                               core_rational(np.asarray(x), A, B, "B"), rtol=1e-5)
    # the gradient reaches the un-noised coefficients through the noise
    gb = jax.jit(jax.grad(lambda b: _loss(x, A, b, version="D", key=key)))(B)
    _assert_all_close([gb], [_reference_grads(x, A, B * noise, "B")[2] * noise])


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_inputs_are_computed_in_float32(dtype):
    x = jnp.array([-1e3, -3.0, -0.5, 0.0, 0.5, 2.0, 6e4 if dtype == jnp.float16 else 1e30], dtype)
    a, b = initial_coefficients()  # leaky ReLU (5, 4), version A
    out, (dx, da, db) = jax.jit(lambda x, a, b: (rational(x, a, b), jax.grad(
        lambda x, a, b: jnp.sum(rational(x, a, b)), argnums=(0, 1, 2))(x, a, b)))(x, a, b)
    assert out.dtype == dx.dtype == dtype and da.dtype == db.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(out[:-1], np.float32)))
    assert not np.any(np.isnan(np.asarray(dx, np.float32)))
    want = core_rational(np.asarray(x, np.float32), a, b)
    np.testing.assert_allclose(np.asarray(out[:-1], np.float32), want[:-1], rtol=1e-2)


def test_identity_init_learns_its_denominator():
    """sign(0) = +1: with b = 0 the denominator still receives a gradient."""
    a, b = initial_coefficients("identity", (3, 2))
    assert not np.any(np.asarray(b))
    gb = jax.jit(jax.grad(lambda b: _loss(_x((100,)), a, b)))(b)
    assert np.all(np.asarray(gb) != 0)


def test_auto_is_xla_off_the_listed_platforms(monkeypatch):
    x = _x((8,))
    assert jax.default_backend() not in op.PALLAS_PLATFORMS
    assert "pallas_call" not in str(jax.make_jaxpr(lambda x: rational(x, A, B))(x))
    monkeypatch.setattr(op, "PALLAS_PLATFORMS", frozenset({jax.default_backend()}))
    assert "pallas_call" in str(jax.make_jaxpr(lambda x: rational(x, A, B))(x))


@pytest.mark.parametrize(
    ("shape", "channel_axis", "numerator", "denominator", "dtype"),
    [
        ((3, 300), -1, A, B, jnp.bfloat16),  # several tiles, padded tail
        ((2, 6, 3), 1, jnp.tile(A, (2, 1)), jnp.tile(B, (3, 1)), jnp.float32),  # NCW grouped
    ],
)
def test_pallas_kernel_interpreted(shape, channel_axis, numerator, denominator, dtype):
    x = _x(shape).astype(dtype)
    g = _x(shape, seed=2).astype(dtype)

    def run(implementation):
        f = jax.jit(lambda x, a, b: rational(x, a, b, channel_axis=channel_axis,
                                             implementation=implementation))
        y, vjp = jax.vjp(f, x, numerator, denominator)
        return (y, *vjp(g))

    tol = 2e-2 if dtype == jnp.bfloat16 else 1e-5
    for got, want in zip(run("pallas"), run("xla"), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32),
                                   rtol=tol, atol=tol * float(np.max(np.abs(want))))


def test_pallas_under_vmap():
    x = _x((2, 40))
    got = jax.jit(jax.vmap(lambda xi: rational(xi, A, B, implementation="pallas")))(x)
    np.testing.assert_allclose(got, core_rational(np.asarray(x), A, B), rtol=1e-5)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="implementation"):
        rational(jnp.ones(3), A, B, implementation="cuda")
    with pytest.raises(ValueError, match="C=5"):
        rational(jnp.ones((2, 5)), A, jnp.tile(B, (2, 1)))
    with pytest.raises(ValueError, match="1-D"):
        jax.jit(lambda a: rational(jnp.ones(3), a, B))(jnp.zeros((1, 1, 6)))


def test_import_without_jax_names_the_extra():
    code = "import sys; sys.modules['jax'] = None\nimport rationals.jax"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install 'rationals[jax]'" in out.stderr
