"""``Rational`` for flax.nnx: ``nnx.Param`` attributes ``numerator`` and ``denominator``.

Version ``"D"`` follows :class:`flax.nnx.Dropout`: noise from the ``rng_collection`` stream
(``"dropout"``) while ``deterministic`` is False (``model.train()``), exactly ``"B"`` after
``model.eval()``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rationals._optional import require

from .init import initializers, parameter_shapes
from .op import Implementation, rational

nnx = require("flax.nnx", "jax")

__all__ = ["Rational"]


class Rational(nnx.Module):
    """A learnable rational activation R(x) = P(x)/Q(x).

    Args:
        approx_func: the function the coefficients start from (None: the version's default).
        degrees: ``(n, m)``; None: the version's default.
        version: one of ``rationals.core.VERSIONS``.
        numerator_groups: numerator groups (both counts 1: 1-D shared parameters).
        denominator_groups: denominator groups; channel c uses group c // (C // G).
        channel_axis: the input axis holding channels (grouped layouts).
        deterministic: version D only: no noise when True (set by ``eval()``/``train()``).
        rng_collection: the stream of ``rngs`` that version D's noise is drawn from.
        rngs: needed for version D in training; may also be given to ``__call__``.
        param_dtype: dtype of the parameters.
        implementation: see :func:`rationals.jax.rational`.
    """

    def __init__(
        self,
        approx_func: str | None = None,
        degrees: tuple[int, int] | None = None,
        version: str = "A",
        *,
        numerator_groups: int = 1,
        denominator_groups: int = 1,
        channel_axis: int = -1,
        deterministic: bool = False,
        rng_collection: str = "dropout",
        rngs: nnx.Rngs | None = None,
        param_dtype: Any = jnp.float32,
        implementation: Implementation = "auto",
    ):
        shapes = parameter_shapes(approx_func, degrees, version, numerator_groups,
                                  denominator_groups)
        inits = initializers(approx_func, degrees, version)
        self.numerator = nnx.Param(inits[0](None, shapes[0], param_dtype))
        self.denominator = nnx.Param(inits[1](None, shapes[1], param_dtype))
        self.version = version
        self.channel_axis = channel_axis
        self.deterministic = deterministic
        self.rng_collection = rng_collection
        self.implementation = implementation
        if version == "D" and rngs is not None:
            self.rngs = rngs[rng_collection].fork()
        else:
            self.rngs = nnx.data(None)

    def __call__(
        self, x: jax.Array, *, deterministic: bool | None = None,
        rngs: nnx.Rngs | jax.Array | None = None,
    ) -> jax.Array:
        """R(x); the arguments override the attributes of the same names (version D only)."""
        key = None
        deterministic = self.deterministic if deterministic is None else deterministic
        if self.version == "D" and not deterministic:
            rngs = self.rngs if rngs is None else rngs
            if rngs is None:
                raise ValueError(
                    "version 'D' in training needs rngs (Rational(..., rngs=nnx.Rngs(...)) or "
                    "the call's rngs=), or deterministic=True / model.eval()"
                )
            key = rngs[self.rng_collection]() if isinstance(rngs, nnx.Rngs) else (
                rngs if isinstance(rngs, jax.Array) else rngs()
            )
        return rational(x, self.numerator[...], self.denominator[...], self.version,
                        channel_axis=self.channel_axis, key=key,
                        implementation=self.implementation)
