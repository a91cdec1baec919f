"""The MXNet adapter: the Gluon block imperative, hybridized and exported, against the numpy core.

Runs in ``.venv-mxnet``: ``.venv-mxnet/bin/python -m pytest tests/mxnet``. The operator itself is
also checked by the shared contract (tests/contract, backend ``mxnet``).
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")

from mxnet import autograd, gluon  # noqa: E402

from rationals.core import initial_coefficients, rational, rational_backward, variant  # noqa: E402
from rationals.mxnet import Rational, op  # noqa: E402
from rationals.mxnet import rational as mx_rational  # noqa: E402
from tests.contract.cases import coefficients, inputs  # noqa: E402

pytestmark = pytest.mark.mxnet
ROOT = Path(__file__).resolve().parents[2]

VERSIONS = [("A", (5, 4)), ("B", (5, 4)), ("C", (3, 2)), ("D", (5, 4)), ("N", (3, 2)),
            ("boulle", (3, 2)), ("era", (5, 4))]
#: name: (input shape, channel axis, numerator groups, denominator groups); 1 group = 1-D.
LAYOUTS = {
    "shared": ((2, 3, 4), 1, 1, 1),
    "nchw-grouped": ((2, 4, 3, 3), 1, 2, 4),
    "kat-channels-last": ((2, 5, 8), -1, 1, 4),
    "per-channel": ((3, 6), -1, 6, 6),
}
RTOL32 = 2e-4


def _close(actual, expected, rtol):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    err = np.max(np.abs(actual - expected)) / (np.max(np.abs(expected)) + 1e-30)
    assert err <= rtol, f"relative error {err:.2e} > {rtol:.0e}"


def _block(version, degrees, layout, rng, dtype="float32", hybridize=False):
    """A Rational with random well-conditioned coefficients; returns it and (a, b)."""
    _, axis, gn, gd = LAYOUTS[layout]
    block = Rational(None, degrees, version, gn, gd, channel_axis=axis)
    block.initialize()
    block.cast(dtype)
    a = coefficients(version, degrees, rng, 0 if gn == 1 else gn, "numerator")
    b = coefficients(version, degrees, rng, 0 if gd == 1 else gd, "denominator")
    block.numerator.set_data(mx.nd.array(a, dtype=dtype))
    block.denominator.set_data(mx.nd.array(b, dtype=dtype))
    if hybridize:
        block.hybridize()
    return block, a, b


def _run(block, x, g, **record):
    """Forward and backward through ``block``: (y, dx, dnumerator, ddenominator) as numpy."""
    x = x.copy()
    x.attach_grad()
    with autograd.record(**record):
        y = block(x)
    y.backward(g)
    grads = (block.numerator.grad(), block.denominator.grad())
    return (y.asnumpy(), x.grad.asnumpy(), *(t.asnumpy() for t in grads))


@pytest.mark.parametrize("hybridize", [False, True], ids=["imperative", "hybridized"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize(("version", "degrees"), VERSIONS, ids=lambda v: str(v))
def test_block_matches_core(version, degrees, layout, hybridize):
    rng = np.random.default_rng(0)
    block, a, b = _block(version, degrees, layout, rng, hybridize=hybridize)
    shape, axis = LAYOUTS[layout][:2]
    x = inputs(shape, rng)
    g = rng.normal(size=shape)
    y, dx, da, db = _run(
        block, mx.nd.array(x), mx.nd.array(g), train_mode=False  # D evaluates as B
    )
    # The block holds float32 coefficients: compare with the core on the same values.
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    _close(y, rational(x.astype(np.float32), a32, b32, version, channel_axis=axis), RTOL32)
    wdx, wda, wdb = rational_backward(
        x.astype(np.float32), a32, b32, g.astype(np.float32), version, channel_axis=axis
    )
    _close(dx, wdx, RTOL32)
    _close(da, wda, 10 * RTOL32)
    _close(db, wdb, 10 * RTOL32)


@pytest.mark.parametrize("kernels", ["1", "0"], ids=["compiled", "numpy-blocks"])
@pytest.mark.parametrize(("version", "degrees"), VERSIONS, ids=lambda v: str(v))
def test_float64_block_agrees_to_1e10(monkeypatch, version, degrees, kernels):
    """Both evaluations of the operator: the compiled kernels and (without them) numpy blocks."""
    monkeypatch.setenv("RATIONALS_CPU_KERNELS", kernels)
    monkeypatch.setattr(op, "BLOCK", 16)  # several numpy blocks on this small input
    compiled = []
    backward = op.arrays.backward
    monkeypatch.setattr(op.arrays, "backward", lambda *a: compiled.append(1) or backward(*a))
    rng = np.random.default_rng(1)
    block, a, b = _block(version, degrees, "nchw-grouped", rng, dtype="float64", hybridize=True)
    x, g = inputs((2, 4, 3, 3), rng), rng.normal(size=(2, 4, 3, 3))
    y, dx, da, db = _run(
        block, mx.nd.array(x, dtype="float64"), mx.nd.array(g, dtype="float64"), train_mode=False
    )
    assert y.dtype == np.float64 and da.dtype == np.float64
    _close(y, rational(x, a, b, version, channel_axis=1), 1e-10)
    want = rational_backward(x, a, b, g, version, channel_axis=1)
    for got, w in zip((dx, da, db), want, strict=True):
        _close(got, w, 1e-10)
    assert bool(compiled) == (kernels == "1")


@pytest.mark.parametrize(("version", "degrees"), VERSIONS, ids=lambda v: str(v))
def test_default_shapes_and_initial_values(version, degrees):
    num, den = initial_coefficients(None, None, version)
    block = Rational(version=version)
    block.initialize()
    v = variant(version, (3, 2) if version == "boulle" else (5, 4))
    assert block.degrees == v.degrees
    assert block.numerator.shape == (v.numerator_size,)
    assert block.denominator.shape == (v.denominator_size,)
    np.testing.assert_allclose(block.numerator.data().asnumpy(), num, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(block.denominator.data().asnumpy(), den, rtol=1e-6, atol=1e-7)
    grouped = Rational(version=version, numerator_groups=2, denominator_groups=4)
    grouped.initialize()
    assert grouped.numerator.shape == (2, v.numerator_size)
    assert grouped.denominator.shape == (4, v.denominator_size)
    np.testing.assert_allclose(grouped.denominator.data().asnumpy()[3], den, rtol=1e-6, atol=1e-7)


def test_default_is_leaky_relu():
    block = Rational()
    block.initialize()
    x = np.linspace(-3, 3, 61, dtype=np.float32)
    y = block(mx.nd.array(x)).asnumpy()
    np.testing.assert_allclose(y, np.where(x >= 0, x, 0.01 * x), atol=0.05)


@pytest.mark.parametrize("version", ["A", "B"])
def test_sign_of_zero_is_plus_one(version):
    """Identity start (b = 0): the denominator still receives a gradient."""
    block = Rational(version=version, degrees=(3, 2))
    block.initialize()
    block.numerator.set_data(mx.nd.array([0.0, 1.0, 0.0, 0.0]))
    block.denominator.set_data(mx.nd.zeros(2))
    x = np.array([0.5, -0.25, 0.75, 0.0, 2.0], np.float32)
    _, _, _, db = _run(block, mx.nd.array(x), mx.nd.ones(5))
    y = np.abs(x) if version == "A" else x
    np.testing.assert_allclose(db, -np.array([np.sum(x * y), np.sum(x * y**2)]), rtol=1e-5)


@pytest.mark.parametrize("hybridize", [False, True], ids=["imperative", "hybridized"])
def test_version_d_noise_only_in_training(hybridize):
    rng = np.random.default_rng(2)
    block, a, b = _block("D", (5, 4), "shared", rng, dtype="float64", hybridize=hybridize)
    x = mx.nd.array(inputs((2, 3, 4), rng), dtype="float64")
    as_b = rational(x.asnumpy(), a, b, "B")
    np.testing.assert_allclose(block(x).asnumpy(), as_b, rtol=1e-13, atol=0)  # predict mode
    with autograd.record(train_mode=False):
        np.testing.assert_allclose(block(x).asnumpy(), as_b, rtol=1e-13, atol=0)
    with autograd.record():
        y1, y2 = block(x).asnumpy(), block(x).asnumpy()
    assert not np.allclose(y1, as_b) and not np.allclose(y1, y2)  # a fresh draw per call
    with autograd.train_mode():  # training without recording also draws
        assert not np.allclose(block(x).asnumpy(), as_b)


@pytest.mark.parametrize("hybridize", [False, True], ids=["imperative", "hybridized"])
def test_version_d_gradients_use_the_same_draw(hybridize):
    """Replaying MXNet's seed recovers the draw u: R is B at b·u and dL/db = u · dL/d(b·u)."""
    rng = np.random.default_rng(3)
    block, a, b = _block("D", (5, 4), "shared", rng, dtype="float64", hybridize=hybridize)
    x, g = inputs((2, 3, 4), rng), rng.normal(size=(2, 3, 4))
    block(mx.nd.array(x, dtype="float64"))  # build the cached graph before seeding
    mx.random.seed(11)
    u = mx.nd.random.uniform_like(block.denominator.data(), low=0.9, high=1.1).asnumpy()
    mx.random.seed(11)
    y, dx, da, db = _run(block, mx.nd.array(x, dtype="float64"), mx.nd.array(g, dtype="float64"))
    assert np.all((u >= 0.9) & (u <= 1.1))
    _close(y, rational(x, a, b * u, "B"), 1e-10)
    wdx, wda, wdb = rational_backward(x, a, b * u, g, "B")
    _close(dx, wdx, 1e-10)
    _close(da, wda, 1e-10)
    _close(db, wdb * u, 1e-10)


