"""Triton forward and fused backward of R(x) = P(x)/Q(x): every version, degree and layout.

Layout
------
``x`` is made contiguous once and viewed as ``[outer, F, L]``: ``outer`` is the product of the dims
before ``channel_axis``, F = lcm(G_num, G_den) "fine groups" of C/F contiguous channels (each lies
in exactly one numerator group, f // (F/G_num), and one denominator group, f // (F/G_den)), and
L = (C/F)·inner. The shared layout is F = 1, L = numel. A program owns a tile ``[BO, BF, BL]`` of
that view, so it reads coefficients per fine group (never per element), and its coefficient
gradients reduce over the tile's ``o`` and ``l`` axes to one value per fine group.

Overflow-free scheme (same function as :mod:`rationals.core.math`)
-------------------------------------------------------------------
Let T be the denominator polynomial (Q = κ + α(T(y))) and s = m' its effective degree (index of its
highest non-zero coefficient), per fine group. For |x| ≤ 1 everything is direct Horner in x. For
|x| > 1, with z = 1/x, both P and Q are scaled by x^s, the power that keeps Q̂ bounded away from 0:

    H  = P(x)/x^s  = Σ_k a_{s+k} x^k + z Σ_k a_{s−1−k} z^k   (a Laurent split: no term overflows
                                                              unless R does),
    Q̂  = Q/|x|^s = T̂(w) (A, w = |z|),  κ|z|^s + |T̂(z)| (B, C),  T̂(z) = Q/x^s (N, boulle),
    R  = sgn^s H / Q̂ (A, B, C)  or  H / Q̂ (N, boulle),

with T̂(w) = Σ_k d_{s−k} w^k. The shifted and rolled coefficient tables are built per fine group by
a small Triton kernel on x's device (no host synchronisation, so CUDA graphs can capture a call),
and the main kernels evaluate them with static-length Horner loops. Gradients need
x^i/Q = sgn^i |x|^{i−s}/Q̂: the power is picked by ``where`` on s (per fine group) from static powers
of |x| and |z| built once per element; a tile whose groups all have s = m (the usual case) takes a
branch where the powers are static. sign(0) = +1 everywhere.

Backward and determinism
------------------------
dL/dx is elementwise. Coefficient gradients are reduced per tile into a partial-sum buffer
``[tiles, F, K]`` (no atomics), summed over tiles by ``torch.sum``, then folded from fine groups
into numerator/denominator groups by a small kernel (fixed order; sign(b_j) for A's |b_j|).
A forward is 2 launches (table, kernel), a backward 4 (table, kernel, sum, fold). By default
(``deterministic=True``) the backward runs one fixed launch configuration, so the summation order
is the same on every run and in every process; with ``deterministic=False`` the autotuner may pick
the tile size and warps (still atomic-free). The forward is autotuned (it has no reductions).

Dtypes: float32/float16/bfloat16 are computed in float32 (Triton's float32 division is
``div.full``, ≤ 2 ulp), float64 in float64; outputs keep x's dtype, coefficient gradients the
coefficients' dtype. Where the true R(x) overflows the dtype, R is ±inf and the gradients are
non-finite (±inf, or NaN from inf − inf). Version ``D`` evaluates as ``B``: the caller
applies its noise to the denominator. With ``TRITON_INTERPRET=1`` set before the first kernel call
(the device code in :mod:`.triton_kernels` is imported then) they also run on CPU tensors.
"""

from __future__ import annotations

import importlib.util
import math
import os
from types import ModuleType

import numpy as np
import torch

from rationals.core import math as rmath
from rationals.core.layout import check_groups, normalize_axis
from rationals.core.variants import ERA_EPSILON, Variant, variant_from_sizes

__all__ = ["backward", "forward", "is_available"]


def is_available() -> bool:
    """Whether the kernels can run: Triton installed, and a CUDA device or TRITON_INTERPRET=1."""
    if importlib.util.find_spec("triton") is None:
        return False
    return torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def _kernels(x: torch.Tensor) -> ModuleType:
    """The device code (imported on first use), or a RuntimeError if it cannot run on ``x``."""
    from . import triton_kernels

    if not (x.is_cuda or triton_kernels.INTERPRET):
        raise RuntimeError(
            "the Triton kernels need a CUDA tensor, or TRITON_INTERPRET=1 before their first use"
        )
    return triton_kernels


def _next_power_of_2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _denominator_form(v: Variant) -> dict:
    """How the kernels build T and Q for ``v``, read off the core's own definition."""
    if v.version == "era":
        return dict(ABS_Y=False, ABS_T=False, KAPPA=0.0, D0=0.0)
    den = rmath._denominator(np, v, np.full(v.denominator_size, -2.0))  # the fixed d_0: not ±2
    return dict(ABS_Y=den.abs_y, ABS_T=den.abs_t, KAPPA=den.kappa,
                D0=float(den.d[0]) if v.denominator_offset else 0.0)


