"""Device code of the Triton rational kernels and their autotuned launchers.

Imported by :mod:`.triton_rational` on the first kernel call: ``TRITON_INTERPRET=1`` decides at
that moment whether the kernels compile for the GPU or run in Triton's CPU interpreter.

Every program owns a tile ``[BO, BF, BL]`` of the input viewed as ``[outer, F, L]`` (F fine groups,
see :mod:`.triton_rational`). Coefficients are loaded once per tile as tuples of per-fine-group
values; powers of |x| and |z| = 1/|x| are built once per element as tuples and picked by ``where``.
"""

from __future__ import annotations

import os

import triton
import triton.language as tl

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")

# Rows of the coefficient table [ROWS, F, KMAX] built by triton_rational._tables (ERA uses rows 0
# and 1 for its numerator and denominator as given).
_A, _UX, _UZ = tl.constexpr(0), tl.constexpr(1), tl.constexpr(2)
_AD, _UXD, _UZD = tl.constexpr(3), tl.constexpr(4), tl.constexpr(5)
_D, _R, _DD, _DR = tl.constexpr(6), tl.constexpr(7), tl.constexpr(8), tl.constexpr(9)
_S, _SODD = tl.constexpr(10), tl.constexpr(11)
#: Minimum number of elements of one fine group a tile reduces (keeps the partial buffer small).
MIN_REDUCE = 256
#: tl.sum's combine function, used through tl.reduce: Triton's jit-decorated helpers (tl.sum,
#: tl.zeros, tl.cdiv, …) are compiled, not interpreted, if triton was imported before
#: TRITON_INTERPRET was set, so the kernels call builtins only; the interpreter recognises this
#: combine function and reduces with numpy.
_SUM = tl.standard._sum_combine


@triton.jit
def _tile(pid, outer, F, L, BO: tl.constexpr, BF: tl.constexpr, BL: tl.constexpr):
    """Offsets and mask of tile ``pid``, its fine groups (3-D and 1-D) and its partial-sum row."""
    n_l = (L + BL - 1) // BL
    n_f = (F + BF - 1) // BF
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
def _row(tab, ROW: tl.constexpr, K: tl.constexpr, f, F, KMAX: tl.constexpr):
    """(c_0, …, c_{K−1}) of table row ROW, each shaped [1, BF, 1] (one value per fine group)."""
    base = tab + (ROW * F + f) * KMAX
    out = (tl.load(base, mask=f < F, other=1.0),)  # 1: masked groups stay finite
    for k in tl.static_range(1, K):
        out = out + (tl.load(base + k, mask=f < F, other=1.0),)  # noqa: RUF005 (Triton tuples)
    return out


@triton.jit
def _horner(small, big_c, K: tl.constexpr, v, big):
    """Σ_{k<K} c_k v^k, c = ``big_c`` where ``big`` else ``small``."""
    acc = tl.where(big, big_c[K - 1], small[K - 1])
    for i in tl.static_range(1, K):
        acc = acc * v + tl.where(big, big_c[K - 1 - i], small[K - 1 - i])
    return acc


@triton.jit
def _poly(c, K: tl.constexpr, v):
    """Σ_{k<K} c_k v^k."""
    acc = c[K - 1] + tl.full(v.shape, 0.0, v.dtype)
    for i in tl.static_range(1, K):
        acc = acc * v + c[K - 1 - i]
    return acc


@triton.jit
def _powers(v, E: tl.constexpr):
    """(1, v, v², …, v^E)."""
    p = (tl.full(v.shape, 1.0, v.dtype),)
    for e in tl.static_range(E):
        p = p + (p[e] * v,)  # noqa: RUF005 (Triton tuples)
    return p


