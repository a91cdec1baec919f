"""The compiled CPU kernels on numpy arrays (through ctypes): used by the MXNet operator.

``forward`` and ``backward`` take x of any float dtype (float16 and others are computed in
float32, float64 in float64) and coefficients ``(K,)`` shared or ``(G, K)`` grouped over
``axis``; results come back in x's dtype, coefficient gradients in float64.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache

import numpy as np

from rationals.core.variants import Variant

from . import VERSION_CODES, build, geometry, row_count

_INT = (ctypes.c_int,) * 3 + (ctypes.c_int64,) * 3 + (ctypes.c_int,)


@cache
def library() -> ctypes.CDLL:
    """The C interface, built once per machine; raises :class:`rationals.cpu.BuildError`."""
    lib = ctypes.CDLL(str(build("c_api.cc", (), ("-fopenmp",))))
    for suffix, t in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        ptr = ctypes.POINTER(t)
        getattr(lib, f"rationals_forward_{suffix}").argtypes = [*_INT] + [ptr] * 4
        getattr(lib, f"rationals_backward_{suffix}").argtypes = [*_INT] + [ptr] * 7
    return lib


def _compute(x: np.ndarray) -> np.dtype:
    return np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)


def _tables(a: np.ndarray, b: np.ndarray, dtype: np.dtype) -> tuple[int, np.ndarray, np.ndarray]:
    rows = row_count(*(c.shape[0] if c.ndim == 2 else 1 for c in (a, b)))

    def table(c: np.ndarray) -> np.ndarray:
        rep = np.broadcast_to(c, (rows, c.shape[0])) if c.ndim == 1 else np.repeat(
            c, rows // c.shape[0], axis=0)
        return np.ascontiguousarray(rep, dtype)

    return rows, table(a), table(b)


def _untable(d: np.ndarray, c: np.ndarray) -> np.ndarray:
    if c.ndim == 1:
        return d.sum(axis=0)
    return d.reshape(c.shape[0], d.shape[0] // c.shape[0], c.shape[1]).sum(axis=1)


def _pointer(t: np.ndarray):
    ctype = ctypes.c_double if t.dtype == np.float64 else ctypes.c_float
    return t.ctypes.data_as(ctypes.POINTER(ctype))


def _scalars(v: Variant, shape: tuple[int, ...], axis: int | None, rows: int) -> list[int]:
    threads = os.cpu_count() or 1
    return [VERSION_CODES[v.version], v.n, v.m, *geometry(shape, axis, rows), threads]


def forward(v: Variant, x: np.ndarray, a: np.ndarray, b: np.ndarray,
            axis: int | None) -> np.ndarray:
    """R(x), in x's dtype."""
    ct = _compute(x)
    xc = np.ascontiguousarray(x, ct)
    rows, ta, tb = _tables(a, b, ct)
    out = np.empty_like(xc)
    fn = getattr(library(), f"rationals_forward_f{8 * ct.itemsize}")
    fn(*_scalars(v, x.shape, axis, rows), *map(_pointer, (xc, ta, tb, out)))
    return out.astype(x.dtype, copy=False)


def backward(v: Variant, x: np.ndarray, a: np.ndarray, b: np.ndarray, g: np.ndarray,
             axis: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(g·dR/dx in x's dtype, Σ g·dR/da, Σ g·dR/db in float64)."""
    ct = _compute(x)
    xc, gc = np.ascontiguousarray(x, ct), np.ascontiguousarray(g, ct)
    rows, ta, tb = _tables(a, b, ct)
    dx, da, db = np.empty_like(xc), np.empty_like(ta), np.empty_like(tb)
    fn = getattr(library(), f"rationals_backward_f{8 * ct.itemsize}")
    fn(*_scalars(v, x.shape, axis, rows), *map(_pointer, (xc, gc, ta, tb, dx, da, db)))
    return (dx.astype(x.dtype, copy=False), _untable(da.astype(np.float64), a),
            _untable(db.astype(np.float64), b))
