"""JAX as contract backends: ``rationals.jax.rational`` on its XLA path, its compiled CPU kernels
and its Pallas kernel.

float64 runs inside ``jax.enable_x64(True)``, a context that ends with each call, so the
setting does not leak into other tests sharing the process. The Pallas kernel runs interpreted
on CPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rationals.jax import rational


class JaxBackend:
    name = "jax"
    dtypes = ("float64", "float32", "float16", "bfloat16")
    implementation = "xla"

    def _call(self, x, numerator, denominator, version, channel_axis):
        return rational(x, numerator, denominator, version, channel_axis=channel_axis,
                        implementation=self.implementation)

    def forward(self, x, numerator, denominator, version, channel_axis, dtype):
        with jax.enable_x64(True):
            y = self._call(jnp.asarray(x, dtype), jnp.asarray(numerator), jnp.asarray(denominator),
                           version, channel_axis)
            return np.asarray(y, np.float64)

    def backward(self, x, numerator, denominator, grad, version, channel_axis, dtype):
        with jax.enable_x64(True):
            _, vjp = jax.vjp(
                lambda x, a, b: self._call(x, a, b, version, channel_axis),
                jnp.asarray(x, dtype), jnp.asarray(numerator), jnp.asarray(denominator),
            )
            return tuple(np.asarray(t, np.float64) for t in vjp(jnp.asarray(grad, dtype)))


class JaxCpuBackend(JaxBackend):
    """The compiled CPU kernels (``implementation="cpu"``), the default on the CPU."""

    name = "jax-cpu"
    implementation = "cpu"


class PallasBackend(JaxBackend):
    """Every new case compiles the interpreted kernel (seconds): float64 only here."""

    name = "pallas"
    dtypes = ("float64",)
    implementation = "pallas"
