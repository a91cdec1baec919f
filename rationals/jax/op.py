"""``rational`` for JAX: a ``jax.custom_vjp`` with a compiled CPU kernel, an XLA and a Pallas path.

On the CPU the default path calls the compiled kernels of :mod:`rationals.cpu` (one threaded pass
for R, one for dL/dx and every coefficient gradient). The XLA path, used on other platforms and
wherever the kernels are unavailable, evaluates the formulas of :mod:`rationals.core.math` and
:mod:`rationals.core.direct` with ``xp=jax.numpy``; this module only handles dtypes, layouts,
reductions and the choice of path. The backward saves x and the coefficients and recomputes
everything else from x.

XLA on CPU cannot fuse a reduction with the elementwise work that feeds it and with dL/dx in one
loop, so large inputs on CPU are processed in chunks of :data:`CPU_CHUNK` elements by a
``lax.scan``: the intermediates of one chunk stay in cache. Other platforms use one pass.
"""

from __future__ import annotations

from functools import partial
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from rationals import cpu
from rationals.core import direct
from rationals.core import math as rmath
from rationals.core.layout import check_groups, coefficient_shape, normalize_axis, reduce_axes
from rationals.core.reference import compute_dtype
from rationals.core.validation import check_coefficients
from rationals.core.variants import Variant, check_version

from .kernels import cpu as cpu_kernels

Implementation = Literal["auto", "cpu", "xla", "pallas"]
IMPLEMENTATIONS = ("auto", "cpu", "xla", "pallas")

#: Platforms on which ``implementation="auto"`` picks the Pallas kernel. Empty until the kernel
#: has been measured faster than the XLA path on a GPU (see docs/jax.md).
PALLAS_PLATFORMS: frozenset[str] = frozenset()

#: Elements per chunk of the CPU backward (about 1 MiB of float32 per intermediate).
CPU_CHUNK = 2**18


class _Static(NamedTuple):
    """The static part of a call: the variant, the channel axis (None: shared) and the path."""

    variant: Variant
    axis: int | None
    implementation: str


def rational(
    x: jax.typing.ArrayLike,
    numerator: jax.typing.ArrayLike,
    denominator: jax.typing.ArrayLike,
    version: str = "A",
    *,
    channel_axis: int = -1,
    key: jax.Array | None = None,
    implementation: Implementation = "auto",
) -> jax.Array:
    """R(x) = P(x)/Q(x) of ``version``, differentiable in x and in both coefficient arrays.

    Args:
        x: input of any shape; float16/bfloat16 are computed in float32, the output keeps x's dtype.
        numerator: ascending coefficients, ``(K,)`` shared or ``(groups, K)`` grouped.
        denominator: ascending coefficients, ``(K,)`` shared or ``(groups, K)`` grouped.
        version: one of ``rationals.core.VERSIONS``.
        channel_axis: the axis of x holding channels (used by grouped coefficients only).
        key: a PRNG key. With version ``"D"`` each denominator coefficient is multiplied by a fresh
            U[0.9, 1.1] draw from it (training); without a key ``"D"`` is exactly ``"B"``. Other
            versions ignore it.
        implementation: ``"cpu"`` (the compiled CPU kernels; CPU only), ``"xla"``, ``"pallas"``
            (interpreted on CPU) or ``"auto"``: Pallas on the platforms in
            :data:`PALLAS_PLATFORMS`, else the CPU kernels on the CPU (when they build) and XLA
            elsewhere.

    Returns:
        R(x), shaped and typed like x.
    """
    check_version(version)
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"unknown implementation {implementation!r}; valid: {', '.join(IMPLEMENTATIONS)}"
        )
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    a, b = _coefficient_array(numerator), _coefficient_array(denominator)
    v = check_coefficients(version, _host(a), _host(b))
    axis = _channel_axis(x, a, b, channel_axis)
    if version == "D" and key is not None:
        b = b * jax.random.uniform(key, b.shape, b.dtype, 0.9, 1.1)
    if implementation == "auto":
        if jax.default_backend() in PALLAS_PLATFORMS:
            implementation = "pallas"
        elif not _cpu_kernels_serve(v):
            implementation = "xla"
    elif implementation == "cpu":
        _cpu_kernels_serve(v, required=True)
    return _rational(_Static(v, axis, implementation), *_same_varying_axes(x, a, b))


def _cpu_kernels_serve(v: Variant, required: bool = False) -> bool:
    """Whether the compiled CPU kernels serve ``v`` here; with ``required``, say why not."""
    reason = cpu.unavailable(v, cpu_kernels.register, "XLA")
    if reason and required:
        raise ValueError(f"implementation='cpu' is unavailable: {reason}")
    return reason is None


def _coefficient_array(c: jax.typing.ArrayLike) -> jax.Array:
    c = jnp.asarray(c)
    return c if jnp.issubdtype(c.dtype, jnp.floating) else c.astype(jnp.result_type(float))


def _host(c: jax.Array) -> np.ndarray:
    """The values for validation when known (eager); zeros of the same shape under a trace."""
    if isinstance(c, jax.core.Tracer):
        return np.zeros(c.shape)
    return np.asarray(c, np.float64)


