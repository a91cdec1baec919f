"""``rational``: R(x) = P(x)/Q(x) as a TensorFlow op with a memory-lean custom gradient.

Inside XLA on the CPU (``jit_compile=True``, Keras' default) forward and backward are the compiled
kernels of :mod:`rationals.cpu` (:mod:`rationals.tf.kernels`). Elsewhere the formulas are
:mod:`rationals.core.math` and :mod:`rationals.core.direct`, evaluated over a small TensorFlow
namespace. Either way the gradient is analytic and recomputes everything from ``x``: the only
tensors kept for the backward pass are ``x`` (in its own dtype) and the coefficients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from rationals.core import direct
from rationals.core import math as rmath
from rationals.core.layout import check_groups, coefficient_shape, normalize_axis
from rationals.core.variants import Variant, check_version, variant_from_sizes

from . import kernels

__all__ = ["rational"]

_HALF = (tf.float16, tf.bfloat16)


class _Namespace:
    """The array namespace of :mod:`rationals.core.math` on TensorFlow tensors of one dtype.

    TensorFlow does not promote Python scalars in ``tf.where``, so scalars are made tensors of
    the compute dtype here.
    """

    def __init__(self, dtype: tf.DType) -> None:
        self.dtype = dtype

    @staticmethod
    def abs(v: tf.Tensor) -> tf.Tensor:
        return tf.abs(v)

    def where(self, cond: tf.Tensor, a: Any, b: Any) -> tf.Tensor:
        return tf.where(cond, tf.cast(a, self.dtype), tf.cast(b, self.dtype))

    @staticmethod
    def sum(v: tf.Tensor, axis: int | None = None) -> tf.Tensor:
        return tf.reduce_sum(v, axis=axis)

    @staticmethod
    def all(v: tf.Tensor) -> tf.Tensor:
        return tf.reduce_all(v)

    @staticmethod
    def zeros_like(v: tf.Tensor) -> tf.Tensor:
        return tf.zeros_like(v)

    @staticmethod
    def ones_like(v: tf.Tensor) -> tf.Tensor:
        return tf.ones_like(v)


def compute_dtype(dtype: tf.DType) -> tf.DType:
    """float64 stays float64; every other float type is computed in float32."""
    return tf.float64 if dtype == tf.float64 else tf.float32


def _reduce_to(t: tf.Tensor, shape: tuple[int, ...]) -> tf.Tensor:
    """Sum ``t`` (x's shape) over the axes along which a tensor of ``shape`` was broadcast."""
    lead = t.shape.rank - len(shape)
    axes = list(range(lead)) + [
        lead + i for i, d in enumerate(shape) if d == 1 and t.shape[lead + i] != 1
    ]
    return tf.reshape(tf.reduce_sum(t, axis=axes), shape)


def _reduce(g: tf.Tensor, d: list[tf.Tensor], coef: tf.Tensor) -> tf.Tensor:
    """The gradient of ``coef`` from the per-element derivatives ``d`` (one per coefficient)."""
    if not d:  # a denominator without coefficients, e.g. degrees (n, 0)
        return tf.zeros_like(coef)
    return tf.stack([_reduce_to(g * di, tuple(coef.shape[:-1])) for di in d], axis=-1)


def _core(v: Variant, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """R(x) for coefficients already broadcast against ``x`` (last axis: coefficient index)."""

    @tf.custom_gradient
    def f(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor):
        ct = a.dtype
        xp = _Namespace(ct)
        xc = tf.cast(x, ct)
        with tf.name_scope("forward"):
            y = _with_form(
                v, xp, xc, a, b, lambda form: direct.evaluators(xp, v, form)[0](xc, a, b)
            )
            y = tf.cast(y, x.dtype)

        def grad(g: tf.Tensor):
            with tf.name_scope("backward"):
                gc = tf.cast(g, ct)

                def backward(form: direct.Form):
                    dx, d_num, d_den = direct.evaluators(xp, v, form)[1](xc, a, b)
                    return gc * dx, _reduce(gc, d_num, a), _reduce(gc, d_den, b)

                dx, da, db = _with_form(v, xp, xc, a, b, backward)
                return tf.cast(dx, x.dtype), da, db

        return y, grad

    return f(x, a, b)


def _kernel_core(v: Variant, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor,
                 axis: int | None) -> tf.Tensor:
    """R(x) by the compiled CPU kernels; a and b as given ((K,) or (G, K)), in compute dtype."""

    @tf.custom_gradient
    def f(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor):
        xs = x if x.dtype in kernels.DTYPE_CODES else tf.cast(x, a.dtype)  # halves read as is
        y = tf.cast(kernels.forward(v, xs, a, b, axis), x.dtype)

        def grad(g: tf.Tensor):
            dx, da, db = kernels.backward(v, xs, a, b, tf.cast(g, xs.dtype), axis)
            return tf.cast(dx, x.dtype), da, db

        return y, grad

    return f(x, a, b)


def _with_form(v: Variant, xp: _Namespace, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, fn: Callable):
    """``fn(form)``, the form picked at run time by ``tf.cond``: ``"direct"`` (plain Horner,
    :mod:`rationals.core.direct`) when max |x| is within its overflow-free limit; else the general
    form with the degrees (n, m) static when every leading coefficient is non-zero, or with
    run-time degrees (``None``)."""
    if v.version == "era":
        return fn(None)
    total = tf.reduce_sum(tf.abs(a)) + tf.reduce_sum(tf.abs(b))
    limit = direct.direct_limit(v, total, a.dtype.as_numpy_dtype)
    top = tf.reduce_max(tf.abs(x)) if x.shape.num_elements() != 0 else tf.zeros((), x.dtype)
    moderate = top <= limit  # False for NaN

    def general():
        full = rmath.has_full_degrees(xp, v, a, b)
        return tf.cond(full, lambda: fn((v.n, v.m)), lambda: fn(None))

    return tf.cond(moderate, lambda: fn("direct"), general)


def _check(name: str, c: tf.Tensor) -> None:
    if c.shape.rank not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (shared) or 2-D (groups, coefficients), got shape {c.shape}"
        )
    value = tf.get_static_value(c)  # known eagerly, and in graphs for constants
    if value is not None and not np.isfinite(value).all():
        raise ValueError(f"{name} coefficients must be finite, got {value}")


def _broadcast(c: tf.Tensor, x: tf.Tensor, channel_axis: int, what: str) -> tf.Tensor:
    """(K,) stays; (G, K) becomes (C, 1, …, 1, K) with channel c using group c // (C // G)."""
    if c.shape.rank == 1:
        return c
    if x.shape.rank == 0:
        raise ValueError("grouped coefficients need an input with a channel axis")
    channels = x.shape[normalize_axis(channel_axis, x.shape.rank)]
    if channels is None:
        raise ValueError("grouped coefficients need a statically known channel dimension")
    groups, k = c.shape
    check_groups(channels, groups, what)
    per_channel = tf.reshape(
        tf.broadcast_to(c[:, None, :], (groups, channels // groups, k)), (channels, k)
    )
    return tf.reshape(per_channel, coefficient_shape(x.shape.rank, channel_axis, channels, k))


def rational(
    x: tf.Tensor,
    numerator: tf.Tensor,
    denominator: tf.Tensor,
    version: str = "A",
    *,
    channel_axis: int = -1,
    training: bool = False,
    seed: tf.Tensor | tuple[int, int] | None = None,
) -> tf.Tensor:
    """R(x) = P(x)/Q(x) of ``version``, differentiable in ``x`` and both coefficient arrays.

    Args:
        x: input of any float dtype; float16/bfloat16 are computed in float32 and the result
            keeps ``x``'s dtype.
        numerator: ascending coefficients, ``(K,)`` shared or ``(G, K)`` grouped over
            ``channel_axis`` (channel c uses group c // (C // G)).
        denominator: ascending coefficients, ``(K,)`` or ``(G, K)`` with its own G.
        version: one of ``A``, ``B``, ``C``, ``D``, ``N``, ``boulle``, ``era``.
        channel_axis: axis of ``x`` holding the channels of grouped coefficients.
        training: version ``D`` only: multiply each denominator coefficient by a fresh
            U[0.9, 1.1] draw (in eval, ``D`` is exactly ``B``).
        seed: version ``D`` in training: a shape-[2] integer seed for
            ``tf.random.stateless_uniform`` (reproducible); ``None`` uses ``tf.random.uniform``.

    Returns:
        A tensor of ``x``'s shape and dtype. Coefficient gradients have the coefficients' dtype.
    """
    check_version(version)
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        x = tf.cast(x, tf.float32)
    ct = compute_dtype(x.dtype)
    a = tf.convert_to_tensor(numerator)
    b = tf.convert_to_tensor(denominator)
    _check("numerator", a)
    _check("denominator", b)
    v = variant_from_sizes(version, a.shape[-1], b.shape[-1])
    a, b = tf.cast(a, ct), tf.cast(b, ct)
    if version == "D" and training:  # one draw per coefficient, shared by all elements
        if seed is None:
            b = b * tf.random.uniform(b.shape, 0.9, 1.1, dtype=ct)
        else:
            b = b * tf.random.stateless_uniform(b.shape, seed, 0.9, 1.1, dtype=ct)
    if kernels.applies(v, x):
        grouped = a.shape.rank == 2 or b.shape.rank == 2
        axis = normalize_axis(channel_axis, x.shape.rank) if grouped and x.shape.rank else None
        if grouped:  # the same checks and errors as _broadcast
            for name, c in (("numerator", a), ("denominator", b)):
                _broadcast(c, x, channel_axis, name)
        return _kernel_core(v, x, a, b, axis)
    a = _broadcast(a, x, channel_axis, "numerator")
    b = _broadcast(b, x, channel_axis, "denominator")
    return _core(v, x, a, b)
