"""torch.compile and torch.export of models with Rational; the compiled CPU kernels; memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rationals.core import rational as reference
from rationals.core import rational_backward as reference_backward
from rationals.core import variant
from rationals.torch import Rational, rational, use_compiled_kernels
from rationals.torch.kernels import composed

from .helpers import case, numpy


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), Rational(numerator_groups=2, denominator_groups=8),
        nn.Flatten(1), nn.Linear(8 * 5 * 5, 16), Rational(version="D"),
        nn.Linear(16, 12), nn.Unflatten(1, (3, 4)),
        Rational("gelu", numerator_groups=1, denominator_groups=4, channel_axis=-1),
    )


def test_compile_fullgraph_matches_eager():
    model = _model()
    x = torch.randn(4, 3, 5, 5)
    model.eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x), model(x))
    model.train()
    torch.manual_seed(1)
    compiled(x).square().sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    torch.manual_seed(1)
    model(x).square().sum().backward()
    for got, want in zip(grads, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_export_contains_the_op():
    model = _model().eval()
    x = torch.randn(4, 3, 5, 5)
    batch = torch.export.Dim("batch", min=2)
    exported = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    assert "rationals.rational" in str(exported.graph)
    x7 = torch.randn(7, 3, 5, 5)
    torch.testing.assert_close(exported.module()(x7), model(x7))


#: Compiled kernels are exercised for a subset: each (variant, layout, dtype) costs a compilation.
COMPILED_CASES = [
    ("A", (5, 4), (3, 70), 1, 0, 0),
    ("A", (5, 4), (3, 5, 8), -1, 1, 4),  # KAT-like, channels last
    ("C", (3, 2), (4, 33), 1, 0, 0),
    ("boulle", (3, 2), (2, 4, 3, 3), 1, 2, 4),
    ("era", (5, 4), (4, 33), 1, 0, 0),
]


@pytest.mark.parametrize(("version", "degrees", "shape", "axis", "gn", "gd"), COMPILED_CASES)
def test_compiled_kernels_match_the_core(version, degrees, shape, axis, gn, gd, inductor_kernels):
    use_compiled_kernels("always")
    x, a, b = case(version, degrees, shape, gn, gd)
    g = torch.cos(torch.arange(x.numel(), dtype=x.dtype)).reshape(shape)
    xt, at, bt = (t.clone().requires_grad_() for t in (x, a, b))
    y = rational(xt, at, bt, version, channel_axis=axis)
    y.backward(g)
    kw = {"channel_axis": axis}
    np.testing.assert_allclose(numpy(y), reference(numpy(x), numpy(a), numpy(b), version, **kw),
                               rtol=1e-10, atol=1e-12)
    want = reference_backward(numpy(x), numpy(a), numpy(b), numpy(g), version, **kw)
    for got, w in zip((xt.grad, at.grad, bt.grad), want, strict=True):
        np.testing.assert_allclose(numpy(got), w, rtol=1e-10, atol=1e-10)


def test_compiled_kernels_half_input_and_no_recompile_for_new_sizes(inductor_kernels):
    use_compiled_kernels("always")
    layer = Rational()
    torch._dynamo.utils.counters.clear()
    for n in (1000, 1237, 4096):
        x = torch.randn(n, dtype=torch.bfloat16, requires_grad=True)
        y = layer(x)
        y.sum().backward()
        assert y.dtype == x.grad.dtype == torch.bfloat16
        want = reference(numpy(x), numpy(layer.numerator), numpy(layer.denominator), "A")
        np.testing.assert_allclose(numpy(y), want, rtol=1e-2, atol=1e-2)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 2  # forward, backward


def test_auto_mode_compiles_hot_or_large_kernels(inductor_kernels):
    use_compiled_kernels("auto", min_numel=10**12, after_calls=2)
    composed._kernels.clear()
    layer = Rational()
    for _ in range(2):
        layer(torch.randn(100)).sum().backward()
    assert all(k.compiled is None for k in composed._kernels.values())
    layer(torch.randn(100)).sum().backward()  # the third call of each kernel compiles it
    assert all(k.compiled is not None for k in composed._kernels.values())
    use_compiled_kernels("auto", min_numel=1000)
    composed._kernels.clear()
    Rational()(torch.randn(1000))
    assert all(k.compiled is not None for k in composed._kernels.values())


def test_fallback_when_compiling_fails(monkeypatch, inductor_kernels):
    def broken(fn, name):
        def fail(*args):
            raise RuntimeError("no compiler here")
        return fail

    use_compiled_kernels("always")
    composed._kernels.clear()
    monkeypatch.setattr(composed, "_compile", broken)
    x, a, b = case("A", (5, 4), (50,))
    with pytest.warns(RuntimeWarning, match="no compiler here"):
        y = rational(x, a, b, "A")
    np.testing.assert_allclose(numpy(y), reference(numpy(x), numpy(a), numpy(b), "A"), rtol=1e-12)
    composed._kernels.clear()


def _saved_bytes(fn, x: torch.Tensor) -> int:
    """Bytes of the distinct tensors autograd saves for backward while ``fn(x)`` runs."""
    saved = {}

    def pack(t):
        saved[(t.untyped_storage().data_ptr(), t.storage_offset(), t.shape)] = t.nbytes
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(saved.values())


@pytest.mark.parametrize(
    ("layer", "mode", "cpp"),
    [(Rational(), "never", "0"), (Rational(), "always", "0"), (Rational(), "never", "1"),
     (Rational(version="D"), "never", "0"),
     (Rational(numerator_groups=1, denominator_groups=8), "never", "0")],
    ids=["shared", "shared-compiled", "shared-c++", "D", "grouped"],
)
def test_saves_only_the_input(monkeypatch, layer, mode, cpp):
    """Bytes saved for backward ≤ 1.1 × the input's (x and the coefficients only)."""
    monkeypatch.setenv("RATIONALS_CPU_KERNELS", cpp)
    use_compiled_kernels(mode)
    x = torch.randn(16, 8, 32, requires_grad=True)
    assert _saved_bytes(layer, x) <= 1.1 * x.nbytes


@pytest.mark.parametrize("version", ["A", "B", "C", "N", "boulle"])
def test_compiled_direct_and_general_forms_by_input_range(version, inductor_kernels):
    """Moderate inputs take the direct-form kernel, huge or non-finite ones the general form;
    both agree with the core (float64) and stay finite where the core is."""
    use_compiled_kernels("always")
    composed._kernels.clear()
    x, a, b = case(version, (5, 4), (64,), 0, 0)
    for scale, form in ((1.0, "direct"), (1e150, "eff_5_4")):
        xs = (x * scale).requires_grad_()
        y = rational(xs, a, b, version)
        y.sum().backward()
        np.testing.assert_allclose(numpy(y), reference(numpy(xs), numpy(a), numpy(b), version),
                                   rtol=1e-10, atol=1e-300)
        want = reference_backward(numpy(xs), numpy(a), numpy(b), np.ones(64), version)
        np.testing.assert_allclose(numpy(xs.grad), want[0], rtol=1e-9, atol=1e-300)
        assert any(form in k.name for k in composed._kernels.values()), form
    nan = torch.tensor([0.5, float("nan")], dtype=torch.float64)
    assert not composed._direct_applies(variant(version, (5, 4)), nan, numpy(a), numpy(b))
