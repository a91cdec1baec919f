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

with T̂(w) = Σ_k d_{s−k} w^k. The shifted and rolled coefficient tables are built per fine group on
the coefficients' device by plain torch ops (no host synchronisation, so CUDA graphs can capture
it), and the kernels evaluate them with static-length Horner loops. Gradients need
x^i/Q = sgn^i |x|^{i−s}/Q̂: the power is picked by ``where`` over s ∈ {0..m} from a few static
powers of |x| and |z| (the compiler shares them). sign(0) = +1 everywhere.

Backward and determinism
------------------------
dL/dx is elementwise. Coefficient gradients are reduced per tile into a partial-sum buffer
``[tiles, F, K]`` (no atomics), then summed by ``torch.sum`` and folded from fine groups to
numerator/denominator groups. By default (``deterministic=True``) the backward runs one fixed
launch configuration, so the summation order is the same on every run and in every process; with
``deterministic=False`` the autotuner may pick the tile size and warps (still atomic-free).

Dtypes: float32/float16/bfloat16 are computed in float32, float64 in float64; outputs keep x's
dtype, coefficient gradients the coefficients' dtype. Version ``D`` evaluates as ``B``: the caller
applies its noise to the denominator. Under ``TRITON_INTERPRET=1`` (set before importing this
module) the kernels also run on CPU tensors.
"""

from __future__ import annotations

import math
import os

import torch
import triton
import triton.language as tl

from rationals.core import math as rmath
from rationals.core.layout import check_groups, normalize_axis
from rationals.core.variants import ERA_EPSILON, Variant, variant_from_sizes

__all__ = ["backward", "forward", "is_available"]

# Rows of the per-fine-group coefficient table [ROWS, F, KMAX], in this order (ERA uses rows 0 and
# 1 for its numerator and denominator as given): a_k, a_{s+k}, a_{s−1−k}, the same three for
# P' (a'_k = (k+1) a_{k+1}), d_k, r_k = d_{s−k}, d'_k, (s−k) r_k, s, s mod 2.
_A, _UX, _UZ = tl.constexpr(0), tl.constexpr(1), tl.constexpr(2)
_AD, _UXD, _UZD = tl.constexpr(3), tl.constexpr(4), tl.constexpr(5)
_D, _R, _DD, _DR = tl.constexpr(6), tl.constexpr(7), tl.constexpr(8), tl.constexpr(9)
_S, _SODD = tl.constexpr(10), tl.constexpr(11)
#: Minimum number of elements of one fine group a tile reduces (keeps the partial buffer small).
_MIN_REDUCE = 256


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def is_available() -> bool:
    """Whether the kernels can run: a CUDA device, or Triton's CPU interpreter (TRITON_INTERPRET=1)."""
    return _interpreting() or torch.cuda.is_available()


# --------------------------------------------------------------------------------------- device


