"""``rationals.tf.rational`` beyond the contract: graph modes, XLA, halves, version D, leanness."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import tensorflow as tf

from rationals.core import rational as core_rational
from rationals.core import rational_backward
from rationals.tf import rational
from tests.contract.cases import coefficients, inputs

RNG = np.random.default_rng(0)
X = inputs((4, 3, 6), RNG)
G = RNG.normal(size=X.shape)


def _value_and_grads(x, a, b, version, g=G, channel_axis=-1):
    with tf.GradientTape() as tape:
        tape.watch([x, a, b])
        y = rational(x, a, b, version, channel_axis=channel_axis)
    return [y, *tape.gradient(y, [x, a, b], output_gradients=tf.cast(g, x.dtype))]


@pytest.mark.parametrize("mode", ["function", "jit"])
@pytest.mark.parametrize(("version", "groups"), [("A", 0), ("C", 3), ("boulle", 0), ("era", 2)])
def test_graph_and_xla_match_the_core(mode, version, groups):
    degrees = {"boulle": (3, 2), "era": (5, 4)}.get(version, (5, 4))
    a = coefficients(version, degrees, RNG, groups, "numerator")
    b = coefficients(version, degrees, RNG, groups, "denominator")

    @tf.function(jit_compile=mode == "jit")
    def run(x, a, b):
        return _value_and_grads(x, a, b, version)

    y, dx, da, db = run(tf.constant(X, tf.float32), tf.constant(a, tf.float32),
                        tf.constant(b, tf.float32))
    want = [core_rational(X, a, b, version), *rational_backward(X, a, b, G, version)]
    for got, ref in zip((y, dx, da, db), want, strict=True):
        np.testing.assert_allclose(got.numpy(), ref, rtol=2e-4, atol=2e-4 * np.abs(ref).max())


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_half_inputs_accumulate_in_float32(dtype):
    rng = np.random.default_rng(1)  # not the shared RNG: the coefficients must not depend on
    a = coefficients("A", (5, 4), rng, 0, "numerator")  # which tests ran first
    b = coefficients("A", (5, 4), rng, 0, "denominator")
    x = tf.constant(np.concatenate([X.ravel(), [1e3, -3e4, 6e4]]), dtype)
    at, bt = tf.constant(a, tf.float32), tf.constant(b, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch([x, at, bt])
        y = rational(x, at, bt)
    dx, da, db = tape.gradient(y, [x, at, bt])
    assert y.dtype == dx.dtype == dtype and da.dtype == db.dtype == tf.float32
    want = core_rational(x.numpy().astype(np.float64), a, b)
    assert np.abs(want).max() < 6e4  # representable in float16: the result must be finite
    assert np.all(np.isfinite(y.numpy().astype(np.float32)))
    np.testing.assert_allclose(y.numpy().astype(np.float64), want, rtol=2e-2, atol=1e-2)


def test_version_d_noise_in_training_only():
    a = coefficients("D", (5, 4), RNG, 0, "numerator")
    b = coefficients("D", (5, 4), RNG, 0, "denominator")
    x = tf.constant(X)
    np.testing.assert_allclose(rational(x, a, b, "D").numpy(), core_rational(X, a, b, "B"))
    seeded = [rational(x, a, b, "D", training=True, seed=(1, 2)).numpy() for _ in range(2)]
    np.testing.assert_array_equal(*seeded)
    assert not np.allclose(seeded[0], core_rational(X, a, b, "B"))
    # One U[0.9, 1.1] draw per denominator coefficient, shared by every element.
    u = tf.random.stateless_uniform((4,), (1, 2), 0.9, 1.1, dtype=tf.float64).numpy()
    np.testing.assert_allclose(seeded[0], core_rational(X, a, b * u, "B"), rtol=1e-12)
    bt = tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch(bt)
        y = rational(x, a, bt, "D", training=True)
    assert np.all(np.isfinite(tape.gradient(y, bt).numpy()))


def test_backward_keeps_only_x_and_coefficients():
    """In a graph, no tensor of the forward computation but R(x) itself feeds anything else."""

    @tf.function
    def step(x, a, b):
        with tf.GradientTape() as tape:
            tape.watch([x, a, b])
            loss = tf.reduce_sum(rational(x, a, b, "A") ** 2)
        return tape.gradient(loss, [x, a, b])

    graph = step.get_concrete_function(
        tf.TensorSpec([None, 8], tf.float32), tf.TensorSpec([6], tf.float32),
        tf.TensorSpec([4], tf.float32)).graph

    def forward(op):
        return "forward" in op.name.split("/")

    escaping = {t.name for op in graph.get_operations() if not forward(op)
                for t in op.inputs if forward(t.op)}
    assert len(escaping) == 1, escaping  # R(x), consumed by the loss
    assert any("backward" in op.name.split("/") for op in graph.get_operations())


def test_grouped_channels_first_and_errors():
    a = coefficients("A", (3, 2), RNG, 2, "numerator")
    b = coefficients("A", (3, 2), RNG, 3, "denominator")
    x, g = np.moveaxis(X, -1, 1), np.moveaxis(G, -1, 1)  # (4, 6, 3): channels on axis 1
    got = _value_and_grads(tf.constant(x), tf.constant(a), tf.constant(b), "A", g, 1)
    want = [core_rational(x, a, b, channel_axis=1),
            *rational_backward(x, a, b, g, channel_axis=1)]
    for t, ref in zip(got, want, strict=True):
        np.testing.assert_allclose(t.numpy(), ref, rtol=1e-10)
    with pytest.raises(ValueError, match="C=6"):
        rational(tf.constant(x), np.zeros((4, 4)), b, "A", channel_axis=1)

    @tf.function
    def unknown_channels(x):
        return rational(x, a, b, "A")

    with pytest.raises(ValueError, match="statically known"):
        unknown_channels.get_concrete_function(tf.TensorSpec([2, None], tf.float64))


def test_import_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    monkeypatch.delitem(sys.modules, "rationals.tf")
    with pytest.raises(ImportError, match=r"pip install 'rationals\[tf\]'"):
        importlib.import_module("rationals.tf")
