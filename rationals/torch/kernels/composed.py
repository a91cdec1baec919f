"""Kernels composed of torch ops: :mod:`rationals.core.math` over ``torch``, fused by inductor.

For one variant and layout, ``forward(x, a, b)`` is R(x) and ``backward(g, x, a, b)`` is
(g·∂R/∂x, Σ g·∂R/∂a_i, Σ g·∂R/∂b_j): the coefficient gradients are reductions of the core's
per-element derivatives, summed over every axis but the channels (``(C, K)``; ``(K,)`` when shared).

Two ways to run them:

* compiled (CPU): ``torch.compile(dynamic=True)`` turns each function into one inductor C++ loop
  that reads x (and g) once, writes the result once and keeps every intermediate — powers of x,
  the per-coefficient derivatives — in registers. One compiled pair exists per (variant, layout,
  effective degrees, dtype), each with its own code object so that dynamo's recompile limit
  counts it alone, and dynamic shapes mean a new batch size does not recompile. The effective
  degrees (indices of the highest non-zero coefficients, the same in nearly every call) are read
  from the coefficients and made static, which makes the compiled code about 4× faster than
  selecting powers of x at run time.
* eager (every device; the fallback): the same functions run op by op on chunks of
  :data:`CHUNK` elements, so temporaries stay chunk-sized and no (N × K) tensor ever exists.

:func:`use_compiled_kernels` chooses. By default a CPU kernel is compiled as soon as it gets an
input of at least 2^16 elements or has been called 50 times (a training loop), so that the
one-time compilation (seconds; inductor caches it on disk) is paid only where it pays off; one-off
calls on small inputs stay eager.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from rationals.core import direct
from rationals.core import math as rmath
from rationals.core.variants import Variant

__all__ = ["CHUNK", "backward", "forward", "use_compiled_kernels"]

#: Elements per chunk of the eager path: small enough that every intermediate of a chunk stays in
#: cache (2^14: 8× faster at 2^22 elements than 2^18 on the machine the benchmark ran on).
CHUNK = 1 << 14

Mode = Literal["auto", "always", "never"]


@dataclass
class _Settings:
    mode: Mode = "auto"
    min_numel: int = 1 << 16
    after_calls: int = 50
    compiler_failed: bool = False


_settings = _Settings()


def use_compiled_kernels(
    mode: Mode = "auto", *, min_numel: int = 1 << 16, after_calls: int = 50
) -> None:
    """Choose how CPU inputs are computed.

    ``"auto"``: a kernel (one per variant, layout and dtype, forward and backward apart) runs
    inductor-compiled once it gets an input of at least ``min_numel`` elements or has run
    ``after_calls`` times, and runs as composed eager ops before that; ``"always"``: compiled
    for every CPU input; ``"never"``: composed eager ops only (no compiler needed). Other devices
    never use these compiled kernels.
    """
    if mode not in ("auto", "always", "never"):
        raise ValueError(f"mode must be 'auto', 'always' or 'never', got {mode!r}")
    _settings.mode = mode
    _settings.min_numel = int(min_numel)
    _settings.after_calls = int(after_calls)


def _reduce(g: torch.Tensor, ds: list[torch.Tensor], grouped: bool) -> torch.Tensor:
    """Stack of Σ g·d over all axes (shared) or all but the channel axis 1 (grouped)."""
    if not ds:
        return g.new_zeros((g.shape[1], 0) if grouped else (0,))
    if grouped:
        return torch.stack([(g * d).sum((0, 2)) for d in ds], dim=-1)
    return torch.stack([(g * d).sum() for d in ds])


def _functions(v: Variant, grouped: bool, form: direct.Form) -> tuple[Callable, Callable]:
    """The forward and backward of one variant, layout and form (:data:`direct.Form`)."""
    evaluate, differentiate = direct.evaluators(torch, v, form)

    def forward(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return evaluate(x.to(a.dtype), a, b).to(x.dtype)

    def backward(g: torch.Tensor, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
        xc, gc = x.to(a.dtype), g.to(a.dtype)
        dx, d_num, d_den = differentiate(xc, a, b)
        return (gc * dx).to(x.dtype), _reduce(gc, d_num, grouped), _reduce(gc, d_den, grouped)

    return forward, backward


def _compile(fn: Callable, name: str) -> Callable:
    """``torch.compile`` of a copy of ``fn`` with its own code object (its own dynamo cache)."""
    code = fn.__code__.replace(co_name=name)
    fresh = types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    return torch.compile(fresh, dynamic=True, fullgraph=True)


@dataclass
class _Kernel:
    """The eager functions of one key, and their compiled versions once first needed."""

    name: str
    forward: Callable
    backward: Callable
    compiled: tuple[Callable, Callable] | None = None
    calls: list[int] = field(default_factory=lambda: [0, 0])  # forward, backward

    def compile(self) -> tuple[Callable, Callable]:
        if self.compiled is None:  # torch.compile imports dynamo: only when first used
            self.compiled = (
                _compile(self.forward, f"rational_forward_{self.name}"),
                _compile(self.backward, f"rational_backward_{self.name}"),
            )
        return self.compiled


_kernels: dict[tuple, _Kernel] = {}


def _kernel(v: Variant, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> _Kernel:
    """The kernel for these inputs: specialised to the coefficients' effective degrees (the
    highest non-zero coefficients, read on CPU) when all groups share them."""
    grouped = x.ndim == 3
    form: direct.Form = None
    if a.device.type == "cpu":
        an, bn = a.numpy(), b.numpy()
        form = "direct" if _direct_applies(v, x, an, bn) else rmath.effective_degrees(v, an, bn)
    key = (v, grouped, form, x.dtype, a.dtype)
    if key not in _kernels:
        label = "any" if form is None else form if form == "direct" else "eff_{}_{}".format(*form)
        name = (f"{v.version}_{v.n}_{v.m}_{label}_{'grouped' if grouped else 'shared'}_"
                f"{x.dtype}_{a.dtype}")
        _kernels[key] = _Kernel(name.replace("torch.", ""), *_functions(v, grouped, form))
    return _kernels[key]


def _direct_applies(v: Variant, x: torch.Tensor, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether max |x| is within :func:`rationals.core.direct.direct_limit` (one pass over x;
    NaN or inf inputs take the general form)."""
    if v.version == "era" or x.numel() == 0:
        return False
    limit = direct.direct_limit(v, float(np.abs(a).sum() + np.abs(b).sum()), a.dtype)
    lo, hi = torch.aminmax(x)  # one fast pass (vector_norm(inf) is several times slower)
    return bool(-lo <= limit) and bool(hi <= limit)