@pytest.mark.parametrize("version", ["A", "D", "era"])
def test_export_and_symbolblock_import_round_trip(tmp_path, version):
    rng = np.random.default_rng(4)
    block, _, _ = _block(version, (5, 4), "nchw-grouped", rng, hybridize=True)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Conv2D(4, 1, in_channels=4), block)
    net[0].initialize()
    net.hybridize()
    x = mx.nd.array(inputs((2, 4, 3, 3), rng))
    want = net(x).asnumpy()
    prefix = str(tmp_path / "model")
    net.export(prefix)
    loaded = gluon.SymbolBlock.imports(f"{prefix}-symbol.json", ["data"], f"{prefix}-0000.params")
    np.testing.assert_array_equal(loaded(x).asnumpy(), want)
    x.attach_grad()
    with autograd.record(train_mode=False):
        y = loaded(x)
    y.backward()
    assert np.all(np.isfinite(x.grad.asnumpy())) and np.any(x.grad.asnumpy() != 0)


def test_set_data_changes_the_function():
    block = Rational(degrees=(3, 2))
    block.initialize()
    block.hybridize()
    x = mx.nd.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    block(x)
    block.numerator.set_data(mx.nd.array([1.0, 2.0, 0.0, 0.0]))
    block.denominator.set_data(mx.nd.array([0.0, 0.0]))
    np.testing.assert_allclose(block(x).asnumpy(), 1.0 + 2.0 * x.asnumpy(), rtol=1e-6)


