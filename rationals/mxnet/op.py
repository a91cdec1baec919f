"""``rational``: R(x) = P(x)/Q(x) as an MXNet custom operator with a recomputing backward.

The operator (``op_type="rationals_rational"``) runs the compiled CPU kernels
(:mod:`rationals.cpu.arrays`: one threaded pass for R, one for every gradient). Where they cannot
be built it evaluates the numpy core (:func:`rationals.core.rational` and
:func:`rationals.core.rational_backward`) block by block, about 2^16 elements at a time, so that
the core's temporaries stay in cache and never grow with the input. Its backward declares a
dependency on the inputs and the output gradient only: the autograd graph keeps ``x`` and the
coefficients, never the output nor any power of ``x``.

It runs imperatively (``mx.nd``), in symbolic graphs (``mx.sym``), after ``hybridize()`` and in
exported models; ``import rationals.mxnet`` registers it (also before ``SymbolBlock.imports``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mxnet as mx
import numpy as np

from rationals import cpu
from rationals.core import rational as core_rational
from rationals.core import rational_backward as core_rational_backward
from rationals.core.layout import check_groups, normalize_axis
from rationals.core.validation import check_coefficients
from rationals.core.variants import Variant, check_version, variant_from_sizes
from rationals.cpu import arrays

__all__ = ["OP_TYPE", "rational"]

OP_TYPE = "rationals_rational"
#: Elements evaluated per call of the numpy core.
BLOCK = 1 << 16

Array = Any  # mx.nd.NDArray or mx.sym.Symbol


def _view(shape: tuple[int, ...], grouped: bool, channel_axis: int) -> tuple[int, int, int]:
    """(before, C, after): x as a 3-D array with its channels (if grouped) in the middle."""
    size = int(np.prod(shape))
    if not grouped:
        return size, 1, 1
    if not shape:
        raise ValueError("grouped coefficients need an input with a channel axis")
    axis = normalize_axis(channel_axis, len(shape))
    return int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1 :]))


def _blocks(before: int, channels: int, after: int) -> Iterator[tuple[slice, ...]]:
    """Index tuples that cut a (before, C, after) array into pieces of about BLOCK elements."""
    row = max(channels * after, 1)
    if row <= BLOCK:
        step = BLOCK // row
        for i in range(0, before, step):
            yield (slice(i, i + step),)
    else:
        step = max(BLOCK // max(channels, 1), 1)
        for i in range(before):
            for j in range(0, after, step):
                yield (slice(i, i + 1), slice(None), slice(j, j + step))


def _kernels(version: str, a: np.ndarray, b: np.ndarray) -> Variant | None:
    """The variant when the compiled CPU kernels serve it here, else None."""
    v = variant_from_sizes(version, a.shape[-1], b.shape[-1])
    return v if cpu.unavailable(v, arrays.library, "numpy") is None else None


def _axis(x: np.ndarray, a: np.ndarray, b: np.ndarray, channel_axis: int) -> int | None:
    grouped = a.ndim == 2 or b.ndim == 2
    return normalize_axis(channel_axis, x.ndim) if grouped else None


def forward_numpy(
    x: np.ndarray, a: np.ndarray, b: np.ndarray, version: str, channel_axis: int
) -> np.ndarray:
    """R(x): the compiled kernels, or blocks of the numpy core (direct form where allowed)."""
    v = _kernels(version, a, b)
    if v is not None:
        return arrays.forward(v, x, a, b, _axis(x, a, b, channel_axis))
    grouped = a.ndim == 2 or b.ndim == 2
    x3 = x.reshape(_view(x.shape, grouped, channel_axis))
    y = np.empty_like(x3)
    for s in _blocks(*x3.shape):
        y[s] = core_rational(x3[s], a, b, version, channel_axis=1, form="auto")
    return y.reshape(x.shape)


def backward_numpy(
    x: np.ndarray, a: np.ndarray, b: np.ndarray, g: np.ndarray, version: str, channel_axis: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dL/dx, dL/da, dL/db): the compiled kernels, or blocks of
    :func:`rationals.core.rational_backward`."""
    v = _kernels(version, a, b)
    if v is not None:
        return arrays.backward(v, x, a, b, g, _axis(x, a, b, channel_axis))
    grouped = a.ndim == 2 or b.ndim == 2
    shape3 = _view(x.shape, grouped, channel_axis)
    x3, g3 = x.reshape(shape3), g.reshape(shape3)
    dx = np.empty_like(x3)
    da, db = np.zeros(a.shape), np.zeros(b.shape)
    for s in _blocks(*shape3):
        dx[s], da_s, db_s = core_rational_backward(
            x3[s], a, b, g3[s], version, channel_axis=1, form="auto"
        )
        da += da_s
        db += db_s
    return dx.reshape(x.shape), da, db


