"""The compiled CPU kernels (:mod:`rationals.cpu`) as XLA FFI custom calls.

``forward`` and ``backward`` take x (and the cotangent) as float64, float32, float16 or bfloat16
(halves are computed in float32 inside the kernels) and the coefficient arrays in x's compute
dtype, shared ``(K,)`` or grouped ``(G, K)``; the kernels see one table row per
:func:`rationals.cpu.row_count` (lcm of the group counts) and return gradients per row, summed
back into groups here.
One call computes R, or dL/dx and every coefficient gradient, in one threaded pass over x.
"""

from __future__ import annotations

import ctypes
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np

from rationals import cpu
from rationals.core.variants import Variant

FORWARD, BACKWARD = "rationals_forward", "rationals_backward"


@cache
def register() -> None:
    """Build (once per machine) and load the kernels, and register them with XLA for the CPU.

    Raises :class:`rationals.cpu.BuildError` when they cannot be built.
    """
    library = ctypes.cdll.LoadLibrary(str(cpu.build("jax_ffi.cc", (jax.ffi.include_dir(),))))
    for name, symbol in ((FORWARD, library.RationalsForward),
                         (BACKWARD, library.RationalsBackward)):
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(symbol), platform="cpu")


#: The handlers' attributes, in the order of :func:`rationals.cpu.call_parameters`.
_ATTRIBUTES = (("version", np.int32), ("n", np.int32), ("m", np.int32), ("outer", np.int64),
               ("channels", np.int64), ("inner", np.int64))


def _attributes(v: Variant, shape: tuple[int, ...], axis: int | None, rows: int) -> dict:
    values = cpu.call_parameters(v, shape, axis, rows)
    return {name: kind(value) for (name, kind), value in zip(_ATTRIBUTES, values, strict=True)}


def _rows(a: jax.Array, b: jax.Array) -> int:
    return cpu.table_rows(a.shape, b.shape)


def _table(c: jax.Array, rows: int) -> jax.Array:
    """Coefficient rows ``(rows, K)`` from ``(K,)`` or ``(G, K)`` (G divides rows)."""
    if c.ndim == 1:
        return jnp.broadcast_to(c, (rows, c.shape[0]))
    return jnp.repeat(c, rows // c.shape[0], axis=0)


def _untable(d: jax.Array, c: jax.Array) -> jax.Array:
    """Gradient rows summed into the layout of ``c``."""
    if c.ndim == 1:
        return d.sum(axis=0)
    return d.reshape(c.shape[0], d.shape[0] // c.shape[0], c.shape[1]).sum(axis=1)


def forward(v: Variant, x: jax.Array, a: jax.Array, b: jax.Array, axis: int | None) -> jax.Array:
    """R(x) in x's dtype."""
    register()
    rows = _rows(a, b)
    call = jax.ffi.ffi_call(FORWARD, jax.ShapeDtypeStruct(x.shape, x.dtype),
                            vmap_method="sequential")
    return call(x, _table(a, rows), _table(b, rows), **_attributes(v, x.shape, axis, rows))


def backward(v: Variant, x: jax.Array, a: jax.Array, b: jax.Array, g: jax.Array,
             axis: int | None):
    """(g·dR/dx in x's dtype, Σ g·dR/da, Σ g·dR/db in the coefficients' dtype)."""
    register()
    rows = _rows(a, b)
    ta, tb = _table(a, rows), _table(b, rows)
    call = jax.ffi.ffi_call(
        BACKWARD,
        (jax.ShapeDtypeStruct(x.shape, x.dtype), jax.ShapeDtypeStruct(ta.shape, ta.dtype),
         jax.ShapeDtypeStruct(tb.shape, tb.dtype)),
        vmap_method="sequential",
        input_output_aliases={1: 0},
    )
    dx, da, db = call(x, g, ta, tb, **_attributes(v, x.shape, axis, rows))
    return dx, _untable(da, a), _untable(db, b)
