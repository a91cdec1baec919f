"""``Rational`` for dm-haiku: parameters ``numerator`` and ``denominator``.

Version ``"D"`` takes its noise from an explicit ``key`` passed to the call (training); without a
key it is exactly ``"B"``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rationals._optional import require

from .init import initializers, parameter_shapes
from .op import Implementation, rational

hk = require("haiku", "jax")

__all__ = ["Rational"]


class Rational(hk.Module):
    """A learnable rational activation R(x) = P(x)/Q(x).

    Args:
        approx_func: the function the coefficients start from (None: the version's default).
        degrees: ``(n, m)``; None: the version's default.
        version: one of ``rationals.core.VERSIONS``.
        numerator_groups: numerator groups (both counts 1: 1-D shared parameters).
        denominator_groups: denominator groups; channel c uses group c // (C // G).
        channel_axis: the input axis holding channels (grouped layouts).
        param_dtype: dtype of the parameters.
        implementation: see :func:`rationals.jax.rational`.
        name: the haiku module name.
    """

    def __init__(
        self,
        approx_func: str | None = None,
        degrees: tuple[int, int] | None = None,
        version: str = "A",
        numerator_groups: int = 1,
        denominator_groups: int = 1,
        channel_axis: int = -1,
        param_dtype: Any = jnp.float32,
        implementation: Implementation = "auto",
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.shapes = parameter_shapes(approx_func, degrees, version, numerator_groups,
                                       denominator_groups)
        self.inits = initializers(approx_func, degrees, version)
        self.version = version
        self.channel_axis = channel_axis
        self.param_dtype = param_dtype
        self.implementation = implementation

    def __call__(self, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        """R(x); version D multiplies the denominator by U[0.9, 1.1] noise drawn from ``key``."""
        numerator, denominator = (
            hk.get_parameter(name, shape, self.param_dtype,
                             init=lambda shape, dtype, init=init: init(None, shape, dtype))
            for name, shape, init in zip(("numerator", "denominator"), self.shapes, self.inits,
                                         strict=True)
        )
        return rational(x, numerator, denominator, self.version, channel_axis=self.channel_axis,
                        key=key, implementation=self.implementation)