def test_float16_input_keeps_its_dtype():
    block = Rational()
    block.initialize()
    x = np.linspace(-3, 3, 13)
    y = block(mx.nd.array(x, dtype="float16"))
    assert y.dtype == np.float16
    want = rational(x, block.numerator.data().asnumpy(), block.denominator.data().asnumpy())
    np.testing.assert_allclose(y.asnumpy(), want, rtol=2e-2, atol=1e-3)


def test_symbol_api():
    data = mx.sym.var("data")
    a, b = mx.sym.var("a"), mx.sym.var("b")
    out = mx_rational(data, a, b, "A", channel_axis=1)
    x, an, bn = np.random.default_rng(5).normal(size=(2, 3)), np.ones(4), np.ones(2)
    y = out.eval(data=mx.nd.array(x), a=mx.nd.array(an), b=mx.nd.array(bn))[0]
    _close(y.asnumpy(), rational(x, an, bn), RTOL32)


def test_bad_layout_is_a_value_error():
    block = Rational(denominator_groups=4)
    block.initialize()
    with pytest.raises(ValueError, match="C=6"):
        block(mx.nd.ones((2, 6, 3)))
    block.hybridize()
    with pytest.raises(ValueError, match="C=6"):
        block(mx.nd.ones((2, 6, 3)))
    with pytest.raises(ValueError, match="valid versions"):
        Rational(version="Z")
    with pytest.raises(ValueError, match="numerator_groups"):
        Rational(numerator_groups=0)
    with pytest.raises(ValueError, match="zero-size"):
        Rational(degrees=(3, 0))


def test_block_repr():
    assert repr(Rational(version="B", denominator_groups=2)) == (
        "Rational(version='B', degrees=(5, 4), numerator=(6,), denominator=(2, 4), channel_axis=1)"
    )


def test_import_without_mxnet_names_the_extra():
    code = (
        "import sys; sys.modules['mxnet'] = None\n"
        "try:\n    import rationals.mxnet\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    ).stdout
    assert "pip install 'rationals[mxnet]'" in out


def test_gluon_example_lowers_the_loss():
    example = runpy.run_path(str(ROOT / "examples" / "mxnet_gluon.py"))
    losses = example["train"](epochs=20)
    assert losses[-1] < 0.5 * losses[0]


def test_benchmark_smoke():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_mxnet.py"), "--smoke"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "held beyond x and output" in result.stdout