@triton.jit
def _mag(pos, neg, s, big, C: tl.constexpr, M: tl.constexpr, FULL: tl.constexpr):
    """|x|^(C − s) where ``big`` else |x|^C, from static powers of |x| (pos) and 1/|x| (neg).

    s ∈ {0..M} is per fine group, so the picking predicates are per group; FULL: s = M.
    """
    if C >= M:
        out = pos[C - M]
    else:
        out = neg[M - C]
    if not FULL:
        for sh in tl.static_range(M):
            if C >= sh:
                p = pos[C - sh]
            else:
                p = neg[sh - C]
            out = tl.where(s == sh, p, out)
    return tl.where(big, out, pos[C])


@triton.jit
def _pieces(x, tab, f, F, KMAX: tl.constexpr, N: tl.constexpr, M: tl.constexpr,
            ABS_Y: tl.constexpr, ABS_T: tl.constexpr, KAPPA: tl.constexpr, PMAX: tl.constexpr):
    """R(x) and what the backward reuses; powers of |x| up to PMAX (|z| up to M when needed)."""
    ax = tl.abs(x)
    big = ax > 1.0
    sgn = tl.where(x >= 0, 1.0, -1.0)
    z = tl.where(big, 1.0 / tl.where(big, x, 1.0), x)
    az = tl.abs(z)
    s = _row(tab, _S, 1, f, F, KMAX)[0]
    odd = _row(tab, _SODD, 1, f, F, KMAX)[0] != 0
    sig = tl.where(big & odd & (x < 0), -1.0, 1.0)  # sgn^s where big
    pos = _powers(ax, PMAX)
    if PMAX > 0 or ABS_T:
        neg = _powers(az, M)
    else:
        neg = pos
    # H = P/x^s: Σ a_{s+k} x^k + z Σ a_{s−1−k} z^k where big, P(x) elsewhere.
    h = _horner(_row(tab, _A, N + 1, f, F, KMAX), _row(tab, _UX, N + 1, f, F, KMAX), N + 1, x, big)
    if M > 0:
        h += tl.where(big, z * _poly(_row(tab, _UZ, M, f, F, KMAX), M, z), 0.0)
    if ABS_Y:
        v = az
    else:
        v = z
    th = _horner(_row(tab, _D, M + 1, f, F, KMAX), _row(tab, _R, M + 1, f, F, KMAX), M + 1, v, big)
    if ABS_T:
        qh = KAPPA * _mag(pos, neg, s, big, 0, M, False) + tl.abs(th)
    else:
        qh = th + KAPPA
    iq = 1.0 / qh
    if ABS_Y or ABS_T:
        r = h * iq * sig
    else:
        r = h * iq
    return r, pos, neg, big, sgn, z, v, s, sig, th, iq


