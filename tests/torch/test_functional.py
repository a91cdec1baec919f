"""rationals.torch.rational: gradients, layouts, memory formats, dtypes, version D, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rationals.core import rational as reference
from rationals.core import rational_backward as reference_backward
from rationals.torch import rational, use_compiled_kernels

from .helpers import LAYOUTS, VERSIONS, case, numpy


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay[0])
@pytest.mark.parametrize(("version", "degrees"), VERSIONS, ids=lambda v: str(v))
def test_gradcheck(version, degrees, layout):
    use_compiled_kernels("never")  # many calls: stay on the composed path (compiled: test_compile)
    _, shape, axis, gn, gd = layout
    x, a, b = case(version, degrees, shape, gn, gd)
    x = x.clamp(-4, 4)  # keep N/boulle (no |·| in Q) away from their poles
    x[x.abs() < 1e-2] = 0.5  # keep finite differences off the kinks of |x|
    x[(x.abs() - 1).abs() < 1e-2] = 0.5  # ... and off the switch of branch at |x| = 1
    args = [t.clone().requires_grad_() for t in (x, a, b)]
    assert torch.autograd.gradcheck(
        lambda x, a, b: rational(x, a, b, version, channel_axis=axis), args
    )


def test_sign_of_zero_is_plus_one():
    """b = 0 (identity init): the denominator gradient is −Σ g R |x|^j, not 0."""
    x = torch.tensor([0.5, -0.25, 0.75, 0.0, 2.0], dtype=torch.float64)
    a = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    b = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    rational(x, a, b, "A").sum().backward()
    want = -np.array([np.sum(numpy(x) * np.abs(numpy(x))), np.sum(numpy(x) * numpy(x) ** 2)])
    np.testing.assert_allclose(numpy(b.grad), want, rtol=1e-12)


def test_version_d_noise_in_training_only():
    x, a, b = case("D", (5, 4), (64,))
    eval_y = rational(x, a, b, "D")
    assert torch.equal(eval_y, rational(x, a, b, "B"))
    torch.manual_seed(7)
    y1 = rational(x, a, b, "D", training=True)
    y2 = rational(x, a, b, "D", training=True)
    assert not torch.equal(y1, y2) and not torch.equal(y1, eval_y)
    torch.manual_seed(7)
    assert torch.equal(rational(x, a, b, "D", training=True), y1)  # reproducible
    torch.manual_seed(7)  # one U[0.9, 1.1] draw per denominator coefficient
    noise = torch.empty_like(b).uniform_(0.9, 1.1)
    assert torch.equal(y1, rational(x, a, b * noise, "B"))
    assert torch.all((noise >= 0.9) & (noise <= 1.1))


def test_version_d_noise_is_differentiable():
    x, a, b = case("D", (5, 4), (32,))
    b.requires_grad_()
    rational(x, a, b, "D", training=True).sum().backward()
    assert torch.all(torch.isfinite(b.grad)) and b.grad.abs().sum() > 0


@pytest.mark.parametrize(("shape", "axis"), [((2, 8, 3, 3), 1), ((2, 5, 8), -1), ((4, 8), 1)])
def test_channel_axis(shape, axis):
    """Channels-first (NCHW) and channels-last (B, N, C) inputs match the core per channel."""
    x, a, b = case("A", (5, 4), shape, 2, 8)
    y = rational(x, a, b, "A", channel_axis=axis)
    np.testing.assert_allclose(
        numpy(y), reference(numpy(x), numpy(a), numpy(b), "A", channel_axis=axis), rtol=1e-12
    )


def test_wrong_channel_count_names_expected_and_actual():
    x, a, b = case("A", (5, 4), (2, 12), 1, 8)
    with pytest.raises(ValueError, match=r"C=12 .*G=8.*expected a multiple of 8 .*got 12"):
        rational(x, a, b, "A", channel_axis=-1)


@pytest.mark.parametrize(
    ("numerator", "denominator", "version", "message"),
    [
        (torch.zeros(6), torch.zeros(4), "Z", "valid versions"),
        (torch.zeros(6), torch.zeros(3), "era", "expects 5 numerator"),
        (torch.zeros(6), torch.tensor([0.0, float("inf"), 0.0, 0.0]), "A", "finite"),
        (torch.zeros(2, 2, 6), torch.zeros(4), "A", "1-D"),
    ],
)
def test_bad_coefficients(numerator, denominator, version, message):
    with pytest.raises(ValueError, match=message):
        rational(torch.ones(3, 4), numerator, denominator, version)


def test_integer_input_is_an_error():
    with pytest.raises(ValueError, match="floating-point"):
        rational(torch.ones(3, dtype=torch.int64), torch.zeros(6), torch.zeros(4))


def _values_and_grads(x, a, b, axis):
    x = x.detach().requires_grad_()
    a, b = a.detach().requires_grad_(), b.detach().requires_grad_()
    y = rational(x, a, b, "A", channel_axis=axis)
    y.backward(torch.cos(torch.arange(y.numel(), dtype=y.dtype)).reshape(y.shape))
    return y, x.grad, a.grad, b.grad


@pytest.mark.parametrize("grouped", [False, True])
def test_channels_last_and_non_contiguous_inputs(grouped):
    x, a, b = case("A", (5, 4), (2, 6, 4, 5), 3 if grouped else 0, 6 if grouped else 0)
    want = _values_and_grads(x, a, b, 1)
    last = x.to(memory_format=torch.channels_last)
    got = _values_and_grads(last, a, b, 1)
    assert got[0].is_contiguous(memory_format=torch.channels_last)  # memory format kept
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)
    wide = torch.zeros(2, 6, 4, 10, dtype=x.dtype)
    wide[..., ::2] = x  # strided, not dense
    got = _values_and_grads(wide[..., ::2], a, b, 1)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)
    perm = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)  # dense, permuted
    got = _values_and_grads(perm, a, b, 1)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_half_and_float32_inputs(dtype):
    """Computed in float32; outputs in x's dtype, coefficient gradients in theirs; finite at 1e3."""
    x, a, b = case("A", (5, 4), (4, 16))
    x = torch.cat([x, torch.full((1, 16), 1e3), torch.full((1, 16), -1e3)]).to(dtype)
    x.requires_grad_()
    a, b = a.float().requires_grad_(), b.float().requires_grad_()
    y = rational(x, a, b, "A")
    y.backward(torch.ones_like(y))
    assert y.dtype == x.grad.dtype == dtype and a.grad.dtype == b.grad.dtype == torch.float32
    assert all(torch.all(torch.isfinite(t)) for t in (y, x.grad, a.grad, b.grad))
    want = reference(numpy(x), numpy(a), numpy(b), "A")
    np.testing.assert_allclose(numpy(y), want, rtol=1e-2 if dtype != torch.float32 else 1e-5)
    _, wa, wb = reference_backward(numpy(x), numpy(a), numpy(b), np.ones(x.shape), "A")
    np.testing.assert_allclose(numpy(a.grad), wa, rtol=1e-3)
    np.testing.assert_allclose(numpy(b.grad), wb, rtol=1e-3)


