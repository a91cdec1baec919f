"""A SavedModel that uses ``rational`` reloads with the same outputs and gradients."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from rationals.tf import rational
from tests.contract.cases import coefficients, inputs


class _Activation(tf.Module):
    def __init__(self, numerator: np.ndarray, denominator: np.ndarray) -> None:
        super().__init__()
        self.numerator = tf.Variable(numerator, dtype=tf.float32)
        self.denominator = tf.Variable(denominator, dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return rational(x, self.numerator, self.denominator, "A")


def _value_and_grads(module, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = module(x)
    return [y, *tape.gradient(y, [x, module.numerator, module.denominator])]


def test_saved_model_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    module = _Activation(coefficients("A", (5, 4), rng, 2, "numerator"),
                         coefficients("A", (5, 4), rng, 0, "denominator"))
    x = tf.constant(inputs((5, 4), rng), tf.float32)
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    for got, want in zip(_value_and_grads(loaded, x), _value_and_grads(module, x), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
