"""Pallas kernels: R(x) forward, and a backward writing dL/dx and per-block coefficient sums.

The input is viewed as a 2-D array of lanes: a flat ``(rows, 128)`` view for shared coefficients,
``(rows, C)`` with channels last (padded to a power of two) for grouped ones. Each coefficient is a
column of a ``(lanes, K)`` table, so the kernel body is the core's math on a ``(block_rows, lanes)``
tile. The backward reduces each coefficient's derivative over the rows of its tile; one final
sum over the tiles (outside the kernel) finishes the reduction, so no atomics are needed.
Padding repeats the last element (with a zero upstream gradient), keeping padded values finite.

The kernels run compiled on GPU and interpreted on CPU (``interpret=True``, for tests only).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from rationals.core import math as rmath
from rationals.core.reference import compute_dtype
from rationals.core.variants import Variant

#: Lanes of the flat view used for shared coefficients.
LANES = 128
#: Elements per tile (rows × lanes).
TILE = 8192


def _pow2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


class _View:
    """The 2-D lane view of x and the coefficient tables of one call."""

    def __init__(self, x: jax.Array, a: jax.Array, b: jax.Array, axis: int | None):
        self.shape, self.axis, self.dtype = x.shape, axis, x.dtype
        self.ct = compute_dtype(x.dtype)
        if axis is None:
            self.channels, self.lanes = None, LANES
            flat = x.reshape(-1)
            self.size = flat.size
            self.block_rows = TILE // LANES
            self.rows = pl.cdiv(max(self.size, 1), LANES * self.block_rows) * self.block_rows
            self.x = jnp.pad(flat, (0, self.rows * LANES - self.size), mode="edge")
            self.x = self.x.reshape(self.rows, LANES)
            self.a, self.b = (self._table(jnp.broadcast_to(c[:, None], (c.shape[0], LANES)))
                              for c in (a, b))
        else:
            moved = jnp.moveaxis(x, axis, -1)
            self.moved_shape = moved.shape
            self.channels = moved.shape[-1]
            self.lanes = _pow2(self.channels)
            x2 = moved.reshape(-1, self.channels)
            self.size = x2.shape[0]
            self.block_rows = max(1, TILE // self.lanes)
            self.rows = pl.cdiv(max(self.size, 1), self.block_rows) * self.block_rows
            self.x = self._pad(x2, "edge")
            self.a, self.b = (self._table(self._per_channel(c).T) for c in (a, b))
        self.ka, self.kb = a.shape[-1], b.shape[-1]

    def _pad(self, v: jax.Array, mode: str) -> jax.Array:
        widths = ((0, self.rows - v.shape[0]), (0, self.lanes - v.shape[1]))
        return jnp.pad(v, widths, mode=mode)

    def _per_channel(self, c: jax.Array) -> jax.Array:
        if c.ndim == 1:
            return jnp.broadcast_to(c, (self.channels, c.shape[0]))
        return jnp.repeat(c, self.channels // c.shape[0], axis=0)

    def _table(self, t: jax.Array) -> jax.Array:
        """``(K, lanes')`` → ``(lanes, pow2(K))``: lanes padded by their last value, K by 0."""
        k = t.shape[0]
        table = jnp.zeros((self.lanes, _pow2(max(k, 1))), self.ct)
        if k:
            lanes = jnp.pad(t, ((0, 0), (0, self.lanes - t.shape[1])), mode="edge")
            table = table.at[:, :k].set(lanes.T.astype(self.ct))
        return table

    def gradient_view(self, g: jax.Array) -> jax.Array:
        """The upstream gradient in the same view, zero in the padding."""
        if self.axis is None:
            flat = jnp.pad(g.reshape(-1), (0, self.rows * LANES - self.size))
            return flat.reshape(self.rows, LANES)
        return self._pad(jnp.moveaxis(g, self.axis, -1).reshape(-1, self.channels), "constant")

    def unview(self, v: jax.Array) -> jax.Array:
        if self.axis is None:
            return v.reshape(-1)[: self.size].reshape(self.shape)
        moved = v[: self.size, : self.channels].reshape(self.moved_shape)
        return jnp.moveaxis(moved, -1, self.axis)

    def coefficient_sums(self, partial_sums: jax.Array, k: int, c: jax.Array) -> jax.Array:
        """Per-tile sums ``(tiles, K', lanes)`` → the gradient in the layout of ``c``."""
        per_lane = partial_sums.sum(axis=0)[:k]  # (K, lanes)
        if self.axis is None:
            return per_lane.sum(axis=1)
        per_channel = per_lane[:, : self.channels].T  # (C, K)
        if c.ndim == 1:
            return per_channel.sum(axis=0)
        return per_channel.reshape(c.shape[0], self.channels // c.shape[0], k).sum(axis=1)

    def specs(self):
        tile = pl.BlockSpec((self.block_rows, self.lanes), lambda i: (i, 0))
        whole = [pl.BlockSpec(t.shape, lambda i: (0, 0)) for t in (self.a, self.b)]
        return tile, whole

    @property
    def grid(self) -> tuple[int]:
        return (self.rows // self.block_rows,)


def _interpret() -> bool:
    return jax.default_backend() == "cpu"


def _forward_kernel(v: Variant, view: _View, x_ref, a_ref, b_ref, y_ref):
    ct = view.ct
    x = x_ref[...].astype(ct)
    y = rmath.forward(jnp, v, x, a_ref[...][:, : view.ka], b_ref[...][:, : view.kb])
    y_ref[...] = y.astype(y_ref.dtype)


def forward(v: Variant, x: jax.Array, a: jax.Array, b: jax.Array, axis: int | None) -> jax.Array:
    """R(x) by the Pallas kernel (``axis``: the channel axis, None for shared coefficients)."""
    if x.size == 0:
        return jnp.zeros_like(x)
    view = _View(x, a, b, axis)
    tile, whole = view.specs()
    y = pl.pallas_call(
        partial(_forward_kernel, v, view),
        out_shape=jax.ShapeDtypeStruct(view.x.shape, x.dtype),
        grid=view.grid, in_specs=[tile, *whole], out_specs=tile, interpret=_interpret(),
    )(view.x, view.a, view.b)
    return view.unview(y)


def _backward_kernel(v: Variant, view: _View, x_ref, g_ref, a_ref, b_ref, dx_ref, da_ref, db_ref):
    ct = view.ct
    x, g = x_ref[...].astype(ct), g_ref[...].astype(ct)
    dx, d_num, d_den = rmath.backward(jnp, v, x, a_ref[...][:, : view.ka], b_ref[...][:, : view.kb])
    dx_ref[...] = (g * dx).astype(dx_ref.dtype)
    for ref, ds in ((da_ref, d_num), (db_ref, d_den)):
        for i, d in enumerate(ds):
            ref[0, i, :] = jnp.sum(g * d, axis=0)


def backward(v: Variant, x: jax.Array, a: jax.Array, b: jax.Array, g: jax.Array,
             axis: int | None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(dL/dx, dL/dnumerator, dL/ddenominator) by the Pallas kernel, given dL/dR = ``g``."""
    ct = compute_dtype(x.dtype)
    if x.size == 0:
        return jnp.zeros_like(x), jnp.zeros(a.shape, ct), jnp.zeros(b.shape, ct)
    view = _View(x, a, b, axis)
    tile, whole = view.specs()
    tiles = view.grid[0]
    sums = [pl.BlockSpec((1, t.shape[1], view.lanes), lambda i: (i, 0, 0))
            for t in (view.a, view.b)]
    dx, pa, pb = pl.pallas_call(
        partial(_backward_kernel, v, view),
        out_shape=(
            jax.ShapeDtypeStruct(view.x.shape, x.dtype),
            jax.ShapeDtypeStruct((tiles, view.a.shape[1], view.lanes), ct),
            jax.ShapeDtypeStruct((tiles, view.b.shape[1], view.lanes), ct),
        ),
        grid=view.grid, in_specs=[tile, tile, *whole], out_specs=(tile, *sums),
        interpret=_interpret(),
    )(view.x, view.gradient_view(g), view.a, view.b)
    return (view.unview(dx), view.coefficient_sums(pa, view.ka, a),
            view.coefficient_sums(pb, view.kb, b))
