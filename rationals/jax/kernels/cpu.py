"""The compiled CPU kernels (:mod:`rationals.cpu`) as XLA FFI custom calls.

``forward`` and ``backward`` take x in its compute dtype (float32 or float64) and the coefficient
arrays in the same dtype, shared ``(K,)`` or grouped ``(G, K)``; the kernels see per-channel
tables ``(C, K)`` and return per-channel coefficient gradients, summed back into groups here.
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


def _attributes(v: Variant, shape: tuple[int, ...], axis: int | None) -> dict:
    outer, channels, inner = cpu.geometry(shape, axis)
    return {"version": np.int32(cpu.VERSION_CODES[v.version]), "n": np.int32(v.n),
            "m": np.int32(v.m), "outer": np.int64(outer), "channels": np.int64(channels),
            "inner": np.int64(inner)}


def _table(c: jax.Array, channels: int) -> jax.Array:
    """Per-channel coefficient rows ``(channels, K)`` from ``(K,)`` or ``(G, K)``."""
    if c.ndim == 1:
        return jnp.broadcast_to(c, (channels, c.shape[0]))
    return jnp.repeat(c, channels // c.shape[0], axis=0)


def _untable(d: jax.Array, c: jax.Array) -> jax.Array:
    """Per-channel gradient rows summed into the layout of ``c``."""
    if c.ndim == 1:
        return d.sum(axis=0)
    return d.reshape(c.shape[0], d.shape[0] // c.shape[0], c.shape[1]).sum(axis=1)


def _channels(x: jax.Array, axis: int | None) -> int:
    return 1 if axis is None else x.shape[axis]


def forward(v: Variant, x: jax.Array, a: jax.Array, b: jax.Array, axis: int | None) -> jax.Array:
    """R(x); x, a and b share one float32/float64 dtype."""
    register()
    channels = _channels(x, axis)
    call = jax.ffi.ffi_call(FORWARD, jax.ShapeDtypeStruct(x.shape, x.dtype),
                            vmap_method="sequential")
    return call(x, _table(a, channels), _table(b, channels), **_attributes(v, x.shape, axis))


def backward(v: Variant, x: jax.Array, a: jax.Array, b: jax.Array, g: jax.Array,
             axis: int | None):
    """(g·dR/dx, Σ g·dR/da, Σ g·dR/db); x, g, a and b share one float32/float64 dtype."""
    register()
    channels = _channels(x, axis)
    ta, tb = _table(a, channels), _table(b, channels)
    call = jax.ffi.ffi_call(
        BACKWARD,
        (jax.ShapeDtypeStruct(x.shape, x.dtype), jax.ShapeDtypeStruct(ta.shape, x.dtype),
         jax.ShapeDtypeStruct(tb.shape, x.dtype)),
        vmap_method="sequential",
    )
    dx, da, db = call(x, g, ta, tb, **_attributes(v, x.shape, axis))
    return dx, _untable(da, a), _untable(db, b)
