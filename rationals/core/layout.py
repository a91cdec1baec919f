"""Parameter layouts: shared (1-D coefficients), grouped and per-channel (2-D ``(groups, K)``).

Channel c belongs to group c // (C // G); C must be divisible by G. Numerator and denominator
carry their own group counts. Adapters use :func:`channel_groups` and :func:`coefficient_shape` to
broadcast per-channel coefficients against an input whose channels sit on ``channel_axis``.
"""

from __future__ import annotations

import numpy as np


def normalize_axis(channel_axis: int, ndim: int) -> int:
    """``channel_axis`` as a non-negative index, or a ValueError naming the input's rank."""
    if not -ndim <= channel_axis < ndim:
        raise ValueError(f"channel_axis {channel_axis} is out of range for an input of rank {ndim}")
    return channel_axis % ndim


def check_groups(channels: int, groups: int, what: str = "coefficient") -> None:
    """Raise a ValueError unless ``groups`` divides ``channels``."""
    if groups < 1:
        raise ValueError(f"{what} groups must be >= 1, got {groups}")
    if channels % groups:
        raise ValueError(
            f"the input has C={channels} channels, which is not divisible by the "
            f"{what} group count G={groups}"
        )


def channel_groups(channels: int, groups: int, what: str = "coefficient") -> np.ndarray:
    """Index of the group of every channel: c // (C // G)."""
    check_groups(channels, groups, what)
    return np.arange(channels) // (channels // groups)


def coefficient_shape(ndim: int, channel_axis: int, channels: int, k: int) -> tuple[int, ...]:
    """Shape that broadcasts per-channel coefficients ``(C, K)`` against the input."""
    axis = normalize_axis(channel_axis, ndim)
    return (channels,) + (1,) * (ndim - axis - 1) + (k,)


def reduce_axes(ndim: int, channel_axis: int | None) -> tuple[int, ...]:
    """Input axes summed for coefficient gradients (all but the channel axis)."""
    if channel_axis is None:
        return tuple(range(ndim))
    axis = normalize_axis(channel_axis, ndim)
    return tuple(i for i in range(ndim) if i != axis)