@triton.jit
def _tile(pid, outer, F, L, BO: tl.constexpr, BF: tl.constexpr, BL: tl.constexpr):
    """Offsets and mask of tile ``pid`` of the [outer, F, L] view, its fine groups and its row."""
    n_l = tl.cdiv(L, BL)
    n_f = tl.cdiv(F, BF)
    pl = pid % n_l
    pf = (pid // n_l) % n_f
    po = pid // (n_l * n_f)
    o = po * BO + tl.arange(0, BO)[:, None, None]
    f1 = pf * BF + tl.arange(0, BF)
    f = f1[None, :, None]
    ll = pl * BL + tl.arange(0, BL)[None, None, :]
    mask = (o < outer) & (f < F) & (ll < L)
    offs = (o.to(tl.int64) * F + f) * L + ll
    return offs, mask, f, f1, po * n_l + pl


@triton.jit
def _coef(tab, ROW: tl.constexpr, k: tl.constexpr, f, F, KMAX: tl.constexpr):
    """Table entry [ROW, f, k] for the fine groups ``f`` of the tile."""
    return tl.load(tab + (ROW * F + f) * KMAX + k, mask=f < F, other=0.0)


@triton.jit
def _horner(tab, SMALL: tl.constexpr, BIG: tl.constexpr, K: tl.constexpr, v, big, f, F,
            KMAX: tl.constexpr):
    """Σ_{k<K} c_k v^k, c = row BIG where ``big`` else row SMALL (one row when SMALL == BIG)."""
    if SMALL == BIG:
        acc = _coef(tab, BIG, K - 1, f, F, KMAX) + tl.zeros_like(v)
    else:
        acc = tl.where(big, _coef(tab, BIG, K - 1, f, F, KMAX), _coef(tab, SMALL, K - 1, f, F, KMAX))
    for i in tl.static_range(1, K):
        if SMALL == BIG:
            c = _coef(tab, BIG, K - 1 - i, f, F, KMAX)
        else:
            c = tl.where(big, _coef(tab, BIG, K - 1 - i, f, F, KMAX),
                         _coef(tab, SMALL, K - 1 - i, f, F, KMAX))
        acc = acc * v + c
    return acc


@triton.jit
def _ipow(v, E: tl.constexpr):
    """v^E for a static E ≥ 0."""
    out = tl.full(v.shape, 1.0, v.dtype)
    for _ in tl.static_range(E):
        out = out * v
    return out


@triton.jit
def _mag(ax, az, shift, C: tl.constexpr, M: tl.constexpr):
    """|x|^(C − shift) for a static C and shift ∈ {0..M}, from powers of |x| or |z| = 1/|x|."""
    out = _ipow(ax, C)
    for sh in tl.static_range(1, M + 1):
        if C >= sh:
            p = _ipow(ax, C - sh)
        else:
            p = _ipow(az, sh - C)
        out = tl.where(shift == sh, p, out)
    return out


@triton.jit
def _pieces(x, tab, f, F, KMAX: tl.constexpr, N: tl.constexpr, M: tl.constexpr,
            ABS_Y: tl.constexpr, ABS_T: tl.constexpr, KAPPA: tl.constexpr):
    """R(x) and the per-element quantities the backward reuses."""
    ax = tl.abs(x)
    big = ax > 1.0
    sgn = tl.where(x >= 0, 1.0, -1.0)
    z = tl.where(big, 1.0 / tl.where(big, x, 1.0), x)
    az = tl.abs(z)
    shift = tl.where(big, _coef(tab, _S, 0, f, F, KMAX), 0.0)
    odd = _coef(tab, _SODD, 0, f, F, KMAX) != 0
    sig = tl.where(big & odd & (x < 0), -1.0, 1.0)  # sgn^shift
    h = _horner(tab, _A, _UX, N + 1, x, big, f, F, KMAX)
    if M > 0:
        h += tl.where(big, z * _horner(tab, _UZ, _UZ, M, z, big, f, F, KMAX), 0.0)
    if ABS_Y:
        v = az
    else:
        v = z
    th = _horner(tab, _D, _R, M + 1, v, big, f, F, KMAX)
    if ABS_T:
        qh = KAPPA * _mag(ax, az, shift, 0, M) + tl.abs(th)
    else:
        qh = th + KAPPA
    iq = 1.0 / qh
    if ABS_Y or ABS_T:
        r = h * iq * sig
    else:
        r = h * iq
    return r, ax, az, big, sgn, z, v, shift, sig, th, iq


@triton.jit
def _era_forward(x, tab, f, F, KMAX: tl.constexpr, M: tl.constexpr, EPS: tl.constexpr):
    """σ(x) = a x + b + Σ_i (c_i x + d_i)/((x − e_i)² + f_i² + ε)."""
    out = _coef(tab, 0, 0, f, F, KMAX) * x + _coef(tab, 0, 1, f, F, KMAX)
    for i in tl.static_range(M // 2):
        c = _coef(tab, 0, 2 + 2 * i, f, F, KMAX)
        d = _coef(tab, 0, 3 + 2 * i, f, F, KMAX)
        u = x - _coef(tab, 1, 2 * i, f, F, KMAX)
        fi = _coef(tab, 1, 2 * i + 1, f, F, KMAX)
        q = u * u + fi * fi + EPS
        out = out + c * (x / q) + d / q
    return out


@triton.jit
def _store_sum(part, row, f1, F, KG: tl.constexpr, k: tl.constexpr, val, mask):
    """Partial sum of ``val`` over the tile's o and l axes into part[row, f, k]."""
    s = tl.sum(tl.sum(tl.where(mask, val, 0.0), axis=2), axis=0)
    tl.store(part + (row * F + f1) * KG + k, s, mask=f1 < F)


@triton.jit
def _forward_kernel(x_ptr, y_ptr, tab, outer, F, L,
                    N: tl.constexpr, M: tl.constexpr, ABS_Y: tl.constexpr, ABS_T: tl.constexpr,
                    KAPPA: tl.constexpr, ERA: tl.constexpr, EPS: tl.constexpr,
                    KMAX: tl.constexpr, BLOCK: tl.constexpr,
                    BO: tl.constexpr, BF: tl.constexpr, BL: tl.constexpr):
    offs, mask, f, f1, row = _tile(tl.program_id(0), outer, F, L, BO, BF, BL)
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tab.dtype.element_ty)
    if ERA:
        r = _era_forward(x, tab, f, F, KMAX, M, EPS)
    else:
        r = _pieces(x, tab, f, F, KMAX, N, M, ABS_Y, ABS_T, KAPPA)[0]
    tl.store(y_ptr + offs, r.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _backward_kernel(x_ptr, g_ptr, dx_ptr, tab, part, outer, F, L,
                     N: tl.constexpr, M: tl.constexpr, ABS_Y: tl.constexpr, ABS_T: tl.constexpr,
                     KAPPA: tl.constexpr, ERA: tl.constexpr, EPS: tl.constexpr, D_FIRST: tl.constexpr,
                     KA: tl.constexpr, KG: tl.constexpr, KMAX: tl.constexpr, BLOCK: tl.constexpr,
                     BO: tl.constexpr, BF: tl.constexpr, BL: tl.constexpr):
    offs, mask, f, f1, row = _tile(tl.program_id(0), outer, F, L, BO, BF, BL)
    ct = tab.dtype.element_ty
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(ct)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(ct)
    if ERA:
        # d/da = x, 1, x/q_i, 1/q_i; d/d(e_i, f_i) = h 2u/q, −h 2f/q with h = (c x + d)/q.
        dx = _coef(tab, 0, 0, f, F, KMAX) + tl.zeros_like(x)
        _store_sum(part, row, f1, F, KG, 0, g * x, mask)
        _store_sum(part, row, f1, F, KG, 1, g, mask)
        for i in tl.static_range(M // 2):
            c = _coef(tab, 0, 2 + 2 * i, f, F, KMAX)
            d = _coef(tab, 0, 3 + 2 * i, f, F, KMAX)
            u = x - _coef(tab, 1, 2 * i, f, F, KMAX)
            fi = _coef(tab, 1, 2 * i + 1, f, F, KMAX)
            iq = 1.0 / (u * u + fi * fi + EPS)
            xq = x * iq
            h = c * xq + d * iq
            _store_sum(part, row, f1, F, KG, 2 + 2 * i, g * xq, mask)
            _store_sum(part, row, f1, F, KG, 3 + 2 * i, g * iq, mask)
            _store_sum(part, row, f1, F, KG, KA + 2 * i, g * (h * (2.0 * u * iq)), mask)
            _store_sum(part, row, f1, F, KG, KA + 2 * i + 1, g * (-h * (2.0 * fi * iq)), mask)
            dx = dx + c * iq - h * (2.0 * u * iq)
    else:
        r, ax, az, big, sgn, z, v, shift, sig, th, iq = _pieces(
            x, tab, f, F, KMAX, N, M, ABS_Y, ABS_T, KAPPA)
        # dR/da_i = x^i/Q = sgn^i |x|^{i−s} / Q̂ (· sgn^s for N/boulle, whose Q̂ = Q/x^s).
        if ABS_Y or ABS_T:
            iq_s = iq
        else:
            iq_s = iq * sig
        for i in tl.static_range(N + 1):
            if i % 2 == 1:
                w = iq_s * sgn
            else:
                w = iq_s
            _store_sum(part, row, f1, F, KG, i, g * (w * _mag(ax, az, shift, i, M)), mask)
        # dR/dd_j = −R α'(T) y^j / Q (A: y = |x|; the caller's chain rule adds sign(b_j)).
        if ABS_Y:
            rq = -r * iq
        elif ABS_T:
            rq = -r * iq * tl.where(th == 0, 1.0, sig * tl.where(th >= 0, 1.0, -1.0))
        else:
            rq = -r * iq * sig
        for j in tl.static_range(D_FIRST, M + 1):
            if j % 2 == 1 and not ABS_Y:
                w = rq * sgn
            else:
                w = rq
            _store_sum(part, row, f1, F, KG, KA + j - D_FIRST, g * (w * _mag(ax, az, shift, j, M)),
                       mask)
        # dR/dx = P'/Q − R Q'/Q, with P'/x^s from the shifted derivative tables.
        hd = _horner(tab, _AD, _UXD, N + 1, x, big, f, F, KMAX)
        if M > 0:
            hd += tl.where(big, z * _horner(tab, _UZD, _UZD, M, z, big, f, F, KMAX), 0.0)
        if ABS_Y or ABS_T:
            p_over_q = hd * iq * sig
        else:
            p_over_q = hd * iq
        tdh = _horner(tab, _DD, _DR, M + 1, v, big, f, F, KMAX)
        if ABS_Y:
            dq = tl.where(big, z, sgn)
        elif ABS_T:
            sign_th = tl.where(th >= 0, 1.0, -1.0)
            dq = tl.where(big, z * tl.where(th == 0, sig, sign_th), sign_th)
        else:
            dq = tl.where(big, z, 1.0)
        dx = p_over_q - r * (dq * tdh * iq)
    tl.store(dx_ptr + offs, (g * dx).to(dx_ptr.dtype.element_ty), mask=mask)


# ----------------------------------------------------------------------------------- launching


def _tile_shape(outer: int, fine: int, length: int, block: int) -> tuple[int, int, int]:
    """(BO, BF, BL): BL covers L up to ``block``; a tile reduces ≥ _MIN_REDUCE elements per group."""
    bl = min(triton.next_power_of_2(length), block)
    if bl < length:
        return 1, 1, bl
    bo = min(triton.next_power_of_2(outer), max(1, _MIN_REDUCE // bl))
    bf = min(triton.next_power_of_2(fine), max(1, block // (bo * bl)))
    bo = min(triton.next_power_of_2(outer), max(1, block // (bf * bl)))
    return bo, bf, bl


def _tile_rows(outer: int, fine: int, length: int, block: int) -> tuple[int, int]:
    """(programs, partial-sum rows) of the launch for tile size ``block``."""
    bo, bf, bl = _tile_shape(outer, fine, length, block)
    rows = triton.cdiv(outer, bo) * triton.cdiv(length, bl)
    return rows * triton.cdiv(fine, bf), rows


def _shape_of(a: dict) -> tuple[int, int, int]:
    return _tile_shape(a["outer"], a["F"], a["L"], a["BLOCK"])


_HEURISTICS = {
    "BO": lambda a: _shape_of(a)[0], "BF": lambda a: _shape_of(a)[1], "BL": lambda a: _shape_of(a)[2]
}
_KEY = ["outer", "F", "L"]

if _interpreting():  # the interpreter is slow per program: one large tile
    _FWD_CONFIGS = _BWD_CONFIGS = [triton.Config({"BLOCK": 4096})]
    _BWD_FIXED = triton.Config({"BLOCK": 4096})
else:
    _FWD_CONFIGS = [triton.Config({"BLOCK": b}, num_warps=w)
                    for b, w in ((512, 4), (1024, 4), (2048, 8), (4096, 8))]
    _BWD_CONFIGS = [triton.Config({"BLOCK": b}, num_warps=w)
                    for b, w in ((512, 4), (1024, 4), (1024, 8), (2048, 8))]
    _BWD_FIXED = triton.Config({"BLOCK": 1024}, num_warps=8)

_forward = triton.autotune(_FWD_CONFIGS, key=_KEY)(triton.heuristics(_HEURISTICS)(_forward_kernel))
_backward_tuned = triton.autotune(_BWD_CONFIGS, key=_KEY)(
    triton.heuristics(_HEURISTICS)(_backward_kernel))
_backward_fixed = triton.autotune([_BWD_FIXED], key=_KEY)(
    triton.heuristics(_HEURISTICS)(_backward_kernel))


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _gather(c: torch.Tensor, start: torch.Tensor, step: int, width: int) -> torch.Tensor:
    """out[g, k] = c[g, start_g + step·k] for k < width, 0 where that index is outside c."""
    idx = start[:, None] + step * torch.arange(width, device=c.device)
    valid = (idx >= 0) & (idx < c.shape[1])
    return torch.where(valid, c.gather(1, idx.clamp(0, c.shape[1] - 1)), 0.0)


def _pad(c: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(c, (0, width - c.shape[1]))


def _tables(v: Variant, a: torch.Tensor, b: torch.Tensor, kmax: int) -> tuple[torch.Tensor, float]:
    """The [ROWS, F, KMAX] table of coefficients per fine group (module docstring), and κ."""
    if v.version == "era":
        return torch.stack([_pad(a, kmax), _pad(b, kmax)]), 0.0
    den = rmath._denominator(torch, v, b)
    d = torch.stack([torch.broadcast_to(dj, b.shape[:1]) for dj in den.d], dim=1)  # (F, m+1)
    s = rmath._effective_degree(torch, list(d.unbind(1))).long()
    ad = a[:, 1:] * torch.arange(1, a.shape[1], device=a.device, dtype=a.dtype)
    dd = d[:, 1:] * torch.arange(1, d.shape[1], device=d.device, dtype=d.dtype)
    rolled = _gather(d, s, -1, kmax)
    k = torch.arange(kmax, device=d.device, dtype=d.dtype)
    return torch.stack([
        _pad(a, kmax), _gather(a, s, 1, kmax), _gather(a, s - 1, -1, kmax),
        _pad(ad, kmax), _gather(ad, s, 1, kmax), _gather(ad, s - 1, -1, kmax),
        _pad(d, kmax), rolled, _pad(dd, kmax), (s[:, None] - k) * rolled,
        _pad(s[:, None].to(d.dtype), kmax), _pad((s[:, None] % 2).to(d.dtype), kmax),
    ]), den.kappa


class _Launch:
    """Validated shapes, fine groups and constexprs of one call."""

    def __init__(self, x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor,
                 version: str, channel_axis: int):
        for name, c in (("numerator", numerator), ("denominator", denominator)):
            if c.dim() not in (1, 2):
                raise ValueError(
                    f"{name} must be 1-D (shared) or 2-D (groups, coefficients), got shape "
                    f"{tuple(c.shape)}"
                )
        v = variant_from_sizes(version, numerator.shape[-1], denominator.shape[-1])
        self.v = v
        self.ga = numerator.shape[0] if numerator.dim() == 2 else 1
        self.gb = denominator.shape[0] if denominator.dim() == 2 else 1
        self.fine = math.lcm(self.ga, self.gb)
        numel = x.numel()
        if numerator.dim() == 2 or denominator.dim() == 2:
            if x.dim() == 0:
                raise ValueError("grouped coefficients need an input with a channel axis")
            axis = normalize_axis(channel_axis, x.dim())
            channels = x.shape[axis]
            check_groups(channels, self.ga, "numerator")
            check_groups(channels, self.gb, "denominator")
        if self.fine == 1:
            self.outer, self.length = 1, numel
        else:
            self.outer = math.prod(x.shape[:axis])
            self.length = numel // (self.outer * self.fine) if numel else 0
        ct = _compute_dtype(x.dtype)
        a = numerator.detach().to(ct).reshape(self.ga, -1).repeat_interleave(self.fine // self.ga, 0)
        b = denominator.detach().to(ct).reshape(self.gb, -1).repeat_interleave(
            self.fine // self.gb, 0)
        self.kmax = max(a.shape[1], b.shape[1], v.m + 1)
        table, kappa = _tables(v, a, b, self.kmax)
        self.table = table.contiguous().to(x.device)
        version = v.evaluated_as
        self.meta = dict(
            N=v.n, M=v.m, ABS_Y=version == "A", ABS_T=version in ("B", "C"), KAPPA=kappa,
            ERA=version == "era", EPS=ERA_EPSILON, KMAX=self.kmax,
        )
        self.ka, self.kb = v.numerator_size, v.denominator_size

    def sizes(self) -> dict[str, int]:
        return dict(outer=self.outer, F=self.fine, L=self.length)

    def grid(self, meta: dict) -> tuple[int]:
        return (_tile_rows(self.outer, self.fine, self.length, meta["BLOCK"])[0],)


def _check_device(x: torch.Tensor) -> None:
    if not (x.is_cuda or _interpreting()):
        raise RuntimeError(
            "the Triton kernels need a CUDA tensor (or TRITON_INTERPRET=1 set before import)"
        )


def forward(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor,
            version: str = "A", channel_axis: int = 1) -> torch.Tensor:
    """R(x) = P(x)/Q(x) elementwise, in x's dtype.

    Coefficients are ascending, ``(K,)`` shared or ``(G, K)`` grouped over ``channel_axis``
    (channel c uses group c // (C // G)); numerator and denominator have their own G.
    """
    _check_device(x)
    plan = _Launch(x, numerator, denominator, version, channel_axis)
    xc = x.contiguous()
    y = torch.empty_like(xc)
    if x.numel():
        _forward[plan.grid](xc, y, plan.table, **plan.sizes(), **plan.meta)
    return y


def backward(grad: torch.Tensor, x: torch.Tensor, numerator: torch.Tensor,
             denominator: torch.Tensor, version: str = "A", channel_axis: int = 1, *,
             deterministic: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dL/dx, dL/dnumerator, dL/ddenominator) from the upstream gradient dL/dR = ``grad``.

    dL/dx has x's dtype; coefficient gradients Σ grad·∂R/∂c have the coefficients' shape and dtype.
    ``deterministic`` pins the launch configuration so the reduction order never changes.
    """
    _check_device(x)
    plan = _Launch(x, numerator, denominator, version, channel_axis)
    v = plan.v
    xc = x.contiguous()
    g = torch.broadcast_to(grad, x.shape).contiguous()
    dx = torch.empty_like(xc)
    kernel = _backward_fixed if deterministic else _backward_tuned
    # Rows for the smallest tile any config may pick; the rows a larger tile leaves stay 0.
    configs = [_BWD_FIXED] if deterministic else _BWD_CONFIGS
    rows = max(_tile_rows(plan.outer, plan.fine, plan.length, c.kwargs["BLOCK"])[1]
               for c in configs) if x.numel() else 0
    kg = plan.ka + plan.kb
    part = torch.zeros((rows, plan.fine, kg), dtype=plan.table.dtype, device=x.device)
    if x.numel():
        kernel[plan.grid](xc, g, dx, plan.table, part, **plan.sizes(), **plan.meta,
                          D_FIRST=v.denominator_offset, KA=plan.ka, KG=kg)
    sums = part.sum(0)  # (F, KA + KB)
    ga = sums[:, : plan.ka].reshape(plan.ga, -1, plan.ka).sum(1)
    gb = sums[:, plan.ka:].reshape(plan.gb, -1, plan.kb).sum(1)
    if v.evaluated_as == "A":  # d|b_j|/db_j = sign(b_j), sign(0) = +1
        gb = gb * rmath.sign_pos(torch, denominator.detach().reshape(plan.gb, -1).to(gb.dtype))
    return (
        dx,
        ga.reshape(numerator.shape).to(numerator.dtype),
        gb.reshape(denominator.shape).to(denominator.dtype),
    )
