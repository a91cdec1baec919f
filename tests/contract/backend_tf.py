"""TensorFlow as a contract backend: ``rationals.tf.rational`` in eager mode, float64 and half."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from rationals.tf import rational


class TfBackend:
    name = "tf"
    dtypes = ("float64", "float32", "float16", "bfloat16")

    def forward(self, x, numerator, denominator, version, channel_axis, dtype):
        y = rational(tf.constant(x, dtype), numerator, denominator, version,
                     channel_axis=channel_axis)
        return np.asarray(tf.cast(y, tf.float64))

    def backward(self, x, numerator, denominator, grad, version, channel_axis, dtype):
        xt = tf.constant(x, dtype)
        a, b = tf.constant(numerator), tf.constant(denominator)
        with tf.GradientTape() as tape:
            tape.watch([xt, a, b])
            y = rational(xt, a, b, version, channel_axis=channel_axis)
        grads = tape.gradient(y, [xt, a, b], output_gradients=tf.constant(grad, dtype))
        return tuple(np.asarray(tf.cast(t, tf.float64)) for t in grads)
