"""The Triton kernels against the numpy core: versions, degrees, layouts, dtypes, sizes.

Without a CUDA device they run in Triton's CPU interpreter (tests/triton/conftest.py), which is
slow per program: inputs stay small, a few programs at most.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("triton")

from rationals.core import rational, rational_backward, variant
from rationals.torch.kernels import triton_rational as tr

from ..contract.cases import coefficients, inputs

#: numpy warns about lanes the kernels then discard (overflowing powers that ``where`` drops).
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
#: The interpreter's tile is 4096 elements; on a GPU the autotuner picks 512..4096.
BLOCK = 4096


def _t(x, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, np.float64), device=DEVICE).to(dtype)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy()


def _coefficients(version, degrees, seed=0, ga=0, gb=0):
    rng = np.random.default_rng(seed)
    return (coefficients(version, degrees, rng, ga, "numerator"),
            coefficients(version, degrees, rng, gb, "denominator"))


def _run(x, a, b, g, version, axis, dtype=torch.float64, **kwargs):
    y = tr.forward(_t(x, dtype), _t(a), _t(b), version, axis)
    grads = tr.backward(_t(g, dtype), _t(x, dtype), _t(a), _t(b), version, axis, **kwargs)
    return _np(y), *(_np(t) for t in grads)


def _check(x, a, b, g, version, axis, dtype=torch.float64, rtol=1e-10):
    """Values and all gradients against the float64 core, elementwise. Where the true value is
    beyond the dtype's range, R must be ±inf of the right sign and a gradient non-finite (its
    terms overflow: inf − inf may give NaN)."""
    y, dx, da, db = _run(x, a, b, g, version, axis, dtype)
    xr = _np(_t(x, dtype))  # the input as the kernel saw it
    want = (rational(xr, a, b, version, channel_axis=axis),
            *rational_backward(xr, a, b, _np(_t(g, dtype)), version, channel_axis=axis))
    top = np.finfo(np.float64 if dtype == torch.float64 else np.float32).max
    names = ("R", "dx", "dnumerator", "ddenominator")
    for name, got, ref in zip(names, (y, dx, da, db), want, strict=True):
        assert got.shape == ref.shape, name
        over = np.abs(ref) > top
        if name == "R":
            assert np.all(got[over] == ref[over] * np.inf), name
        assert not np.any(np.isfinite(got[over])), name
        scale = np.max(np.abs(ref[np.isfinite(ref) & ~over]), initial=0.0)
        np.testing.assert_allclose(got[~over], ref[~over], rtol=rtol, atol=rtol * 1e-3 * scale,
                                   err_msg=name)


DEGREES = [
    ("A", (5, 4)), ("A", (0, 0)), ("A", (7, 6)), ("B", (5, 4)), ("C", (5, 4)), ("D", (4, 4)),
    ("N", (5, 4)), ("N", (6, 2)), ("boulle", (3, 2)), ("era", (3, 2)), ("era", (7, 6)),
]


@pytest.mark.parametrize(("version", "degrees"), DEGREES, ids=str)
def test_every_version_and_degree_matches_the_core(version, degrees):
    """float64, both branches and huge |x| (the reciprocal form), shared layout."""
    a, b = _coefficients(version, degrees)
    rng = np.random.default_rng(1)
    x = np.concatenate([inputs((40,), rng), [1e200, -1e200, 3e7, -3e7, 1e-300]])
    if version in ("N", "boulle"):  # no |·|: keep away from the poles beyond the sampled range
        x = x[np.abs(x) <= 3.5]
    _check(x, a, b, rng.normal(size=x.shape), version, -1)


def _direct(version: str, a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """R(x) written out plainly in torch (fine for moderate |x|; |·|' is only used off 0)."""
    p = sum(ai * x**i for i, ai in enumerate(a))
    first = 0 if version in ("C", "boulle") else 1
    t = sum(bj * (x.abs() if version == "A" else x) ** j for j, bj in enumerate(b, start=first))
    if version == "A":
        t = sum(bj.abs() * x.abs() ** j for j, bj in enumerate(b, start=1))
    q = {"A": 1 + t, "B": 1 + t.abs(), "C": 0.1 + t.abs(), "N": 1 + t, "boulle": t}[version]
    return p / q


@pytest.mark.parametrize(("version", "degrees"),
                         [("A", (1, 5)), ("B", (2, 3)), ("C", (0, 1)), ("N", (1, 3)),
                          ("boulle", (2, 4))], ids=str)
def test_denominator_degree_above_numerator_matches_autograd(version, degrees):
    """m > n, checked against torch autograd of the plain formula (independent of the core)."""
    a, b = _coefficients(version, degrees, seed=17)
    rng = np.random.default_rng(18)
    x, g = inputs((50,), rng), rng.normal(size=50)
    x[x == 0] = 0.125  # torch's |x|' is 0 at 0 (ours +1: tested on its own)
    y, dx, da, db = _run(x, a, b, g, version, -1)
    ta, tb, tx = (_t(v).requires_grad_() for v in (a, b, x))
    want = _direct(version, ta, tb, tx)
    want.backward(_t(g))
    for got, ref in zip((y, dx, da, db), (want, tx.grad, ta.grad, tb.grad), strict=True):
        np.testing.assert_allclose(got, _np(ref), rtol=1e-10, atol=1e-12)


LAYOUTS = [  # shape, channel axis, numerator groups, denominator groups (0: 1-D shared)
    ((2, 5, 8), -1, 0, 4),  # KAT: one numerator, grouped denominators, channels last
    ((2, 5, 8), -1, 1, 4),
    ((2, 4, 3, 3), 1, 2, 4),  # NCHW, F = lcm = 4
    ((3, 6), -1, 6, 6),  # per-channel
    ((2, 6, 5), 1, 6, 3),
    ((6, 2, 3), 0, 3, 2),  # channel axis 0, F = 6
    ((2, 3, 12, 2), 2, 4, 6),  # a middle axis, F = 12
    ((4, 5), 1, 1, 1),  # 2-D coefficients with one group
    ((300, 48), -1, 48, 16),  # several programs, tiles of several fine groups
    ((1, 2, 4100), 1, 2, 1),  # L > tile: a fine group spans several tiles
]


@pytest.mark.parametrize(("shape", "axis", "ga", "gb"), LAYOUTS, ids=str)
@pytest.mark.parametrize("version", ["A", "boulle", "era"])
def test_layouts_match_the_core(shape, axis, ga, gb, version):
    if version != "A" and max(shape) > 100:
        pytest.skip("large layouts run once, with version A")
    degrees = (5, 4) if version != "boulle" else (3, 2)
    a, b = _coefficients(version, degrees, ga=ga, gb=gb)
    rng = np.random.default_rng(2)
    _check(inputs(shape, rng), a, b, rng.normal(size=shape), version, axis)


@pytest.mark.parametrize("version", ["A", "B", "C", "D", "N", "boulle"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_zero_leading_coefficients_at_huge_inputs(version, dtype):
    """Effective degrees below the nominal ones, per group: the reciprocal form stays exact."""
    v = variant(version, (5, 4))
    a = np.random.default_rng(3).uniform(0.5, 1.0, (2, v.numerator_size))
    b = np.random.default_rng(4).uniform(0.5, 1.0, (2, v.denominator_size))
    if version in ("N", "boulle"):
        b *= 0.01
    a[0, 4:] = 0.0  # n' = 3 in group 0
    b[0, -1] = 0.0  # m' = m − 1 in group 0
    b[1, -3:] = 0.0  # m' = m − 3 in group 1, with a full numerator
    huge = 1e200 if dtype == torch.float64 else 1e30
    x = np.array([[-huge, -1e6, -2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 1e6, huge]] * 2).T  # (10, 2)
    if version in ("N", "boulle"):  # no |·|: moderate inputs (poles, true overflow beyond)
        x = np.array([[-30.0, 0.0, 0.5, 30.0]] * 2).T
    g = np.linspace(-1.0, 1.0, x.size).reshape(x.shape)
    _check(x, a, b, g, version, -1, dtype, rtol=1e-10 if dtype == torch.float64 else 1e-4)


@pytest.mark.parametrize("version", ["A", "B", "C", "D", "era"])
@pytest.mark.parametrize(("dtype", "huge"), [(torch.float16, 3e4), (torch.bfloat16, 1e30)])
def test_half_inputs_are_finite_and_match_float32(version, dtype, huge):
    """Half inputs are computed in float32: finite where the float32 core is, same values."""
    a, b = _coefficients(version, (5, 4), seed=5)
    b = np.sign(b) * (0.5 + np.abs(b))  # |R(x)| ≲ 2|x|: no true overflow of float16 at 3e4
    x = np.array([-huge, -huge / 3, -1e3, -2.5, -1.0, 0.0, 0.3, 1.0, 2.5, 1e3, huge / 3, huge])
    g = np.full_like(x, 0.5)
    y, dx, da, db = _run(x, a, b, g, version, -1, dtype)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    assert np.all(np.isfinite(da)) and np.all(np.isfinite(db))
    x32 = _np(_t(x, dtype))
    want = rational(x32.astype(np.float32), a, b, version).astype(np.float64)
    np.testing.assert_allclose(y, _np(_t(want, dtype)), rtol=1e-2)
    wdx = rational_backward(x32.astype(np.float32), a, b, g.astype(np.float32), version)[0]
    np.testing.assert_allclose(dx, wdx, rtol=2e-2, atol=1e-3)


ODD_SIZES = [1, 2, 127, BLOCK - 1, BLOCK + 1] + ([511, 1023, 1025, 8191, 65537] if CUDA else [])


@pytest.mark.parametrize("size", ODD_SIZES)
def test_odd_sizes(size):
    a, b = _coefficients("A", (5, 4), seed=6)
    rng = np.random.default_rng(7)
    x = inputs((size,), rng)
    _check(x, a, b, rng.normal(size=x.shape), "A", -1, torch.float32, rtol=1e-4)


@pytest.mark.parametrize("outer", [1, 131])
def test_odd_grouped_sizes(outer):
    """A prime number of rows, channels last, KAT-like groups."""
    a, b = _coefficients("A", (5, 4), seed=8, ga=1, gb=8)
    rng = np.random.default_rng(9)
    x = inputs((outer, 24), rng)
    _check(x, a, b, rng.normal(size=x.shape), "A", -1, torch.float32, rtol=1e-4)


@pytest.mark.parametrize("version", ["A", "B", "C", "D"])
def test_sign_of_zero_is_plus_one(version):
    """b = 0 (identity-like): |·|' at 0 is +1, so the denominator gets a non-zero gradient."""
    v = variant(version, (3, 2))
    a = np.array([0.0, 1.0, 0.0, 0.0])
    b = np.zeros(v.denominator_size)
    x = np.array([0.5, -0.25, 0.75, 0.0, 2.0, -1.5])
    _, _, _, db = _run(x, a, b, np.ones_like(x), version, -1)
    assert np.all(db != 0)
    _check(x, a, b, np.ones_like(x), version, -1)


def test_non_contiguous_input():
    a, b = _coefficients("A", (5, 4), seed=10, ga=2, gb=4)
    rng = np.random.default_rng(11)
    x = _t(inputs((8, 6), rng)).T  # a (6, 8) transposed view; its 8 channels on axis 1
    g = _t(rng.normal(size=(6, 8)))
    y = tr.forward(x, _t(a), _t(b), "A", 1)
    np.testing.assert_allclose(_np(y), rational(_np(x), a, b, "A", channel_axis=1), rtol=1e-12)
    dx, da, db = tr.backward(g, x, _t(a), _t(b), "A", 1)
    want = rational_backward(_np(x), a, b, _np(g), "A", channel_axis=1)
    for got, ref in zip((dx, da, db), want, strict=True):
        np.testing.assert_allclose(_np(got), ref, rtol=1e-10)


def test_empty_input():
    a, b = _coefficients("A", (5, 4), seed=12)
    x = torch.empty((0, 3), device=DEVICE)
    assert tr.forward(x, _t(a), _t(b), "A", 1).shape == (0, 3)
    dx, da, db = tr.backward(x, x, _t(a), _t(b), "A", 1)
    assert dx.shape == (0, 3) and np.all(_np(da) == 0) and np.all(_np(db) == 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_output_dtypes_and_shapes(dtype):
    a, b = _coefficients("A", (5, 4), seed=13, gb=2)
    x = _t(inputs((3, 4), np.random.default_rng(14)), dtype)
    ta, tb = _t(a, torch.float32), _t(b, torch.float32)
    assert tr.forward(x, ta, tb, "A", 1).dtype == dtype
    dx, da, db = tr.backward(torch.ones_like(x), x, ta, tb, "A", 1)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert da.dtype == db.dtype == torch.float32
    assert da.shape == ta.shape and db.shape == tb.shape


def test_backward_is_deterministic():
    """Fixed launch and summation order: bitwise equal; the autotuned mode agrees closely."""
    a, b = _coefficients("A", (5, 4), seed=15, ga=1, gb=4)
    rng = np.random.default_rng(16)
    x, g = inputs((64, 96), rng), rng.normal(size=(64, 96))
    first = _run(x, a, b, g, "A", -1, torch.float32)
    second = _run(x, a, b, g, "A", -1, torch.float32)
    for u, w in zip(first, second, strict=True):
        np.testing.assert_array_equal(u, w)
    tuned = _run(x, a, b, g, "A", -1, torch.float32, deterministic=False)
    for u, w in zip(first, tuned, strict=True):
        np.testing.assert_allclose(u, w, rtol=1e-5, atol=1e-5 * np.max(np.abs(w)))


def test_bad_input_is_a_value_error():
    x = _t(np.ones((2, 6)))
    with pytest.raises(ValueError, match="C=6"):
        tr.forward(x, _t(np.zeros((1, 6))), _t(np.zeros((4, 4))), "A", -1)
    with pytest.raises(ValueError, match="valid versions"):
        tr.forward(x, _t(np.zeros(6)), _t(np.zeros(4)), "Z", -1)
    with pytest.raises(ValueError, match="1-D"):
        tr.forward(x, _t(np.zeros((1, 1, 6))), _t(np.zeros(4)), "A", -1)
    with pytest.raises(ValueError, match="out of range"):
        tr.forward(x, _t(np.zeros((2, 6))), _t(np.zeros(4)), "A", 2)


def test_is_available():
    assert tr.is_available()


_COMPILE = """
import json, triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from rationals.torch.kernels import triton_kernels as K
out = {}
for version, (n, m), dt in %s:
    era = version == "era"
    ka, kb = (m + 2, m) if era else (n + 1, m + int(version in ("C", "boulle")))
    kmax = max(ka, kb, m + 1)
    tab = "*fp64" if dt == "fp64" else "*fp32"
    flags = dict(ABS_Y=version == "A", ERA=era, KMAX=kmax)
    main = dict(flags, N=n, M=m, ABS_T=version in ("B", "C"), EPS=1e-6, BLOCK=1024,
                KAPPA={"B": 1.0, "C": 0.1}.get(version, 0.0), BO=2, BF=4, BL=128)
    d_first = 0 if era or version in ("C", "boulle") else 1
    kernels = {
        "forward": (K._forward_kernel, dict(x_ptr="*" + dt, y_ptr="*" + dt, tab=tab), main),
        "backward": (K._backward_kernel,
                     dict(x_ptr="*" + dt, g_ptr="*" + dt, dx_ptr="*" + dt, tab=tab, part=tab),
                     dict(main, D_FIRST=d_first, KA=ka, KG=ka + kb, PMAX=max(n, m))),
        "table": (K._table_kernel, dict(a_ptr="*fp32", b_ptr="*fp64", tab=tab, FA="i32",
                                        FB="i32"),
                  dict(flags, M=m, KA=ka, KB=kb, D_FIRST=d_first, D0=1.0, KP=8, BLOCK_F=32)),
        "fold": (K._fold_kernel, dict(sums=tab, b_ptr="*fp32", ga_ptr="*fp32", gb_ptr="*fp64",
                                      GA="i32", FA="i32", FB="i32"),
                 dict(KA=ka, KB=kb, SIGN_B=version == "A", KP=8)),
    }
    for name, (fn, sig, const) in kernels.items():
        sig = dict(sig)
        for arg in fn.arg_names:
            sig.setdefault(arg, "constexpr" if arg in const else "i32")
        const = {k: v for k, v in const.items() if k in fn.arg_names}
        c = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=const),
                           target=GPUTarget("cuda", 90, 32), options=dict(num_warps=4))
        out[f"{version}{n}{m}{dt}-{name}"] = "atom." in c.asm["ptx"]
print(json.dumps(out))
"""


@pytest.mark.skipif(CUDA, reason="on a GPU every other test compiles the kernels")
def test_kernels_compile_for_a_gpu_without_atomics():
    """The real compiler (not the interpreter) accepts every kernel: PTX and cubin for sm_90."""
    pytest.importorskip("triton.backends.nvidia")
    cases = [("A", (5, 4), "bf16"), ("C", (3, 2), "fp16"), ("boulle", (2, 3), "fp64"),
             ("era", (3, 2), "fp32")]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", _COMPILE % cases], env=env, cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    atomics = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(atomics) == 4 * len(cases) and not any(atomics.values())


def test_benchmark_smoke():
    """benchmarks/bench_triton_gpu.py at tiny sizes (CPU, interpreter), so that it cannot rot."""
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_triton_gpu.py"),
                          "--smoke"], cwd=root, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "per-element atomics (KAT)" in run.stdout and "Rational (kernels)" in run.stdout
