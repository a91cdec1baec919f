"""Helpers of the Keras tests, run once per backend: ``KERAS_BACKEND=<b> pytest tests/keras``."""

from __future__ import annotations

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()


@pytest.fixture
def policy():
    """Set a global dtype policy for one test, and restore float32 after it."""
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


def value_and_grads(layer, x: np.ndarray, g: np.ndarray, training: bool = False):
    """(y, dL/dx, dL/dnumerator, dL/ddenominator) as float64 numpy for L = Σ g·layer(x)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt, training=training)
            loss = tf.reduce_sum(tf.cast(y, tf.float64) * g)
        grads = tape.gradient(loss, [xt, layer.numerator.value, layer.denominator.value])
        out = [y, *grads]
    elif BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        def loss(weights, xj):
            non_trainable = [v.value for v in layer.non_trainable_variables]
            y, _ = layer.stateless_call(weights, non_trainable, xj, training=training)
            return jnp.sum(y.astype(jnp.float32) * g), y

        weights = [v.value for v in layer.trainable_variables]
        grad_fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
        (_, y), (dw, dx) = grad_fn(weights, jnp.asarray(x))
        out = [y, dx, *dw]
    elif BACKEND == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        for v in (layer.numerator, layer.denominator):
            v.value.grad = None
        y = layer(xt, training=training)
        (y.double() * torch.as_tensor(g)).sum().backward()
        out = [y.detach(), xt.grad, layer.numerator.value.grad, layer.denominator.value.grad]
    else:
        pytest.skip(f"no gradient helper for the {BACKEND} backend")
    return [np.asarray(keras.ops.convert_to_numpy(t), np.float64) for t in out]
