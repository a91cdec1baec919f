"""The compiled CPU kernels of :mod:`rationals.cpu` on torch tensors (no copy of x or g).

Called on the kernel view of :mod:`rationals.torch.kernels.layout` (``(numel,)`` shared, or
``(B, C, S)`` grouped; float32, float64, float16 or bfloat16, the halves computed in float32
inside the kernels) with the coefficients as given (``(K,)`` or ``(G, K)``): the kernels see
one table row per lcm of the group counts and return gradients per row, summed into groups here.
ctypes releases the GIL for the call; threads: ``torch.get_num_threads()``.
"""

from __future__ import annotations

import torch

from rationals import cpu
from rationals.core.variants import Variant
from rationals.cpu import arrays

__all__ = ["available", "backward", "forward"]

#: Entry suffix of x's dtype (the halves are computed in float32 inside the kernels).
_SUFFIX = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16",
           torch.bfloat16: "bf16"}


def available(v: Variant) -> bool:
    """Whether the kernels serve ``v`` here (a failed build warns once)."""
    return cpu.unavailable(v, arrays.library, "torch's own kernels") is None


def _tables(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype):
    rows = cpu.table_rows(a.shape, b.shape)

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
    axis = None if xk.ndim == 1 else 1
    return [*cpu.call_parameters(v, tuple(xk.shape), axis, rows), torch.get_num_threads()]


def _storage(xk: torch.Tensor) -> torch.dtype:
    return xk.dtype if xk.dtype in _SUFFIX else torch.float32


def forward(v: Variant, xk: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R on the contiguous kernel view ``xk``, in x's dtype."""
    st = _storage(xk)
    xs = xk.to(st)
    rows, ta, tb = _tables(a, b, torch.float64 if st == torch.float64 else torch.float32)
    out = torch.empty_like(xs)
    fn = getattr(arrays.library(), f"rationals_forward_{_SUFFIX[st]}")
    fn(*_scalars(v, xk, rows), xs.data_ptr(), ta.data_ptr(), tb.data_ptr(),
       out.data_ptr())
    return out.to(xk.dtype)


def backward(v: Variant, gk: torch.Tensor, xk: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    """(g·dR/dx in x's dtype, Σ g·dR/da, Σ g·dR/db in the compute dtype, in a's / b's layout)."""
    st = _storage(xk)
    xs, gs = xk.to(st), gk.to(st).contiguous()
    rows, ta, tb = _tables(a, b, torch.float64 if st == torch.float64 else torch.float32)
    dx, da, db = torch.empty_like(xs), torch.empty_like(ta), torch.empty_like(tb)
    fn = getattr(arrays.library(), f"rationals_backward_{_SUFFIX[st]}")
    fn(*_scalars(v, xk, rows), xs.data_ptr(), gs.data_ptr(), ta.data_ptr(),
       tb.data_ptr(), dx.data_ptr(), da.data_ptr(), db.data_ptr())
    return dx.to(xk.dtype), _untable(da, a), _untable(db, b)