class _RationalOp(mx.operator.CustomOp):
    """Forward and recomputing backward; inputs: x, numerator, denominator (, noise for D)."""

    def __init__(self, version: str, channel_axis: int) -> None:
        super().__init__()
        self.version = version
        self.channel_axis = channel_axis
        self.noisy = False  # whether the last forward used the noise input (D in training)

    def _denominator(self, in_data: list) -> np.ndarray:
        b = in_data[2].asnumpy()
        return b * in_data[3].asnumpy() if self.noisy else b

    def forward(self, is_train, req, in_data, out_data, aux) -> None:
        self.noisy = self.version == "D" and bool(is_train)
        y = forward_numpy(
            in_data[0].asnumpy(), in_data[1].asnumpy(), self._denominator(in_data),
            self.version, self.channel_axis,
        )
        out = out_data[0]
        self.assign(out, req[0], mx.nd.array(y, ctx=out.context, dtype=out.dtype))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux) -> None:
        dx, da, db = backward_numpy(
            in_data[0].asnumpy(), in_data[1].asnumpy(), self._denominator(in_data),
            out_grad[0].asnumpy(), self.version, self.channel_axis,
        )
        if self.noisy:  # d(b·u)/db = u
            db = db * in_data[3].asnumpy()
        grads = [dx, da, db] + [np.zeros(g.shape) for g in in_grad[3:]]  # no gradient to noise
        for dst, r, g in zip(in_grad, req, grads, strict=True):
            self.assign(dst, r, mx.nd.array(g, ctx=dst.context, dtype=dst.dtype))


def check_shapes(
    version: str, x_shape: tuple[int, ...], a_shape: tuple[int, ...], b_shape: tuple[int, ...],
    channel_axis: int,
) -> None:
    """ValueError unless the coefficient shapes fit ``version`` and the input's channels."""
    shapes = (("numerator", tuple(a_shape)), ("denominator", tuple(b_shape)))
    for name, s in shapes:
        if len(s) not in (1, 2):
            raise ValueError(
                f"{name} must be 1-D (shared) or 2-D (groups, coefficients), got shape {s}"
            )
    variant_from_sizes(version, a_shape[-1], b_shape[-1])
    grouped = [(name, s[0]) for name, s in shapes if len(s) == 2]
    if grouped:
        _, channels, _ = _view(tuple(x_shape), True, channel_axis)
        for name, groups in grouped:
            check_groups(channels, groups, name)


@mx.operator.register(OP_TYPE)
class _RationalProp(mx.operator.CustomOpProp):
    """Shapes and types of the operator; string attributes ``version`` and ``channel_axis``."""

    def __init__(self, version: str = "A", channel_axis: str = "1") -> None:
        super().__init__(need_top_grad=True)
        self.version = check_version(version)
        self.channel_axis = int(channel_axis)

    def list_arguments(self) -> list[str]:
        return ["data", "numerator", "denominator"] + (["noise"] if self.version == "D" else [])

    def list_outputs(self) -> list[str]:
        return ["output"]

    def infer_shape(self, in_shape):
        check_shapes(self.version, *in_shape[:3], self.channel_axis)
        return in_shape, [in_shape[0]], []

    def infer_type(self, in_type):
        return in_type, [in_type[0]], []

    def declare_backward_dependency(self, out_grad, in_data, out_data):
        return out_grad + in_data  # not the output: the backward recomputes from x

    def create_operator(self, ctx, in_shapes, in_dtypes):
        return _RationalOp(self.version, self.channel_axis)


def apply(F: Any, x: Array, numerator: Array, denominator: Array, version: str, channel_axis: int):
    """The operator on ``F`` (``mx.nd`` or ``mx.sym``); version D gets a U[0.9, 1.1] noise input."""
    inputs = [x, numerator, denominator]
    if version == "D":  # drawn on every call; the operator uses it only when is_train
        inputs.append(F.random.uniform_like(denominator, low=0.9, high=1.1))
    return F.Custom(*inputs, op_type=OP_TYPE, version=version, channel_axis=channel_axis)


def rational(
    x: Array, numerator: Array, denominator: Array, version: str = "A", *, channel_axis: int = 1
) -> Array:
    """R(x) = P(x)/Q(x) of ``version`` on NDArrays or Symbols, differentiable in all three inputs.

    Args:
        x: input of any float dtype; float16 is computed in float32 and keeps its dtype.
        numerator: ascending coefficients, ``(K,)`` shared or ``(G, K)`` grouped over
            ``channel_axis`` (channel c uses group c // (C // G)).
        denominator: ascending coefficients, ``(K,)`` or ``(G, K)`` with its own G.
        version: one of ``A``, ``B``, ``C``, ``D``, ``N``, ``boulle``, ``era``. ``D`` multiplies
            each denominator coefficient by a fresh U[0.9, 1.1] draw when the operator runs in
            training mode (``autograd.is_training()``); otherwise it is exactly ``B``.
        channel_axis: axis of ``x`` holding the channels of grouped coefficients.

    Returns:
        An array of ``x``'s shape and dtype; coefficient gradients have the coefficients' dtype.
    """
    check_version(version)
    if isinstance(x, mx.sym.Symbol):
        return apply(mx.sym, x, numerator, denominator, version, channel_axis)
    check_coefficients(version, numerator.asnumpy(), denominator.asnumpy())
    check_shapes(version, x.shape, numerator.shape, denominator.shape, channel_axis)
    if denominator.shape[-1] == 0:  # m = 0 (A, B, D, N): Q = 1; legacy shapes read 0 as unknown
        denominator = mx.nd.zeros(
            (*denominator.shape[:-1], 1), ctx=denominator.context, dtype=denominator.dtype
        )  # b_1 = 0 gives the same Q = 1; the empty denominator's gradient stays empty
    return apply(mx.nd, x, numerator, denominator, version, channel_axis)
