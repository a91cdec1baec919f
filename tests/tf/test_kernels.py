"""The compiled CPU kernels inside TensorFlow's XLA (``jit_compile=True``): when they are used,
large inputs with huge and NaN elements, grouped layouts, and the fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from rationals.core import rational as core_rational
from rationals.core import rational_backward
from rationals.tf import kernels, rational
from tests.contract.cases import huge_elements_case

A = np.array([0.02, 0.5, 1.6, 1.2, 0.3, 0.05], np.float32)
B = np.array([1.2, 0.4, 0.1, 0.9], np.float32)


def _step(channel_axis=-1):
    def step(x, a, b, g):
        with tf.GradientTape() as tape:
            tape.watch([x, a, b])
            y = rational(x, a, b, "A", channel_axis=channel_axis)
        return [y, *tape.gradient(y, [x, a, b], output_gradients=g)]

    return step


def _hlo(fn, *args):
    return fn.experimental_get_compiler_ir(*args)(stage="hlo")


def _args(shape):
    x = tf.ones(shape)
    return x, tf.constant(A), tf.constant(B), x


def test_jit_compile_uses_the_kernels_and_plain_functions_do_not():
    args = _args((8, 16))
    hlo = _hlo(tf.function(_step(), jit_compile=True), *args)
    assert kernels.FORWARD in hlo and kernels.BACKWARD in hlo
    graph = tf.function(_step()).get_concrete_function(*args).graph.as_graph_def()
    assert all(node.op != "XlaCustomCallV2" for node in graph.node)


def test_unknown_shapes_and_switched_off_kernels_use_tensorflow_ops(monkeypatch):
    spec = tf.TensorSpec((None, 16), tf.float32)
    fn = tf.function(_step(), jit_compile=True,
                     input_signature=[spec, tf.TensorSpec((6,)), tf.TensorSpec((4,)), spec])
    graph = fn.get_concrete_function().graph.as_graph_def()
    assert all(node.op != "XlaCustomCallV2" for node in graph.node)
    monkeypatch.setenv("RATIONALS_CPU_KERNELS", "0")
    assert kernels.BACKWARD not in _hlo(tf.function(_step(), jit_compile=True), *_args((8, 16)))


@pytest.mark.parametrize(
    ("shape", "channel_axis", "a_groups", "b_groups"),
    [
        ((3, 40001), -1, 0, 0),
        ((2, 24, 9, 11), 1, 4, 24),
        ((500, 40), -1, 40, 40),
    ],
)
def test_large_inputs_with_huge_and_nan_elements_match_the_core(
    shape, channel_axis, a_groups, b_groups
):
    x, a, b, g, _ = huge_elements_case(shape, a_groups, b_groups, 40)
    fn = tf.function(_step(channel_axis), jit_compile=True)
    args = [tf.constant(t, tf.float32) for t in (x, a, b, g)]
    assert kernels.BACKWARD in _hlo(fn, *args)
    y, dx, da, db = (t.numpy() for t in fn(*args))
    np.testing.assert_allclose(y, core_rational(x, a, b, channel_axis=channel_axis),
                               rtol=2e-5, atol=1e-5)
    want = rational_backward(x, a, b, g, channel_axis=channel_axis)
    np.testing.assert_allclose(dx, want[0], rtol=2e-5, atol=1e-5)
    for got, ref in ((da, want[1]), (db, want[2])):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    x.flat[0] = np.nan  # NaN stays in its element and makes the coefficient gradients NaN
    y, dx, da, db = (t.numpy() for t in fn(tf.constant(x, tf.float32), *args[1:]))
    assert np.isnan(y.reshape(-1)[0]) and np.isfinite(y.reshape(-1)[1:]).all()
    assert np.isnan(da).any() and np.isnan(db).any()


def test_keras_style_training_step_matches_eager():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(64, 32)), tf.float32)
    a, b = tf.Variable(A), tf.Variable(B)

    def loss():
        return tf.reduce_mean(tf.square(rational(x, a, b) - 1.0))

    def grads():
        with tf.GradientTape() as tape:
            value = loss()
        return [value, *tape.gradient(value, [a, b])]

    for got, want in zip(tf.function(grads, jit_compile=True)(), grads(), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
