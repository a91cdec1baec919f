"""flax linen, nnx and haiku modules: a few optax steps lower the loss; checkpoints round-trip."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

STEPS = 40


def _data():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (128, 4)).astype(np.float32)
    y = np.sin(2 * x).sum(axis=1, keepdims=True).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(y)


def _train(loss, params, steps=STEPS):
    """Adam steps on ``loss(params, key)``; returns the final params and the first/last losses."""
    opt = optax.adam(2e-2)

    @jax.jit
    def step(params, state, key):
        value, grads = jax.value_and_grad(loss)(params, key)
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state, value

    state, losses = opt.init(params), []
    for key in jax.random.split(jax.random.key(1), steps):
        params, state, value = step(params, state, key)
        losses.append(float(value))
    return params, losses


def _restored(tmp_path, tree):
    ocp = pytest.importorskip("orbax.checkpoint")
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(tmp_path / "ckpt", tree)
        checkpointer.wait_until_finished()
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)
        return checkpointer.restore(tmp_path / "ckpt", abstract)


def _assert_same_tree(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_linen_trains_and_round_trips(tmp_path):
    import flax.linen as nn

    from rationals.jax.flax import Rational

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, deterministic=True):
            h = Rational(version="D", denominator_groups=4, numerator_groups=2)(
                nn.Dense(16)(x), deterministic=deterministic)
            return nn.Dense(1)(h)

    x, y = _data()
    net = Net()
    params = jax.jit(net.init)(jax.random.key(0), x)
    rational = params["params"]["Rational_0"]
    assert rational["numerator"].shape == (2, 6) and rational["denominator"].shape == (4, 4)

    def loss(params, key):
        out = net.apply(params, x, deterministic=False, rngs={"dropout": key})
        return jnp.mean((out - y) ** 2)

    params, losses = _train(loss, params)
    assert losses[-1] < 0.5 * losses[0]
    # eval: exactly B (no rng needed, deterministic); train: the 'dropout' stream changes R
    apply = jax.jit(net.apply, static_argnames="deterministic")
    np.testing.assert_array_equal(apply(params, x), apply(params, x))
    noisy = [apply(params, x, deterministic=False, rngs={"dropout": jax.random.key(i)})
             for i in (0, 1)]
    assert not np.allclose(noisy[0], noisy[1])
    _assert_same_tree(_restored(tmp_path, params), params)


def test_nnx_trains_and_round_trips(tmp_path):
    from flax import nnx

    from rationals.jax.nnx import Rational

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.inp = nnx.Linear(4, 16, rngs=rngs)
            self.act = Rational(version="D", rngs=rngs)
            self.out = nnx.Linear(16, 1, rngs=rngs)

        def __call__(self, x):
            return self.out(self.act(self.inp(x)))

    x, y = _data()
    model = Net(nnx.Rngs(0, dropout=1))
    assert model.act.numerator[...].shape == (6,)
    optimizer = nnx.Optimizer(model, optax.adam(2e-2), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer):
        value, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.update(model, grads)
        return value

    losses = [float(step(model, optimizer)) for _ in range(STEPS)]
    assert losses[-1] < 0.5 * losses[0]
    call = nnx.jit(lambda model: model(x))
    assert not np.allclose(call(model), call(model))  # training: fresh D noise per call
    model.eval()
    np.testing.assert_array_equal(call(model), call(model))
    state = nnx.state(model, nnx.Param)
    restored = _restored(tmp_path, nnx.to_pure_dict(state))
    _assert_same_tree(restored, nnx.to_pure_dict(state))
    fresh = Net(nnx.Rngs(5, dropout=6))
    fresh_state = nnx.state(fresh, nnx.Param)
    nnx.replace_by_pure_dict(fresh_state, restored)
    nnx.update(fresh, fresh_state)
    fresh.eval()
    np.testing.assert_array_equal(call(fresh), call(model))


def test_nnx_version_d_without_rngs_is_a_clear_error():
    from rationals.jax.nnx import Rational

    act = Rational(version="D")
    with pytest.raises(ValueError, match="rngs"):
        act(jnp.ones(3))
    act.eval()
    assert act(jnp.ones(3)).shape == (3,)


def test_haiku_trains_and_round_trips(tmp_path):
    import haiku as hk

    from rationals.jax.haiku import Rational

    def forward(x, key=None):
        h = Rational(version="D", channel_axis=-1, numerator_groups=16)(hk.Linear(16)(x), key=key)
        return hk.Linear(1)(h)

    net = hk.without_apply_rng(hk.transform(forward))
    x, y = _data()
    params = jax.jit(net.init)(jax.random.key(0), x)
    assert params["rational"]["numerator"].shape == (16, 6)

    def loss(params, key):
        return jnp.mean((net.apply(params, x, key=key) - y) ** 2)

    params, losses = _train(loss, params)
    assert losses[-1] < 0.5 * losses[0]
    apply = jax.jit(net.apply)
    np.testing.assert_array_equal(apply(params, x), apply(params, x))
    _assert_same_tree(_restored(tmp_path, params), params)
