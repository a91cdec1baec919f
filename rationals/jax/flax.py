"""``Rational`` for flax linen: parameters ``numerator`` and ``denominator``.

Version ``"D"`` draws its noise from the rng stream ``rng_collection`` (``"dropout"`` by default,
as :class:`flax.linen.Dropout`) when not deterministic; otherwise it is exactly ``"B"``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rationals._optional import require

from .init import initializers, parameter_shapes
from .op import Implementation, rational

nn = require("flax.linen", "jax")

__all__ = ["Rational"]


class Rational(nn.Module):
    """A learnable rational activation R(x) = P(x)/Q(x).

    Attributes:
        approx_func: the function the coefficients start from (None: the version's default).
        degrees: ``(n, m)``; None: the version's default.
        version: one of ``rationals.core.VERSIONS``.
        numerator_groups: numerator groups (both counts 1: 1-D shared parameters).
        denominator_groups: denominator groups; channel c uses group c // (C // G).
        channel_axis: the input axis holding channels (grouped layouts).
        deterministic: version D only: no noise when True; may also be given to ``__call__``.
        rng_collection: the rng stream of version D's noise.
        param_dtype: dtype of the parameters.
        implementation: see :func:`rationals.jax.rational`.
    """

    approx_func: str | None = None
    degrees: tuple[int, int] | None = None
    version: str = "A"
    numerator_groups: int = 1
    denominator_groups: int = 1
    channel_axis: int = -1
    deterministic: bool | None = None
    rng_collection: str = "dropout"
    param_dtype: Any = jnp.float32
    implementation: Implementation = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool | None = None) -> jax.Array:
        """R(x); ``deterministic`` (or the attribute) is required for version D only."""
        numerator_shape, denominator_shape = parameter_shapes(
            self.approx_func, self.degrees, self.version, self.numerator_groups,
            self.denominator_groups,
        )
        numerator_init, denominator_init = initializers(
            self.approx_func, self.degrees, self.version
        )
        numerator = self.param("numerator", numerator_init, numerator_shape, self.param_dtype)
        denominator = self.param("denominator", denominator_init, denominator_shape,
                                 self.param_dtype)
        key = None
        if self.version == "D" and not nn.merge_param(
            "deterministic", self.deterministic, deterministic
        ):
            key = self.make_rng(self.rng_collection)
        return rational(x, numerator, denominator, self.version, channel_axis=self.channel_axis,
                        key=key, implementation=self.implementation)
