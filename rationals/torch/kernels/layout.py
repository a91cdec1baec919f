"""How a kernel sees its input: a dense view, channels in the middle, coefficients per channel.

Every kernel works on memory in order. An input that is dense in some axis order (contiguous,
channels-last, any permutation) is viewed in that order without a copy; anything else is copied
once. Results come back with the strides ``torch.empty_like(x)`` would give them, which is what
the op's fake implementation promises.

Grouped layouts view the input as ``(B, C, S)`` (axes before the channel axis, the channels, axes
after it, all in memory order) and expand ``(G, K)`` coefficients to ``(C, 1, K)``: channel c takes
group c // (C // G). The shared layout views the input as one flat vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rationals.core.layout import normalize_axis


@dataclass(frozen=True)
class View:
    """The memory-order view of one input, and how to map results back to its axes."""

    shape: torch.Size  # the input's shape
    order: tuple[int, ...]  # axes in memory order (outermost first)
    channel_axis: int | None  # the channel axis in memory order; None for the shared layout

    @classmethod
    def of(cls, x: torch.Tensor, channel_axis: int, grouped: bool) -> View:
        """The view of ``x`` with the axis order of ``torch.empty_like(x)``."""
        strides = torch.empty_like(x, device="meta").stride()
        order = tuple(sorted(range(x.ndim), key=lambda d: -strides[d]))
        axis = order.index(normalize_axis(channel_axis, x.ndim)) if grouped else None
        return cls(x.shape, order, axis)

    @property
    def ordered_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[d] for d in self.order)

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        """``(numel,)`` for the shared layout, ``(B, C, S)`` for grouped ones."""
        s = self.ordered_shape
        if self.channel_axis is None:
            return (math.prod(s),)
        a = self.channel_axis
        return (math.prod(s[:a]), s[a], math.prod(s[a + 1:]))

    @property
    def channel_dim(self) -> int:
        """The axis of the kernel view that holds channels: 1 of ``(B, C, S)`` (0 when shared)."""
        return 0 if self.channel_axis is None else 1

    def to_kernel(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` (shaped like the input) as a contiguous kernel view; copies only if needed."""
        return t.permute(self.order).contiguous().view(self.kernel_shape)

    def from_kernel(self, t: torch.Tensor) -> torch.Tensor:
        """A contiguous kernel-view result back on the input's axes (no copy)."""
        inverse = sorted(range(len(self.order)), key=lambda i: self.order[i])
        return t.view(self.ordered_shape).permute(inverse)


def per_channel(c: torch.Tensor, channels: int) -> torch.Tensor:
    """``(G, K)`` → ``(C, 1, K)``: the coefficients of every channel (c // (C // G)); 1-D kept.

    Stored coefficient-major (each ``[..., i]`` slice is contiguous over channels), so that a
    compiled kernel loads the coefficients of consecutive channels as one vector.
    """
    if c.ndim == 1:
        return c
    expanded = c.repeat_interleave(channels // c.shape[0], dim=0)  # (C, K)
    return expanded.t().contiguous().t().unsqueeze(1)


def to_groups(grad: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-channel gradients ``(C, K)`` summed to the groups of ``like``, ``(G, K)`` or ``(K,)``."""
    if like.ndim == 1:
        return grad.sum(0) if grad.ndim == 2 else grad
    groups, channels = like.shape[0], grad.shape[0]
    return grad.reshape(groups, channels // groups, grad.shape[-1]).sum(1)