@triton.jit
def _era(x, a, b, M: tl.constexpr, EPS: tl.constexpr):
    """σ(x) = a x + b + Σ_i (c_i x + d_i)/((x − e_i)² + f_i² + ε)."""
    out = a[0] * x + a[1]
    for i in tl.static_range(M // 2):
        u = x - b[2 * i]
        q = u * u + b[2 * i + 1] * b[2 * i + 1] + EPS
        out = out + a[2 + 2 * i] * (x / q) + a[3 + 2 * i] / q
    return out


@triton.jit
def _store_sum(part, row, f1, F, KG: tl.constexpr, k: tl.constexpr, val):
    """Sum of ``val`` (0 on masked lanes) over the tile's o and l axes into part[row, f, k]."""
    s = tl.reduce(tl.reduce(val, 2, _SUM), 0, _SUM)
    tl.store(part + (row * F + f1) * KG + k, s, mask=f1 < F)


@triton.jit
def _forward_kernel(x_ptr, y_ptr, tab, outer, F, L,
                    N: tl.constexpr, M: tl.constexpr, ABS_Y: tl.constexpr, ABS_T: tl.constexpr,
                    KAPPA: tl.constexpr, ERA: tl.constexpr, EPS: tl.constexpr,
                    KMAX: tl.constexpr, BLOCK: tl.constexpr,
                    BO: tl.constexpr, BF: tl.constexpr, BL: tl.constexpr):
    offs, mask, f, _, _ = _tile(tl.program_id(0), outer, F, L, BO, BF, BL)
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tab.dtype.element_ty)
    if ERA:
        r = _era(x, _row(tab, 0, M + 2, f, F, KMAX), _row(tab, 1, M, f, F, KMAX), M, EPS)
    else:
        r = _pieces(x, tab, f, F, KMAX, N, M, ABS_Y, ABS_T, KAPPA, 0)[0]
    tl.store(y_ptr + offs, r.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _era_backward(x, g, a, b, part, row, f1, F, M: tl.constexpr, EPS: tl.constexpr,
                  KA: tl.constexpr, KG: tl.constexpr):
    """dR/dx; stores Σ g ∂R/∂(a, b, c_i, d_i) = x, 1, x/q_i, 1/q_i and ∂R/∂(e_i, f_i).

    Masked lanes have x = g = 0 and q > 0: their terms are 0."""
    dx = a[0] + tl.full(x.shape, 0.0, x.dtype)
    _store_sum(part, row, f1, F, KG, 0, g * x)
    _store_sum(part, row, f1, F, KG, 1, g)
    for i in tl.static_range(M // 2):
        c = a[2 + 2 * i]
        u = x - b[2 * i]
        fi = b[2 * i + 1]
        iq = 1.0 / (u * u + fi * fi + EPS)
        xq = x * iq
        h = c * xq + a[3 + 2 * i] * iq  # (c x + d)/q
        _store_sum(part, row, f1, F, KG, 2 + 2 * i, g * xq)
        _store_sum(part, row, f1, F, KG, 3 + 2 * i, g * iq)
        _store_sum(part, row, f1, F, KG, KA + 2 * i, g * (h * (2.0 * u * iq)))
        _store_sum(part, row, f1, F, KG, KA + 2 * i + 1, g * (-h * (2.0 * fi * iq)))
        dx = dx + c * iq - h * (2.0 * u * iq)
    return dx


@triton.jit
def _coefficient_grads(part, row, f1, F, mask, g, r, iq, sig, sgn, th, pos, neg, s, big,
                       N: tl.constexpr, M: tl.constexpr, ABS_Y: tl.constexpr, ABS_T: tl.constexpr,
                       D_FIRST: tl.constexpr, KA: tl.constexpr, KG: tl.constexpr,
                       FULL: tl.constexpr):
    """Stores the tile sums of g ∂R/∂a_i and g ∂R/∂d_j (d: the coefficients of T)."""
    # dR/da_i = x^i/Q = sgn^i |x|^{i−s} / Q̂ (· sgn^s for N/boulle, whose Q̂ = Q/x^s).
    # Masked lanes (x = g = 0) may have 1/Q̂ = inf: zero their weights, the powers are finite.
    if ABS_Y or ABS_T:
        gq = tl.where(mask, g * iq, 0.0)
    else:
        gq = tl.where(mask, g * iq * sig, 0.0)
    for i in tl.static_range(N + 1):
        if i % 2 == 1:
            w = gq * sgn
        else:
            w = gq
        _store_sum(part, row, f1, F, KG, i, w * _mag(pos, neg, s, big, i, M, FULL))
    # dR/dd_j = −R α'(T) y^j / Q (A: y = |x|; the launcher applies d|b_j|/db_j = sign(b_j)).
    if ABS_Y:
        gr = -g * r * iq
    elif ABS_T:
        gr = -g * r * iq * tl.where(th == 0, 1.0, sig * tl.where(th >= 0, 1.0, -1.0))
    else:
        gr = -g * r * iq * sig
    gr = tl.where(mask, gr, 0.0)
    for j in tl.static_range(D_FIRST, M + 1):
        if j % 2 == 1 and not ABS_Y:
            w = gr * sgn
        else:
            w = gr
        _store_sum(part, row, f1, F, KG, KA + j - D_FIRST,
                   w * _mag(pos, neg, s, big, j, M, FULL))


@triton.jit
def _backward_kernel(x_ptr, g_ptr, dx_ptr, tab, part, outer, F, L,
                     N: tl.constexpr, M: tl.constexpr, ABS_Y: tl.constexpr, ABS_T: tl.constexpr,
                     KAPPA: tl.constexpr, ERA: tl.constexpr, EPS: tl.constexpr,
                     D_FIRST: tl.constexpr, KA: tl.constexpr, KG: tl.constexpr,
                     KMAX: tl.constexpr, PMAX: tl.constexpr, BLOCK: tl.constexpr,
                     BO: tl.constexpr, BF: tl.constexpr, BL: tl.constexpr):
    offs, mask, f, f1, row = _tile(tl.program_id(0), outer, F, L, BO, BF, BL)
    ct = tab.dtype.element_ty
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(ct)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(ct)
    if ERA:
        a = _row(tab, 0, M + 2, f, F, KMAX)
        b = _row(tab, 1, M, f, F, KMAX)
        dx = g * _era_backward(x, g, a, b, part, row, f1, F, M, EPS, KA, KG)
    else:
        r, pos, neg, big, sgn, z, v, s, sig, th, iq = _pieces(
            x, tab, f, F, KMAX, N, M, ABS_Y, ABS_T, KAPPA, PMAX)
        # All groups of the tile at full effective degree s = m (the usual case): static powers.
        if tl.reduce(tl.where((f < F) & (s != M), 1, 0), None, _SUM) == 0:
            _coefficient_grads(part, row, f1, F, mask, g, r, iq, sig, sgn, th, pos, neg, s, big,
                               N, M, ABS_Y, ABS_T, D_FIRST, KA, KG, True)
        else:
            _coefficient_grads(part, row, f1, F, mask, g, r, iq, sig, sgn, th, pos, neg, s, big,
                               N, M, ABS_Y, ABS_T, D_FIRST, KA, KG, False)
        # dR/dx = P'/Q − R Q'/Q, with P'/x^s from the shifted tables of P'.
        hd = _horner(_row(tab, _AD, N + 1, f, F, KMAX), _row(tab, _UXD, N + 1, f, F, KMAX),
                     N + 1, x, big)
        if M > 0:
            hd += tl.where(big, z * _poly(_row(tab, _UZD, M, f, F, KMAX), M, z), 0.0)
        if ABS_Y or ABS_T:
            p_over_q = hd * iq * sig
        else:
            p_over_q = hd * iq
        tdh = _horner(_row(tab, _DD, M + 1, f, F, KMAX), _row(tab, _DR, M + 1, f, F, KMAX),
                      M + 1, v, big)
        if ABS_Y:
            dq = tl.where(big, z, sgn)
        elif ABS_T:
            sign_th = tl.where(th >= 0, 1.0, -1.0)
            dq = tl.where(big, z * tl.where(th == 0, sig, sign_th), sign_th)
        else:
            dq = tl.where(big, z, 1.0)
        dx = g * (p_over_q - r * (dq * tdh * iq))
    tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=mask)


# ------------------------------------------------------------------- coefficient table, fold


@triton.jit
def _table_kernel(a_ptr, b_ptr, tab, F, FA, FB, M: tl.constexpr, KA: tl.constexpr,
                  KB: tl.constexpr, ERA: tl.constexpr, D_FIRST: tl.constexpr, D0: tl.constexpr,
                  ABS_Y: tl.constexpr, KMAX: tl.constexpr, KP: tl.constexpr,
                  BLOCK_F: tl.constexpr):
    """The coefficient table: row ROW, entry k of fine group f at tab[(ROW·F + f)·KMAX + k].

    Group f reads numerator row f // FA and denominator row f // FB. d_j are T's coefficients
    (d_0 = D0 where the version fixes it, |b_j| for A) and s the index of the last non-zero d_j;
    the shifted and rolled rows are gathers at s + k, s − 1 − k and s − k.
    """
    f = tl.program_id(0) * BLOCK_F + tl.arange(0, BLOCK_F)[:, None]
    k = tl.arange(0, KP)[None, :]
    fm = f < F
    out = tab + f * KMAX + k
    keep = fm & (k < KMAX)
    a_row = a_ptr + (f // FA) * KA
    b_row = b_ptr + (f // FB) * KB
    ct = tab.dtype.element_ty
    if ERA:
        tl.store(out, tl.load(a_row + k, mask=fm & (k < KA), other=0.0).to(ct), mask=keep)
        tl.store(out + F * KMAX, tl.load(b_row + k, mask=fm & (k < KB), other=0.0).to(ct),
                 mask=keep)
    else:
        d = _d_at(b_row, k, fm, D_FIRST, D0, ABS_Y, KB, ct)
        s = tl.full([BLOCK_F, 1], 0, tl.int32)
        for j in tl.static_range(1, M + 1):
            s = tl.where(_d_at(b_row, j + 0 * s, fm, D_FIRST, D0, ABS_Y, KB, ct) != 0, j, s)
        r = _d_at(b_row, s - k, fm, D_FIRST, D0, ABS_Y, KB, ct)
        sk = s + k
        tl.store(out + _A * F * KMAX, _a_at(a_row, k, fm, KA, ct), mask=keep)
        tl.store(out + _UX * F * KMAX, _a_at(a_row, sk, fm, KA, ct), mask=keep)
        tl.store(out + _UZ * F * KMAX, _a_at(a_row, s - 1 - k, fm, KA, ct), mask=keep)
        # P' = Σ a'_j x^j with a'_j = (j + 1) a_{j+1}: the same three rows
        tl.store(out + _AD * F * KMAX, (k + 1).to(ct) * _a_at(a_row, k + 1, fm, KA, ct),
                 mask=keep)
        tl.store(out + _UXD * F * KMAX, (sk + 1).to(ct) * _a_at(a_row, sk + 1, fm, KA, ct),
                 mask=keep)
        tl.store(out + _UZD * F * KMAX, (s - k).to(ct) * _a_at(a_row, s - k, fm, KA, ct),
                 mask=keep)
        tl.store(out + _D * F * KMAX, d, mask=keep)
        tl.store(out + _R * F * KMAX, r, mask=keep)
        tl.store(out + _DD * F * KMAX,
                 (k + 1).to(ct) * _d_at(b_row, k + 1, fm, D_FIRST, D0, ABS_Y, KB, ct), mask=keep)
        tl.store(out + _DR * F * KMAX, (s - k).to(ct) * r, mask=keep)
        tl.store(out + _S * F * KMAX, (s + 0 * k).to(ct), mask=keep)
        tl.store(out + _SODD * F * KMAX, (s % 2 + 0 * k).to(ct), mask=keep)


@triton.jit
def _a_at(a_row, j, fm, KA: tl.constexpr, ct):
    """a_j (0 outside 0..KA−1)."""
    return tl.load(a_row + j, mask=fm & (j >= 0) & (j < KA), other=0.0).to(ct)


@triton.jit
def _d_at(b_row, j, fm, D_FIRST: tl.constexpr, D0: tl.constexpr, ABS_Y: tl.constexpr,
          KB: tl.constexpr, ct):
    """d_j of T (0 outside 0..m): D0 at j = 0 when the version fixes d_0, else b_{j − D_FIRST}."""
    v = tl.load(b_row + (j - D_FIRST), mask=fm & (j >= D_FIRST) & (j - D_FIRST < KB),
                other=0.0).to(ct)
    if ABS_Y:
        v = tl.abs(v)
    if D_FIRST == 1:
        v = tl.where(j == 0, D0, v)
    return v


@triton.jit
def _fold_kernel(sums, b_ptr, ga_ptr, gb_ptr, GA, FA, FB, KA: tl.constexpr, KB: tl.constexpr,
                 SIGN_B: tl.constexpr, KP: tl.constexpr):
    """Coefficient gradients of each group: the sum of its fine groups' rows of ``sums`` [F, KA+KB]
    in a fixed order, times sign(b_j) (+1 at 0) for A's |b_j|, in the gradients' dtype."""
    pid = tl.program_id(0)
    k = tl.arange(0, KP)
    acc = tl.full([KP], 0.0, sums.dtype.element_ty)
    if pid < GA:
        for i in range(FA):
            acc += tl.load(sums + (pid * FA + i) * (KA + KB) + k, mask=k < KA, other=0.0)
        tl.store(ga_ptr + pid * KA + k, acc.to(ga_ptr.dtype.element_ty), mask=k < KA)
    else:
        g = pid - GA
        for i in range(FB):
            acc += tl.load(sums + (g * FB + i) * (KA + KB) + KA + k, mask=k < KB, other=0.0)
        if SIGN_B:
            b = tl.load(b_ptr + g * KB + k, mask=k < KB, other=0.0)
            acc = acc * tl.where(b >= 0, 1.0, -1.0)
        tl.store(gb_ptr + g * KB + k, acc.to(gb_ptr.dtype.element_ty), mask=k < KB)


# ----------------------------------------------------------------------------------- launching


def tile_shape(outer: int, fine: int, length: int, block: int) -> tuple[int, int, int]:
    """(BO, BF, BL): BL covers L up to ``block``; a tile reduces ≥ MIN_REDUCE values per group."""
    bl = min(triton.next_power_of_2(length), block)
    if bl < length:
        return 1, 1, bl
    bo = min(triton.next_power_of_2(outer), max(1, MIN_REDUCE // bl))
    bf = min(triton.next_power_of_2(fine), max(1, block // (bo * bl)))
    bo = min(triton.next_power_of_2(outer), max(1, block // (bf * bl)))
    return bo, bf, bl


def tile_counts(outer: int, fine: int, length: int, block: int) -> tuple[int, int]:
    """(programs, partial-sum rows) of a launch with tile size ``block``."""
    bo, bf, bl = tile_shape(outer, fine, length, block)
    rows = triton.cdiv(outer, bo) * triton.cdiv(length, bl)
    return rows * triton.cdiv(fine, bf), rows


def _shape_of(a: dict) -> tuple[int, int, int]:
    return tile_shape(a["outer"], a["F"], a["L"], a["BLOCK"])


_HEURISTICS = {
    "BO": lambda a: _shape_of(a)[0],
    "BF": lambda a: _shape_of(a)[1],
    "BL": lambda a: _shape_of(a)[2],
}
_KEY = ["outer", "F", "L"]

if INTERPRET:  # the interpreter is slow per program: one large tile
    FORWARD_CONFIGS = BACKWARD_CONFIGS = [triton.Config({"BLOCK": 4096})]
    BACKWARD_FIXED = triton.Config({"BLOCK": 4096})
else:
    FORWARD_CONFIGS = [triton.Config({"BLOCK": b}, num_warps=w)
                       for b, w in ((512, 4), (1024, 4), (2048, 8), (4096, 8))]
    BACKWARD_CONFIGS = [triton.Config({"BLOCK": b}, num_warps=w)
                        for b, w in ((512, 4), (1024, 4), (1024, 8), (2048, 8))]
    BACKWARD_FIXED = triton.Config({"BLOCK": 1024}, num_warps=8)


def _launcher(configs: list[triton.Config], kernel):
    return triton.autotune(configs, key=_KEY)(triton.heuristics(_HEURISTICS)(kernel))


table = _table_kernel
fold = _fold_kernel
forward = _launcher(FORWARD_CONFIGS, _forward_kernel)
backward_tuned = _launcher(BACKWARD_CONFIGS, _backward_kernel)
backward_fixed = _launcher([BACKWARD_FIXED], _backward_kernel)
