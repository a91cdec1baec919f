"""The Rational module: defaults, layouts, repr, learning, peer checkpoints, convert, import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from rationals.core import initial_coefficients
from rationals.core import rational as reference
from rationals.torch import Rational, convert, from_kat, from_rational_activations

from .helpers import numpy


@pytest.mark.parametrize(
    ("kwargs", "numerator", "denominator"),
    [
        ({}, (6,), (4,)),  # A (5, 4), rational_activations' shapes
        ({"version": "C"}, (6,), (5,)),
        ({"version": "boulle"}, (4,), (3,)),  # (3, 2) by default
        ({"version": "era"}, (6,), (4,)),
        ({"degrees": (3, 2)}, (4,), (2,)),
        ({"numerator_groups": 1, "denominator_groups": 8}, (1, 6), (8, 4)),  # KAT
        ({"numerator_groups": 4, "denominator_groups": 4}, (4, 6), (4, 4)),
    ],
)
def test_parameter_shapes(kwargs, numerator, denominator):
    layer = Rational(**kwargs)
    assert layer.numerator.shape == numerator and layer.denominator.shape == denominator
    assert layer.numerator.dtype == torch.float32


def test_defaults_match_the_core_tables():
    layer = Rational()
    a, b = initial_coefficients(None, (5, 4), "A")
    np.testing.assert_allclose(numpy(layer.numerator), a, rtol=1e-6)
    np.testing.assert_allclose(numpy(layer.denominator), b, rtol=1e-6)
    x = torch.linspace(-3, 3, 61)
    assert torch.allclose(layer(x), torch.nn.functional.leaky_relu(x), atol=0.05)


def test_repr_shows_version_degrees_layout():
    assert repr(Rational()) == (
        "Rational(version='A', degrees=(5, 4), layout=shared, approx_func='leaky_relu')"
    )
    kat = Rational("gelu", numerator_groups=1, denominator_groups=8, channel_axis=-1)
    assert "layout=grouped(numerator=1, denominator=8), channel_axis=-1" in repr(kat)


def test_trainable_flags():
    assert not Rational(trainable=False).numerator.requires_grad
    layer = Rational(train_numerator=False)
    assert not layer.numerator.requires_grad and layer.denominator.requires_grad


def test_bad_groups():
    with pytest.raises(ValueError, match="numerator_groups must be an integer >= 1"):
        Rational(numerator_groups=0)


def test_callable_initialisation_is_fitted():
    layer = Rational(np.sin, version="B")
    x = torch.linspace(-3, 3, 61)
    assert torch.allclose(layer(x), torch.sin(x), atol=1e-2)
    assert layer.approx_func == "sin"


def test_identity_layer_learns_its_denominator():
    """sign(0) = +1: with b = 0 the denominator still gets a gradient and moves."""
    layer = Rational("identity", version="A")
    assert torch.all(layer.denominator == 0)
    opt = torch.optim.SGD(layer.parameters(), lr=0.01)
    x = torch.linspace(-2, 2, 101)
    loss = (layer(x) - torch.tanh(x)).pow(2).mean()
    loss.backward()
    assert torch.all(layer.denominator.grad != 0)
    opt.step()
    assert torch.all(layer.denominator != 0)


def test_rational_activations_state_dict_loads_as_is():
    """Their Rational stores 1-D ``numerator``/``denominator``: the same as our shared layout."""
    theirs = {"numerator": torch.randn(6), "denominator": torch.randn(4)}
    layer = Rational(version="B")
    layer.load_state_dict(theirs)
    assert torch.equal(layer.numerator, theirs["numerator"])
    model = nn.Sequential(nn.Linear(2, 2), Rational(version="B"))
    model.load_state_dict({"0.weight": torch.eye(2), "0.bias": torch.zeros(2),
                           **{f"1.{k}": v for k, v in theirs.items()}})
    built = from_rational_activations(theirs, "B")
    assert built.degrees == (5, 4) and torch.equal(built.denominator, theirs["denominator"])
    c = from_rational_activations({"numerator": torch.randn(6), "denominator": torch.randn(5)}, "C")
    assert c.degrees == (5, 4)


def _kat_reference(x, a, b):
    """KAT's group rational: P(x) / (1 + Σ_j |b_gj| |x|^j), channel groups on the last axis."""
    groups = b.shape[0]
    per_channel = np.repeat(b, x.shape[-1] // groups, axis=0)  # (C, 4)
    p = sum(a[0, i] * x**i for i in range(a.shape[1]))
    q = 1 + sum(np.abs(per_channel[:, j]) * np.abs(x) ** (j + 1) for j in range(b.shape[1]))
    return p / q


def test_kat_checkpoints():
    rng = np.random.default_rng(0)
    theirs = {"weight_numerator": torch.tensor(rng.normal(size=(1, 6))),
              "weight_denominator": torch.tensor(rng.normal(size=(8, 4)))}
    x = torch.tensor(rng.normal(size=(2, 3, 16)))  # (B, L, C), channels last
    want = _kat_reference(numpy(x), numpy(theirs["weight_numerator"]),
                          numpy(theirs["weight_denominator"]))
    layer = Rational(numerator_groups=1, denominator_groups=8, channel_axis=-1,
                     dtype=torch.float64)
    layer.load_state_dict(theirs)  # their key names are accepted
    np.testing.assert_allclose(numpy(layer(x)), want, rtol=1e-12)
    model = nn.Sequential(nn.Identity(), layer)
    model.load_state_dict({f"1.{k}": v for k, v in theirs.items()})
    built = from_kat(theirs, dtype=torch.float64)
    assert built.numerator.shape == (1, 6) and built.channel_axis == -1
    np.testing.assert_allclose(numpy(built(x)), want, rtol=1e-12)


def test_from_coefficients_matches_the_core():
    a, b = np.array([0.1, 1.0, 0.3]), np.array([0.5, 0.2])
    layer = Rational.from_coefficients(a, b, "B", dtype=torch.float64)
    x = torch.linspace(-4, 4, 17, dtype=torch.float64)
    np.testing.assert_allclose(numpy(layer(x)), reference(numpy(x), a, b, "B"), rtol=1e-12)


def test_convert_replaces_activations_with_their_fits():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 8), nn.GELU()),
                          nn.LeakyReLU(0.2), nn.Linear(8, 2))
    originals = [model[1], model[2][1], model[3]]
    convert(model, version="B")
    layers = [model[1], model[2][1], model[3]]
    assert all(isinstance(m, Rational) and m.version == "B" for m in layers)
    assert [m.approx_func for m in layers] == ["relu", "gelu", "LeakyReLU"]
    assert layers[0].numerator is not layers[1].numerator  # independent parameters
    x = torch.linspace(-3, 3, 61)
    for new, old in zip(layers, originals, strict=True):
        assert torch.allclose(new(x), old(x), atol=0.06), new
    assert isinstance(convert(nn.Tanh()), Rational)
    only_relu = convert(nn.Sequential(nn.ReLU(), nn.Tanh()), targets=(nn.ReLU,))
    assert isinstance(only_relu[1], nn.Tanh)


def test_convert_places_parameters_like_the_model():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU()).to(torch.float64)
    convert(model)
    assert model[1].numerator.dtype == torch.float64


def test_import_without_torch_names_the_extra():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "try:\n    import rationals.torch\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'rationals[torch]'" in out.stdout
