"""``RationalLayer``: a learnable rational activation for Keras 3 on any backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from rationals.core import initial_coefficients
from rationals.core.layout import check_groups, normalize_axis
from rationals.core.variants import check_version, variant

from .ops import rational

__all__ = ["RationalLayer"]


def _default_degrees(version: str) -> tuple[int, int]:
    return (3, 2) if version == "boulle" else (5, 4)


@keras.saving.register_keras_serializable(package="rationals")
class RationalLayer(keras.layers.Layer):
    """R(x) = P(x)/Q(x) with learnable ``numerator`` and ``denominator`` weights.

    Args:
        approx_func: the shipped target the coefficients start as (``None``: the version's
            default, leaky ReLU for A/B/C/D/N, Boullé's ReLU fit for ``boulle``, swish for
            ``era``); see ``rationals.initial_coefficients``. For any other function, fit it
            with ``rationals.fit`` and assign the result to the weights.
        degrees: ``(n, m)``; ``None`` means (3, 2) for ``boulle`` and (5, 4) otherwise.
        version: one of ``A``, ``B``, ``C``, ``D``, ``N``, ``boulle``, ``era``.
        shared_axes: ``None`` (default): the coefficients are ``(K,)`` shared by every element,
            or ``(G, K)`` with ``numerator_groups``/``denominator_groups`` G > 1. A list of axes
            (possibly empty) gives per-element coefficients like Keras' ``PReLU``: weights of
            shape ``input_shape[1:] + (K,)`` with the listed axes set to 1.
        numerator_groups: groups of channels sharing a numerator (channel c uses c // (C // G)).
        denominator_groups: the same for the denominator.
        channel_axis: the channel axis of grouped coefficients.
        **kwargs: base layer arguments (``name``, ``dtype``, ``trainable``, …).

    Coefficient weights stay in the variable dtype (float32 under mixed precision): half inputs
    are computed in float32 and the output keeps the input's dtype.
    """

    def __init__(
        self,
        approx_func: str | None = None,
        degrees: Sequence[int] | None = None,
        version: str = "A",
        shared_axes: int | Sequence[int] | None = None,
        numerator_groups: int = 1,
        denominator_groups: int = 1,
        channel_axis: int = -1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_version(version)
        self.degrees = tuple(degrees) if degrees is not None else _default_degrees(version)
        self.variant = variant(version, self.degrees)
        self.approx_func = approx_func
        self.version = version
        if isinstance(shared_axes, int):
            shared_axes = [shared_axes]
        self.shared_axes = None if shared_axes is None else list(shared_axes)
        for what, groups in (("numerator", numerator_groups), ("denominator", denominator_groups)):
            if groups < 1:
                raise ValueError(f"{what}_groups must be >= 1, got {groups}")
            if self.shared_axes is not None and groups != 1:
                raise ValueError(
                    f"shared_axes gives per-element coefficients; {what}_groups must stay 1, "
                    f"got {groups}"
                )
        self.numerator_groups = numerator_groups
        self.denominator_groups = denominator_groups
        self.channel_axis = channel_axis
        self.supports_masking = True
        self.seed_generator = keras.random.SeedGenerator() if version == "D" else None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        num, den = initial_coefficients(self.approx_func, self.degrees, self.version)
        ndim = len(input_shape)
        if self.shared_axes is None:
            shapes = [(num.size,), (den.size,)]
            for i, (what, groups) in enumerate((("numerator", self.numerator_groups),
                                                ("denominator", self.denominator_groups))):
                if groups > 1:
                    channels = input_shape[normalize_axis(self.channel_axis, ndim)]
                    if channels is None:
                        raise ValueError("grouped coefficients need a known channel dimension")
                    check_groups(channels, groups, what)
                    shapes[i] = (groups, *shapes[i])
        else:
            param = list(input_shape[1:])
            for axis in self.shared_axes:
                if not 1 <= normalize_axis(axis, ndim) < ndim:
                    raise ValueError(f"shared_axes {self.shared_axes} must name non-batch axes")
                param[normalize_axis(axis, ndim) - 1] = 1
            if None in param:
                raise ValueError(
                    f"per-element coefficients need known sizes on the axes not in shared_axes, "
                    f"got input shape {tuple(input_shape)}"
                )
            shapes = [(*param, num.size), (*param, den.size)]
            self.input_spec = keras.layers.InputSpec(
                ndim=ndim, axes={i + 1: d for i, d in enumerate(param) if d != 1}
            )
        self.numerator = self.add_weight(
            shape=shapes[0], initializer=_constant(num), name="numerator", autocast=False
        )
        self.denominator = self.add_weight(
            shape=shapes[1], initializer=_constant(den), name="denominator", autocast=False
        )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        a, b = self.numerator.value, self.denominator.value
        version = self.version
        if version == "D":
            if training:  # one U[0.9, 1.1] draw per denominator coefficient, per call
                noise = keras.random.uniform(
                    b.shape, 0.9, 1.1, dtype=self.denominator.dtype, seed=self.seed_generator
                )
                b = b * noise
            version = "B"
        if self.shared_axes is None:
            return rational(inputs, a, b, version, channel_axis=self.channel_axis)
        return _per_element(inputs, a, b, version)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "approx_func": self.approx_func,
            "degrees": list(self.degrees),
            "version": self.version,
            "shared_axes": self.shared_axes,
            "numerator_groups": self.numerator_groups,
            "denominator_groups": self.denominator_groups,
            "channel_axis": self.channel_axis,
        }


def _constant(values: np.ndarray):
    def init(shape: tuple[int, ...], dtype: Any = None) -> Any:
        return ops.cast(np.broadcast_to(values, shape), dtype)

    return init


def _per_element(x: Any, a: Any, b: Any, version: str) -> Any:
    """Per-element coefficients (``x.shape[1:]`` with 1 on shared axes, then K) on the grouped op.

    The non-shared axes are merged into one channel axis (after moving them next to each other
    when they are not), so every backend's ``(C, K)`` per-channel layout applies.
    """
    k_a, k_b = a.shape[-1], b.shape[-1]
    param = tuple(a.shape[:-1])
    kept = [i + 1 for i, d in enumerate(param) if d != 1]
    if not kept:
        return rational(x, ops.reshape(a, (k_a,)), ops.reshape(b, (k_b,)), version)
    channels = int(np.prod([param[i - 1] for i in kept]))
    a, b = ops.reshape(a, (channels, k_a)), ops.reshape(b, (channels, k_b))
    ndim = len(x.shape)
    perm = None
    if kept != list(range(kept[0], kept[-1] + 1)):  # not contiguous: move them to the end
        perm = [i for i in range(ndim) if i not in kept] + kept
        x = ops.transpose(x, perm)
        kept = list(range(ndim - len(kept), ndim))
    shape = ops.shape(x)
    merged = (*shape[: kept[0]], channels, *shape[kept[-1] + 1:])
    y = rational(ops.reshape(x, merged), a, b, version, channel_axis=kept[0])
    y = ops.reshape(y, shape)
    if perm is not None:
        y = ops.transpose(y, list(np.argsort(perm)))
    return y