class _Plan:
    """One call's validated layout ([outer, F, L] view), coefficient table and constexprs."""

    def __init__(self, kernels: ModuleType, x: torch.Tensor, numerator: torch.Tensor,
                 denominator: torch.Tensor, version: str, channel_axis: int):
        for name, c in (("numerator", numerator), ("denominator", denominator)):
            if c.dim() not in (1, 2):
                raise ValueError(
                    f"{name} must be 1-D (shared) or 2-D (groups, coefficients), got shape "
                    f"{tuple(c.shape)}"
                )
        self.kernels = kernels
        self.v = v = variant_from_sizes(version, numerator.shape[-1], denominator.shape[-1])
        self.ga = numerator.shape[0] if numerator.dim() == 2 else 1
        self.gb = denominator.shape[0] if denominator.dim() == 2 else 1
        self.fine = math.lcm(self.ga, self.gb)
        self.outer, self.length = 1, x.numel()
        if numerator.dim() == 2 or denominator.dim() == 2:
            if x.dim() == 0:
                raise ValueError("grouped coefficients need an input with a channel axis")
            axis = normalize_axis(channel_axis, x.dim())
            check_groups(x.shape[axis], self.ga, "numerator")
            check_groups(x.shape[axis], self.gb, "denominator")
            if self.fine > 1:
                self.outer = math.prod(x.shape[:axis])
                self.length = x.numel() // (self.outer * self.fine) if x.numel() else 0
        self.ka, self.kb = v.numerator_size, v.denominator_size
        self.numerator = numerator.detach().to(x.device).contiguous()
        self.denominator = denominator.detach().to(x.device).contiguous()
        form = _denominator_form(v)
        era = v.version == "era"
        kmax = max(self.ka, self.kb, v.m + 1)
        self.table = torch.empty((2 if era else 12, self.fine, kmax),
                                 dtype=_compute_dtype(x.dtype), device=x.device)
        block_f = min(_next_power_of_2(self.fine), 128)
        kernels.table[(-(-self.fine // block_f),)](
            self.numerator, self.denominator, self.table, self.fine, self.fine // self.ga,
            self.fine // self.gb, M=v.m, KA=self.ka, KB=self.kb, ERA=era,
            D_FIRST=0 if era else v.denominator_offset, D0=form["D0"], ABS_Y=form["ABS_Y"],
            KMAX=kmax, KP=_next_power_of_2(kmax), BLOCK_F=block_f,
        )
        self.args = dict(
            outer=self.outer, F=self.fine, L=self.length, N=v.n, M=v.m, ABS_Y=form["ABS_Y"],
            ABS_T=form["ABS_T"], KAPPA=form["KAPPA"], ERA=era, EPS=ERA_EPSILON, KMAX=kmax,
        )

    def counts(self, block: int) -> tuple[int, int]:
        """(programs, partial-sum rows) of a launch with tile size ``block``."""
        return self.kernels.tile_counts(self.outer, self.fine, self.length, block)


def forward(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor,
            version: str = "A", channel_axis: int = 1) -> torch.Tensor:
    """R(x) = P(x)/Q(x) elementwise, in x's dtype.

    Coefficients are ascending, ``(K,)`` shared or ``(G, K)`` grouped over ``channel_axis``
    (channel c uses group c // (C // G)); numerator and denominator have their own G. They must
    be finite (the torch op checks) and on x's device.
    """
    kernels = _kernels(x)
    plan = _Plan(kernels, x, numerator, denominator, version, channel_axis)
    xc = x.contiguous()
    y = torch.empty_like(xc)
    if x.numel():
        kernels.forward[lambda meta: (plan.counts(meta["BLOCK"])[0],)](
            xc, y, plan.table, **plan.args)
    return y


def backward(grad: torch.Tensor, x: torch.Tensor, numerator: torch.Tensor,
             denominator: torch.Tensor, version: str = "A", channel_axis: int = 1, *,
             deterministic: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dL/dx, dL/dnumerator, dL/ddenominator) given the upstream gradient dL/dR = ``grad``.

    dL/dx has x's dtype; the coefficient gradients Σ grad·∂R/∂c have the coefficients' shapes and
    dtypes. ``deterministic`` pins the launch configuration, so the summation order never changes.
    """
    kernels = _kernels(x)
    plan = _Plan(kernels, x, numerator, denominator, version, channel_axis)
    if not x.numel():
        return torch.empty_like(x), torch.zeros_like(numerator), torch.zeros_like(denominator)
    v = plan.v
    xc = x.contiguous()
    g = torch.broadcast_to(grad, x.shape).contiguous()
    dx = torch.empty_like(xc)
    if deterministic:  # every row is written
        kernel = kernels.backward_fixed
        rows = plan.counts(kernels.BACKWARD_FIXED.kwargs["BLOCK"])[1]
        part = torch.empty((rows, plan.fine, plan.ka + plan.kb), dtype=plan.table.dtype,
                           device=x.device)
    else:  # rows for the smallest tile a config may pick: the rows a larger one leaves stay 0
        kernel = kernels.backward_tuned
        rows = max(plan.counts(c.kwargs["BLOCK"])[1] for c in kernels.BACKWARD_CONFIGS)
        part = torch.zeros((rows, plan.fine, plan.ka + plan.kb), dtype=plan.table.dtype,
                           device=x.device)
    kernel[lambda meta: (plan.counts(meta["BLOCK"])[0],)](
        xc, g, dx, plan.table, part, **plan.args, D_FIRST=v.denominator_offset, KA=plan.ka,
        KG=plan.ka + plan.kb, PMAX=max(v.n, v.m),
    )
    sums = part.sum(0)  # (F, KA + KB): torch's fixed-order reduction over the tiles
    da = torch.empty(numerator.shape, dtype=numerator.dtype, device=x.device)
    db = torch.empty(denominator.shape, dtype=denominator.dtype, device=x.device)
    kernels.fold[(plan.ga + plan.gb,)](
        sums, plan.denominator, da, db, plan.ga, plan.fine // plan.ga, plan.fine // plan.gb,
        KA=plan.ka, KB=plan.kb, SIGN_B=v.evaluated_as == "A",
        KP=_next_power_of_2(max(plan.ka, plan.kb)),
    )
    return dx, da, db
