"""The custom ops ``rationals::rational`` and ``rationals::rational_backward``, and their autograd.

Both are ``torch.library`` custom ops with fake implementations, so ``torch.export`` and
``torch.compile(fullgraph=True)`` see one opaque node each instead of a graph break. The autograd
formula saves only x and the coefficients; the backward op recomputes P, Q and their derivatives
from x.

Kernels, by device:

* CUDA: the Triton kernels of :mod:`rationals.torch.kernels.triton_rational` (the composed eager
  path if Triton is missing);
* CPU: the C++ kernels of :mod:`rationals.cpu` (:mod:`rationals.torch.kernels.cpu`; one pass
  each, built once per machine); without them (no compiler, ``RATIONALS_CPU_KERNELS=0``),
  inductor-compiled kernels of
  :mod:`rationals.torch.kernels.composed` (the composed eager path for small inputs, or where
  nothing can be compiled);
* anything else: the composed eager path.

Every kernel receives a dense memory-order view of x (:mod:`rationals.torch.kernels.layout`), so
contiguous, channels-last and permuted inputs cost no copy, and results keep x's memory format.
"""

from __future__ import annotations

import functools
import warnings
from types import ModuleType

import numpy as np
import torch
from torch.autograd.function import once_differentiable
from torch.utils._python_dispatch import _get_current_dispatch_mode

from rationals.core.layout import normalize_axis
from rationals.core.validation import check_coefficients
from rationals.core.variants import Variant

from .kernels import composed, cpu
from .kernels.layout import View, per_channel, to_groups

__all__ = ["rational_backward_op", "rational_call", "rational_op"]


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; float32, float16 and bfloat16 are computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _check_channels(x: torch.Tensor, groups: int, what: str, channel_axis: int) -> None:
    """C on ``channel_axis`` must be a multiple of G (also while tracing with symbolic sizes)."""
    channels = x.shape[normalize_axis(channel_axis, x.ndim)]
    if groups < 1 or channels % groups != 0:
        c = int(channels)
        raise ValueError(
            f"the input has C={c} channels, which is not divisible by the {what} group count "
            f"G={groups}: expected a multiple of {groups} channels on channel_axis={channel_axis} "
            f"of the input of shape {tuple(int(s) for s in x.shape)}, got {c}"
        )


@functools.lru_cache(maxsize=256)
def _variant(version: str, numerator_shape: tuple, denominator_shape: tuple) -> Variant:
    """The variant of coefficient arrays of these shapes (errors are raised, not cached)."""
    return check_coefficients(version, np.zeros(numerator_shape), np.zeros(denominator_shape))


def _check(
    x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor, version: str,
    channel_axis: int,
) -> tuple[Variant, bool]:
    """Validate shapes (values are checked by :func:`_check_finite`); return (variant, grouped)."""
    v = _variant(version, tuple(numerator.shape), tuple(denominator.shape))
    if not x.is_floating_point():
        raise ValueError(f"the input must be a floating-point tensor, got {x.dtype}")
    grouped = numerator.ndim == 2 or denominator.ndim == 2
    if grouped:
        if x.ndim == 0:
            raise ValueError("grouped coefficients need an input with a channel axis")
        for what, c in (("numerator", numerator), ("denominator", denominator)):
            if c.ndim == 2:
                _check_channels(x, c.shape[0], what, channel_axis)
    return v, grouped


def _check_finite(numerator: torch.Tensor, denominator: torch.Tensor) -> None:
    """Non-finite coefficients are a ValueError (on CPU; elsewhere it would cost a sync)."""
    for what, c in (("numerator", numerator), ("denominator", denominator)):
        if c.device.type != "cpu":
            continue
        values = c.detach()
        if values.dtype not in (torch.float32, torch.float64):
            values = values.float()
        if not np.isfinite(values.numpy()).all():  # numpy: a third of torch's cost here
            raise ValueError(f"{what} coefficients must be finite, got {c.tolist()}")


@functools.cache
def _triton_kernels() -> ModuleType | None:
    """The Triton kernel module, or None (warned once) if Triton cannot run here."""
    from .kernels import triton_rational

    if triton_rational.is_available():
        return triton_rational
    warnings.warn(
        "rationals: Triton is not installed; CUDA inputs use the composed eager path. "
        "pip install 'rationals[triton]' for the fused GPU kernels.",
        RuntimeWarning,
        stacklevel=4,
    )
    return None


def _triton_for(x: torch.Tensor) -> ModuleType | None:
    """The Triton kernels for CUDA inputs; None elsewhere (or without Triton)."""
    return _triton_kernels() if x.is_cuda else None


def _cpu_kernels_for(x: torch.Tensor, v: Variant) -> bool:
    """Whether the compiled C++ CPU kernels (:mod:`rationals.cpu`) take this call."""
    return x.device.type == "cpu" and cpu.available(v)


