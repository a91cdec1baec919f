"""``rational`` on the running Keras backend: that backend's native op, or a ``keras.ops`` fallback.

TensorFlow, JAX and PyTorch use this package's own op for their framework (a memory-lean analytic
backward that recomputes from x). Any other backend evaluates :mod:`rationals.core.math` with
``keras.ops`` and lets the backend differentiate the expression (correct, but it stores the
intermediates for the backward pass).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from rationals.core import math as rmath
from rationals.core.layout import check_groups, coefficient_shape, normalize_axis
from rationals.core.variants import check_version, variant_from_sizes

__all__ = ["NATIVE_BACKENDS", "keras_ops_rational", "rational"]

#: Keras backends on which :func:`rational` calls this package's op for that framework.
NATIVE_BACKENDS = ("tensorflow", "jax", "torch")


def _native(backend: str) -> Callable[..., Any]:
    if backend == "tensorflow":
        from rationals.tf import rational as op
    elif backend == "jax":
        from rationals.jax import rational as op
    else:
        from rationals.torch import rational as op
    return op


def rational(x: Any, numerator: Any, denominator: Any, version: str = "A", *,
             channel_axis: int = -1) -> Any:
    """R(x) on the Keras backend's tensors (eval form: version ``D`` is ``B``).

    Coefficients are ``(K,)`` shared or ``(G, K)`` grouped over ``channel_axis``; half inputs are
    computed in float32 and keep their dtype.
    """
    backend = keras.backend.backend()
    if backend in NATIVE_BACKENDS:
        return _native(backend)(x, numerator, denominator, version, channel_axis=channel_axis)
    return keras_ops_rational(x, numerator, denominator, version, channel_axis=channel_axis)


class _Namespace:
    """The array namespace of :mod:`rationals.core.math` over ``keras.ops``, in one dtype.

    The backend differentiates the result, so ``abs`` is written to have the package's
    subgradient at 0.
    """

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def abs(self, v: Any) -> Any:
        """|v| as v·sign(v), so that autodiff gives the subgradient sign(0) = +1."""
        return v * self.where(v >= 0, 1.0, -1.0)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return ops.where(cond, ops.cast(a, self.dtype), ops.cast(b, self.dtype))

    @staticmethod
    def sum(v: Any, axis: int | None = None) -> Any:
        return ops.sum(v, axis=axis)

    @staticmethod
    def zeros_like(v: Any) -> Any:
        return ops.zeros_like(v)

    @staticmethod
    def ones_like(v: Any) -> Any:
        return ops.ones_like(v)


def _broadcast(c: Any, ndim: int, channels: int | None, channel_axis: int, what: str) -> Any:
    """(K,) stays; (G, K) becomes (C, 1, …, 1, K) with channel c using group c // (C // G)."""
    if len(c.shape) == 1:
        return c
    groups, k = c.shape
    if channels is None:
        raise ValueError("grouped coefficients need a statically known channel dimension")
    check_groups(channels, groups, what)
    per_channel = ops.repeat(c, channels // groups, axis=0)
    return ops.reshape(per_channel, coefficient_shape(ndim, channel_axis, channels, k))


def keras_ops_rational(x: Any, numerator: Any, denominator: Any, version: str = "A", *,
                       channel_axis: int = -1) -> Any:
    """:func:`rational` written with ``keras.ops`` only (the fallback for other backends)."""
    check_version(version)
    x = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    ct = "float64" if dtype == "float64" else "float32"
    a, b = ops.cast(numerator, ct), ops.cast(denominator, ct)
    for name, c in (("numerator", a), ("denominator", b)):
        if len(c.shape) not in (1, 2):
            raise ValueError(
                f"{name} must be 1-D (shared) or 2-D (groups, coefficients), got shape {c.shape}"
            )
    v = variant_from_sizes(version, a.shape[-1], b.shape[-1])
    ndim = len(x.shape)
    channels = None
    if len(a.shape) == 2 or len(b.shape) == 2:
        if ndim == 0:
            raise ValueError("grouped coefficients need an input with a channel axis")
        channels = x.shape[normalize_axis(channel_axis, ndim)]
    a = _broadcast(a, ndim, channels, channel_axis, "numerator")
    b = _broadcast(b, ndim, channels, channel_axis, "denominator")
    y = rmath.forward(_Namespace(ct), v, ops.cast(x, ct), a, b)
    return ops.cast(y, dtype)
