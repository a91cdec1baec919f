"""TensorFlow as contract backends: ``rationals.tf.rational`` eagerly and under XLA."""

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


class TfXlaBackend(TfBackend):
    """Inside ``tf.function(jit_compile=True)`` on the CPU: the compiled kernels as XLA custom
    calls (:mod:`rationals.tf.kernels`)."""

    name = "tf-xla"

    def forward(self, x, numerator, denominator, version, channel_axis, dtype):
        fn = tf.function(lambda x: rational(x, numerator, denominator, version,
                                            channel_axis=channel_axis), jit_compile=True)
        return np.asarray(tf.cast(fn(tf.constant(x, dtype)), tf.float64))

    def backward(self, x, numerator, denominator, grad, version, channel_axis, dtype):
        def step(x, a, b, g):
            with tf.GradientTape() as tape:
                tape.watch([x, a, b])
                y = rational(x, a, b, version, channel_axis=channel_axis)
            return tape.gradient(y, [x, a, b], output_gradients=g)

        grads = tf.function(step, jit_compile=True)(
            tf.constant(x, dtype), tf.constant(numerator), tf.constant(denominator),
            tf.constant(grad, dtype))
        return tuple(np.asarray(tf.cast(t, tf.float64)) for t in grads)