def _compiled_wanted(x: torch.Tensor, kernel: _Kernel, which: int) -> bool:
    """Whether this call (``which``: 0 forward, 1 backward) runs compiled; counts the call."""
    if x.device.type != "cpu" or _settings.compiler_failed or _settings.mode == "never":
        return False
    kernel.calls[which] += 1
    if _settings.mode == "always" or x.numel() >= _settings.min_numel:
        return True
    return kernel.calls[which] > _settings.after_calls


def _run_compiled(fn: Callable, *args: torch.Tensor):
    """``fn(*args)``, or None (with a one-time warning) if compiling is unavailable here."""
    try:
        with torch.no_grad():
            return fn(*args)
    except Exception as err:  # no C++ compiler, unsupported platform, ...: any failure to compile
        _settings.compiler_failed = True
        warnings.warn(
            f"rationals: compiling the CPU kernels failed ({type(err).__name__}: {err}); "
            "falling back to the composed eager path, which is several times slower. "
            "rationals.torch.use_compiled_kernels('never') silences this.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def _chunks(t: torch.Tensor) -> Iterator[torch.Tensor]:
    """Views of ``t`` (``(N,)`` or ``(B, C, S)``) of about :data:`CHUNK` elements each."""
    if t.ndim == 1:
        yield from t.split(CHUNK)
        return
    row = t.shape[1] * t.shape[2]
    for rows in t.split(max(1, CHUNK // max(row, 1)), dim=0):
        if row <= CHUNK:
            yield rows
        else:
            yield from rows.split(max(1, CHUNK // t.shape[1]), dim=2)


def forward(v: Variant, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R(x) on a kernel view ``x`` (``(N,)`` or ``(B, C, S)``), coefficients in compute dtype."""
    kernel = _kernel(v, x, a, b)
    if _compiled_wanted(x, kernel, 0):
        y = _run_compiled(kernel.compile()[0], x, a, b)
        if y is not None:
            return y
    y = torch.empty_like(x)
    with torch.no_grad():
        for xs, ys in zip(_chunks(x), _chunks(y), strict=True):
            ys.copy_(kernel.forward(xs, a, b))
    return y


def backward(
    v: Variant, g: torch.Tensor, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dL/dx, per-channel dL/da, per-channel dL/db) on kernel views; see :func:`forward`."""
    kernel = _kernel(v, x, a, b)
    if _compiled_wanted(x, kernel, 1):
        out = _run_compiled(kernel.compile()[1], g, x, a, b)
        if out is not None:
            return out
    dx = torch.empty_like(x)
    da = db = None
    with torch.no_grad():
        for gs, xs, dxs in zip(_chunks(g), _chunks(x), _chunks(dx), strict=True):
            d, ga, gb = kernel.backward(gs, xs, a, b)
            dxs.copy_(d)
            da, db = (ga, gb) if da is None else (da + ga, db + gb)
    return dx, da, db