def _coefficients(view: View, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Coefficients in x's compute dtype, per channel for grouped views."""
    c = c.detach().to(_compute_dtype(x.dtype))
    if view.channel_axis is None:
        return c
    return per_channel(c, view.kernel_shape[1])


def _forward(
    x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor, version: str,
    channel_axis: int,
) -> torch.Tensor:
    """The body of :func:`rational_op` (and of the eager path)."""
    v, grouped = _check(x, numerator, denominator, version, channel_axis)
    _check_finite(numerator, denominator)
    if x.numel() == 0:
        return torch.empty_like(x)
    view = View.of(x, channel_axis, grouped)
    xk = view.to_kernel(x)
    triton = _triton_for(x)
    if triton is not None:
        y = triton.forward(xk, numerator.detach(), denominator.detach(), version, view.channel_dim)
    elif _cpu_kernels_for(x, v):
        y = cpu.forward(v, xk, numerator, denominator)
    else:
        a, b = _coefficients(view, x, numerator), _coefficients(view, x, denominator)
        y = composed.forward(v, xk, a, b)
    return view.from_kernel(y)


@torch.library.custom_op("rationals::rational", mutates_args=())
def rational_op(
    x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor, version: str,
    channel_axis: int,
) -> torch.Tensor:
    """R(x) = P(x)/Q(x) of ``version``; coefficients 1-D (shared) or ``(G, K)`` over channels."""
    return _forward(x, numerator, denominator, version, channel_axis)


@rational_op.register_fake
def _(x, numerator, denominator, version, channel_axis):
    _check(x, numerator, denominator, version, channel_axis)
    return torch.empty_like(x)


def _backward_values(
    grad: torch.Tensor, x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor,
    version: str, channel_axis: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The body of :func:`rational_backward_op` (and of the eager path)."""
    v, grouped = _check(x, numerator, denominator, version, channel_axis)
    if x.numel() == 0:
        return torch.empty_like(x), torch.zeros_like(numerator), torch.zeros_like(denominator)
    view = View.of(x, channel_axis, grouped)
    gk, xk = view.to_kernel(grad), view.to_kernel(x)
    triton = _triton_for(x)
    if triton is not None:
        dx, da, db = triton.backward(
            gk, xk, numerator.detach(), denominator.detach(), version, view.channel_dim
        )
    elif _cpu_kernels_for(x, v):
        dx, da, db = cpu.backward(v, gk, xk, numerator, denominator)
    else:
        a, b = _coefficients(view, x, numerator), _coefficients(view, x, denominator)
        dx, da, db = composed.backward(v, gk, xk, a, b)
        da, db = to_groups(da, numerator), to_groups(db, denominator)
    return view.from_kernel(dx), da.to(numerator.dtype), db.to(denominator.dtype)


@torch.library.custom_op("rationals::rational_backward", mutates_args=())
def rational_backward_op(
    grad: torch.Tensor, x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor,
    version: str, channel_axis: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dL/dx, dL/dnumerator, dL/ddenominator) given dL/dR = ``grad``, recomputed from x."""
    return _backward_values(grad, x, numerator, denominator, version, channel_axis)


@rational_backward_op.register_fake
def _(grad, x, numerator, denominator, version, channel_axis):
    _check(x, numerator, denominator, version, channel_axis)
    return (
        torch.empty_like(x),
        torch.empty_like(numerator, memory_format=torch.contiguous_format),
        torch.empty_like(denominator, memory_format=torch.contiguous_format),
    )


def _setup_context(ctx, inputs, output) -> None:
    x, numerator, denominator, version, channel_axis = inputs
    ctx.save_for_backward(x, numerator, denominator)
    ctx.version, ctx.channel_axis = version, channel_axis


def _backward(ctx, grad):
    x, numerator, denominator = ctx.saved_tensors
    grads = rational_backward_op(grad, x, numerator, denominator, ctx.version, ctx.channel_axis)
    return (*grads, None, None)


rational_op.register_autograd(_backward, setup_context=_setup_context)


class _Eager(torch.autograd.Function):
    """The custom ops' bodies without their dispatch (about 80 µs per call, most of a step on
    small inputs): same saved tensors, same kernels, no second derivative (as the ops)."""

    @staticmethod
    def forward(ctx, x, numerator, denominator, version, channel_axis):
        _setup_context(ctx, (x, numerator, denominator, version, channel_axis), None)
        return _forward(x, numerator, denominator, version, channel_axis)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, numerator, denominator = ctx.saved_tensors
        grads = _backward_values(grad, x, numerator, denominator, ctx.version, ctx.channel_axis)
        return (*grads, None, None)


_PLAIN = (torch.Tensor, torch.nn.Parameter)


def _plain_eager(*tensors: torch.Tensor) -> bool:
    """Plain tensors, run eagerly: no compiler, export, functorch transform or dispatch mode,
    which need the custom op."""
    return (
        all(type(t) in _PLAIN for t in tensors)
        and not torch.compiler.is_compiling()
        and not torch.jit.is_tracing()
        and not torch._C._are_functorch_transforms_active()
        and _get_current_dispatch_mode() is None
    )


def rational_call(
    x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor, version: str,
    channel_axis: int,
) -> torch.Tensor:
    """:func:`rational_op`, or the same bodies through :class:`_Eager` when nothing needs the op."""
    if _plain_eager(x, numerator, denominator):
        return _Eager.apply(x, numerator, denominator, version, channel_axis)
    return rational_op(x, numerator, denominator, version, channel_axis)