def test_autocast():
    torch.manual_seed(0)
    layer_in, layer_out = torch.nn.Linear(8, 16), torch.nn.Linear(16, 2)
    a, b = case("A", (5, 4), (1,))[1:]
    a, b = a.float().requires_grad_(), b.float().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = layer_in(torch.randn(4, 8))
        y = rational(h, a, b, "A")
        out = layer_out(y)
    assert h.dtype == y.dtype == torch.bfloat16
    out.float().sum().backward()
    assert a.grad.dtype == torch.float32 and torch.all(torch.isfinite(a.grad))


def test_empty_input():
    x = torch.empty(0, 4, requires_grad=True)
    a, b = torch.zeros(6, requires_grad=True), torch.zeros(4, requires_grad=True)
    y = rational(x, a, b)
    y.sum().backward()
    assert y.shape == (0, 4) and torch.equal(a.grad, torch.zeros(6))


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay[0])
def test_eager_calls_skip_the_op_dispatch_with_the_same_results(layout):
    """Plain eager calls run the op's bodies through an autograd.Function (no dispatch cost);
    calling the custom op itself, or under vmap, gives the same values and gradients."""
    from rationals.torch import op

    _, shape, axis, gn, gd = layout
    x, a, b = case("A", (5, 4), shape, gn, gd)
    results = []
    for call in (rational, lambda *t, **kw: op.rational_op(*t, "A", kw["channel_axis"])):
        xt, at, bt = (t.clone().requires_grad_() for t in (x, a, b))
        y = call(xt, at, bt, channel_axis=axis)
        results.append((type(y.grad_fn).__name__, y, *torch.autograd.grad(y.square().sum(),
                                                                           (xt, at, bt))))
    (eager_fn, *eager), (op_fn, *via_op) = results
    assert eager_fn == "_EagerBackward"
    assert op_fn != eager_fn
    for got, want in zip(eager, via_op, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    batched = torch.func.vmap(lambda r: rational(r, a, b, channel_axis=axis - (axis > 0)))(x)
    torch.testing.assert_close(batched, eager[0].detach(), rtol=1e-12, atol=1e-12)


def test_second_derivatives_are_refused_on_both_paths():
    from rationals.torch import op

    x, a, b = case("A", (5, 4), (7,))
    for call in (rational, lambda *t: op.rational_op(*t, "A", 0)):
        xt = x.clone().requires_grad_()
        (g,) = torch.autograd.grad(call(xt, a, b).sum(), xt, create_graph=True)
        with pytest.raises(RuntimeError):
            g.sum().backward()