def _same_varying_axes(*arrays: jax.Array) -> list[jax.Array]:
    """Inside ``shard_map``: give every operand the union of their varying mesh axes.

    A custom_vjp's cotangents must have their primal's type; the gradient of coefficients
    replicated over a mesh axis that x varies over is varying, so the coefficients are cast to
    varying first (JAX transposes that cast into the psum over the axis).
    """
    varying = [_varying(t) for t in arrays]
    union = frozenset().union(*varying)
    return [t if axes == union else jax.lax.pcast(t, tuple(sorted(union - axes)), to="varying")
            for t, axes in zip(arrays, varying, strict=True)]


def _varying(t: jax.Array) -> frozenset:
    manual = getattr(jax.typeof(t), "manual_axis_type", None)
    return frozenset() if manual is None else manual.varying


def _channel_axis(x: jax.Array, a: jax.Array, b: jax.Array, channel_axis: int) -> int | None:
    if a.ndim == 1 and b.ndim == 1:
        return None
    if x.ndim == 0:
        raise ValueError("grouped coefficients need an input with a channel axis")
    axis = normalize_axis(channel_axis, x.ndim)
    for name, c in (("numerator", a), ("denominator", b)):
        if c.ndim == 2:
            check_groups(x.shape[axis], c.shape[0], name)
    return axis


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _rational(s: _Static, x: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    return _forward(s, x, a, b)


def _rational_fwd(s: _Static, x: jax.Array, a: jax.Array, b: jax.Array):
    return _forward(s, x, a, b), (x, a, b)


def _rational_bwd(s: _Static, residuals, g: jax.Array):
    x, a, b = residuals
    if s.implementation in ("cpu", "auto"):
        ct, st = compute_dtype(x.dtype), _storage_dtype(x.dtype)
        kernel = partial(_cpu_backward, s)
        args = x.astype(st), a.astype(ct), b.astype(ct), g.astype(st)
        if s.implementation == "cpu":
            dx, da, db = kernel(*args)
        else:
            dx, da, db = lax.platform_dependent(
                *args, cpu=kernel, default=lambda x, a, b, g: _xla_backward(s, x, a, b, g))
    elif s.implementation == "pallas":
        from .kernels import pallas

        dx, da, db = pallas.backward(s.variant, x, a, b, g, s.axis)
    else:
        dx, da, db = _xla_backward(s, x, a, b, g)
    return dx.astype(x.dtype), da.astype(a.dtype), db.astype(b.dtype)


_rational.defvjp(_rational_fwd, _rational_bwd)


def _storage_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """The dtype x is handed to the CPU kernels in: its own when they read it (float16 and
    bfloat16 are converted inside them), else the compute dtype."""
    kernel_dtypes = (jnp.float64, jnp.float32, jnp.float16, jnp.bfloat16)
    return dtype if any(dtype == d for d in kernel_dtypes) else compute_dtype(dtype)


def _cpu_forward(s: _Static, x: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    return _varying_like(x, cpu_kernels.forward(s.variant, x, a, b, s.axis))


def _cpu_backward(s: _Static, x: jax.Array, a: jax.Array, b: jax.Array, g: jax.Array):
    return _varying_like(x, *cpu_kernels.backward(s.variant, x, a, b, g, s.axis))


def _varying_like(x: jax.Array, *outputs: jax.Array):
    """Inside ``shard_map``: custom-call results carry no varying mesh axes; give them x's."""
    axes = _varying(x)
    cast = [t if _varying(t) == axes else lax.pcast(t, tuple(sorted(axes - _varying(t))),
                                                    to="varying") for t in outputs]
    return cast[0] if len(cast) == 1 else tuple(cast)


def _forward(s: _Static, x: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    if s.implementation == "pallas":
        from .kernels import pallas

        return pallas.forward(s.variant, x, a, b, s.axis)
    if s.implementation == "xla":
        return _xla_forward(s, x, a, b)
    ct = compute_dtype(x.dtype)
    args = x.astype(_storage_dtype(x.dtype)), a.astype(ct), b.astype(ct)
    if s.implementation == "cpu":
        y = _cpu_forward(s, *args)
    else:  # auto: the kernels on the CPU, XLA elsewhere
        y = lax.platform_dependent(*args, cpu=partial(_cpu_forward, s),
                                   default=partial(_xla_forward, s))
    return y.astype(x.dtype)


def _xla_forward(s: _Static, x: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    ct = compute_dtype(x.dtype)
    xc, a, b = x.astype(ct), a.astype(ct), b.astype(ct)
    ae, be = _expand(a, xc, s.axis), _expand(b, xc, s.axis)
    y = _with_form(s.variant, xc, a, b,
                   lambda form: direct.evaluators(jnp, s.variant, form)[0](xc, ae, be))
    return y.astype(x.dtype)


def _with_form(v: Variant, x: jax.Array, a: jax.Array, b: jax.Array, fn):
    """``fn(form)``, the form picked at run time by ``lax.cond``: ``"direct"`` (plain Horner,
    :mod:`rationals.core.direct`) when max |x| is within its overflow-free limit; else the general
    form with the degrees (n, m) static when every leading coefficient is non-zero (exponents and
    signs are then compile-time constants), or with run-time degrees (``None``)."""
    if v.version == "era" or x.size == 0:
        return fn(None)
    limit = direct.direct_limit(v, jnp.sum(jnp.abs(a)) + jnp.sum(jnp.abs(b)), a.dtype)
    moderate = jnp.max(jnp.abs(x)) <= limit  # False for NaN

    def general():
        full = rmath.has_full_degrees(jnp, v, a, b)
        return lax.cond(full, lambda: fn((v.n, v.m)), lambda: fn(None))

    return lax.cond(moderate, lambda: fn("direct"), general)


def _expand(c: jax.Array, x: jax.Array, axis: int | None) -> jax.Array:
    """Coefficients broadcastable against x: ``(K,)`` as is, ``(G, K)`` as ``(C, 1, …, 1, K)``."""
    if c.ndim == 1:
        return c
    channels = x.shape[axis]
    per_channel = jnp.repeat(c, channels // c.shape[0], axis=0)
    return per_channel.reshape(coefficient_shape(x.ndim, axis, channels, c.shape[1]))


def _xla_backward(s: _Static, x: jax.Array, a: jax.Array, b: jax.Array, g: jax.Array):
    ct = compute_dtype(x.dtype)
    a, b = a.astype(ct), b.astype(ct)

    def backward(form: direct.Form):
        v = s.variant, form
        if s.axis in (None, x.ndim - 1) and x.size >= 2 * CPU_CHUNK and not _sharded_type(x):
            return lax.platform_dependent(
                x, a, b, g, cpu=partial(_chunked_backward, v, s.axis),
                default=partial(_plain_backward, v, s.axis),
            )
        return _plain_backward(v, s.axis, x, a, b, g)

    return _with_form(s.variant, x.astype(ct), a, b, backward)


def _sharded_type(x: jax.Array) -> bool:
    """Whether x's type carries a sharding (explicit mesh axes): no scan over its axes then."""
    spec = getattr(getattr(jax.typeof(x), "sharding", None), "spec", ())
    return any(p is not None for p in spec)


def _plain_backward(v: tuple[Variant, direct.Form], axis: int | None, x, a, b, g):
    """(g·dR/dx, Σ g·dR/da, Σ g·dR/db) in one pass over x (XLA fuses it on GPU).

    ``v`` is the variant and the form (:func:`_with_form`). x and g are cast to the
    coefficients' (compute) dtype here, dL/dx back to x's dtype.
    """
    xc, gc = x.astype(a.dtype), g.astype(a.dtype)
    ae, be = _expand(a, xc, axis), _expand(b, xc, axis)
    dx, d_num, d_den = direct.evaluators(jnp, *v)[1](xc, ae, be)
    return (gc * dx).astype(x.dtype), _reduce(d_num, gc, a, axis), _reduce(d_den, gc, b, axis)


def _reduce(ds: list, g: jax.Array, c: jax.Array, axis: int | None) -> jax.Array:
    """Σ g·d for every per-element derivative d, summed into the coefficients' layout."""
    if not ds:
        return jnp.zeros(c.shape, g.dtype)
    if c.ndim == 1:
        return jnp.stack([jnp.sum(g * d) for d in ds])
    axes = reduce_axes(g.ndim, axis)
    per_channel = jnp.stack([jnp.sum(g * d, axis=axes) for d in ds], axis=-1)  # (C, K)
    return per_channel.reshape(c.shape[0], -1, c.shape[1]).sum(axis=1)


def _chunked_backward(v: tuple[Variant, direct.Form], axis: int | None, x, a, b, g):
    """:func:`_plain_backward` over chunks of ``CPU_CHUNK`` elements (shared or channels-last)."""
    if axis is None:
        view, unit, view_axis = (-1,), CPU_CHUNK, None
    else:
        channels = x.shape[-1]
        view, unit, view_axis = (-1, channels), max(1, CPU_CHUNK // channels), 1
    xv, gv = x.reshape(view), g.reshape(view)
    rows = xv.shape[0]
    main = rows - rows % unit

    def chunk(sums, xg):
        dx, da, db = _plain_backward(v, view_axis, xg[0], a, b, xg[1])
        return (sums[0] + da, sums[1] + db), dx

    blocks = (-1, unit, *xv.shape[1:])
    (da, db), dx = lax.scan(
        chunk, (jnp.zeros_like(a), jnp.zeros_like(b)),
        (xv[:main].reshape(blocks), gv[:main].reshape(blocks)),
    )
    dx = dx.reshape(main, *xv.shape[1:])
    if main < rows:
        tail_dx, tail_da, tail_db = _plain_backward(v, view_axis, xv[main:], a, b, gv[main:])
        dx, da, db = jnp.concatenate([dx, tail_dx]), da + tail_da, db + tail_db
    return dx.reshape(x.shape), da, db
