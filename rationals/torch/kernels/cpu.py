"""The compiled CPU kernels of :mod:`rationals.cpu` on torch tensors (no copy of x or g).

Called on the kernel view of :mod:`rationals.torch.kernels.layout` (``(numel,)`` shared, or
``(B, C, S)`` grouped) with the coefficients as given (``(K,)`` or ``(G, K)``): the kernels see
one table row per lcm of the group counts and return gradients per row, summed into groups here.
ctypes releases the GIL for the call; threads: ``torch.get_num_threads()``.
"""

from __future__ import annotations

import ctypes

import torch

from rationals import cpu
from rationals.core.variants import Variant
from rationals.cpu import arrays

__all__ = ["available", "backward", "forward"]

_C = {torch.float32: (ctypes.c_float, "f32"), torch.float64: (ctypes.c_double, "f64")}


def available(v: Variant) -> bool:
    """Whether the kernels serve ``v`` here (raises nothing: a failed build warns elsewhere)."""
    if not cpu.enabled() or not cpu.supports(v.n, v.m):
        return False
    try:
        arrays.library()
    except cpu.BuildError:
        return False
    return True


def _pointer(t: torch.Tensor):
    return ctypes.cast(t.data_ptr(), ctypes.POINTER(_C[t.dtype][0]))


def _tables(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype):
    rows = cpu.row_count(*(c.shape[0] if c.ndim == 2 else 1 for c in (a, b)))

    def table(c: torch.Tensor) -> torch.Tensor:
        c = c.detach().to(dtype)
        full = c.expand(rows, c.shape[0]) if c.ndim == 1 else c.repeat_interleave(
            rows // c.shape[0], dim=0)
        return full.contiguous()

    return rows, table(a), table(b)


def _untable(d: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    if c.ndim == 1:
        return d.sum(0)
    return d.reshape(c.shape[0], d.shape[0] // c.shape[0], c.shape[1]).sum(1)


def _scalars(v: Variant, xk: torch.Tensor, rows: int) -> list[int]:
    shape = tuple(xk.shape)
    axis = None if xk.ndim == 1 else 1
    return [cpu.VERSION_CODES[v.version], v.n, v.m, *cpu.geometry(shape, axis, rows),
            torch.get_num_threads()]


def forward(v: Variant, xk: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R on the contiguous kernel view ``xk`` (other dtypes than float32/float64 are computed
    in float32 on converted copies); x's dtype out."""
    ct = torch.float64 if xk.dtype == torch.float64 else torch.float32
    xc = xk.to(ct)
    rows, ta, tb = _tables(a, b, ct)
    out = torch.empty_like(xc)
    fn = getattr(arrays.library(), f"rationals_forward_{_C[ct][1]}")
    fn(*_scalars(v, xk, rows), *map(_pointer, (xc, ta, tb, out)))
    return out.to(xk.dtype)


def backward(v: Variant, gk: torch.Tensor, xk: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    """(g·dR/dx in x's dtype, Σ g·dR/da, Σ g·dR/db in the compute dtype, in a's / b's layout)."""
    ct = torch.float64 if xk.dtype == torch.float64 else torch.float32
    xc, gc = xk.to(ct), gk.to(ct).contiguous()
    rows, ta, tb = _tables(a, b, ct)
    dx, da, db = torch.empty_like(xc), torch.empty_like(ta), torch.empty_like(tb)
    fn = getattr(arrays.library(), f"rationals_backward_{_C[ct][1]}")
    fn(*_scalars(v, xk, rows), *map(_pointer, (xc, gc, ta, tb, dx, da, db)))
    return dx.to(xk.dtype), _untable(da, a), _untable(db, b)
