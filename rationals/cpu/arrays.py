"""The compiled CPU kernels on numpy arrays (through ctypes): used by the MXNet operator.

``forward`` and ``backward`` take x of any float dtype (float64 in float64; float32 and float16,
which the kernels read as is, and others, converted first, in float32) and coefficients ``(K,)``
shared or ``(G, K)`` grouped over ``axis``; results come back in x's dtype, coefficient gradients
in float64. :func:`library` also serves the torch adapter (its bfloat16 entry included).
"""

from __future__ import annotations

import ctypes
import os
from functools import cache

import numpy as np

from rationals.core.variants import Variant

from . import build, call_parameters, table_rows

_INT = (ctypes.c_int,) * 3 + (ctypes.c_int64,) * 3 + (ctypes.c_int,)
#: Entry suffix of each storage dtype of x: its coefficient type is float64 for f64, else float32.
SUFFIXES = ("f32", "f64", "f16", "bf16")


@cache
def library() -> ctypes.CDLL:
    """The C interface, built once per machine; raises :class:`rationals.cpu.BuildError`.

    ``rationals_forward_<suffix>(version, n, m, outer, rows, inner, threads, x, a, b, out)`` and
    ``rationals_backward_<suffix>(..., x, g, a, b, dx, da, db)``, every array by its address
    (the coefficient tables float64 for ``f64``, else float32).
    """
    lib = ctypes.CDLL(str(build("c_api.cc", (), ("-fopenmp",))))
    void = ctypes.c_void_p  # addresses as ints: no pointer object per call
    for suffix in SUFFIXES:
        getattr(lib, f"rationals_forward_{suffix}").argtypes = [*_INT, *[void] * 4]
        getattr(lib, f"rationals_backward_{suffix}").argtypes = [*_INT, *[void] * 7]
    return lib


def _storage(x: np.ndarray) -> np.dtype:
    """The dtype the kernels read x in: its own for float64/32/16, else float32."""
    return x.dtype if x.dtype in (np.float64, np.float32, np.float16) else np.dtype(np.float32)


def _compute(storage: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if storage == np.float64 else np.dtype(np.float32)


_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.float16): "f16"}


def _tables(a: np.ndarray, b: np.ndarray, dtype: np.dtype) -> tuple[int, np.ndarray, np.ndarray]:
    rows = table_rows(a.shape, b.shape)

    def table(c: np.ndarray) -> np.ndarray:
        rep = np.broadcast_to(c, (rows, c.shape[0])) if c.ndim == 1 else np.repeat(
            c, rows // c.shape[0], axis=0)
        return np.ascontiguousarray(rep, dtype)

    return rows, table(a), table(b)


def _untable(d: np.ndarray, c: np.ndarray) -> np.ndarray:
    if c.ndim == 1:
        return d.sum(axis=0)
    return d.reshape(c.shape[0], d.shape[0] // c.shape[0], c.shape[1]).sum(axis=1)


def _scalars(v: Variant, shape: tuple[int, ...], axis: int | None, rows: int) -> list[int]:
    return [*call_parameters(v, shape, axis, rows), os.cpu_count() or 1]


def forward(v: Variant, x: np.ndarray, a: np.ndarray, b: np.ndarray,
            axis: int | None) -> np.ndarray:
    """R(x), in x's dtype."""
    st = _storage(x)
    xs = np.ascontiguousarray(x, st)
    rows, ta, tb = _tables(a, b, _compute(st))
    out = np.empty_like(xs)
    fn = getattr(library(), f"rationals_forward_{_SUFFIX[st]}")
    fn(*_scalars(v, x.shape, axis, rows), xs.ctypes.data, ta.ctypes.data, tb.ctypes.data,
       out.ctypes.data)
    return out.astype(x.dtype, copy=False)


def backward(v: Variant, x: np.ndarray, a: np.ndarray, b: np.ndarray, g: np.ndarray,
             axis: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(g·dR/dx in x's dtype, Σ g·dR/da, Σ g·dR/db in float64)."""
    st = _storage(x)
    xs, gs = np.ascontiguousarray(x, st), np.ascontiguousarray(g, st)
    rows, ta, tb = _tables(a, b, _compute(st))
    dx, da, db = np.empty_like(xs), np.empty_like(ta), np.empty_like(tb)
    fn = getattr(library(), f"rationals_backward_{_SUFFIX[st]}")
    fn(*_scalars(v, x.shape, axis, rows), xs.ctypes.data, gs.ctypes.data, ta.ctypes.data,
       tb.ctypes.data, dx.ctypes.data, da.ctypes.data, db.ctypes.data)
    return (dx.astype(x.dtype, copy=False), _untable(da.astype(np.float64), a),
            _untable(db.astype(np.float64), b))
