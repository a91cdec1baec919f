"""``convert``: replace the activation modules of an existing network by rational ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from .module import Rational, initial_parameters

__all__ = ["DEFAULT_TARGETS", "convert"]

#: Activations replaced by default, with the shipped initialisation that matches each.
DEFAULT_TARGETS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.GELU: "gelu",
    nn.SiLU: "swish",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
}


def _approximated(module: nn.Module) -> str | Callable[[np.ndarray], np.ndarray]:
    """The shipped name for ``module`` when one matches exactly, else the module as a callable."""
    name = DEFAULT_TARGETS.get(type(module))
    if isinstance(module, nn.LeakyReLU) and module.negative_slope != 0.01:
        name = None
    if isinstance(module, nn.GELU) and module.approximate != "none":
        name = None
    if name is not None:
        return name

    def evaluate(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    evaluate.__name__ = type(module).__name__
    return evaluate


def _placement(model: nn.Module) -> dict[str, object]:
    """The device and floating dtype of the model's first parameter (defaults otherwise)."""
    for p in model.parameters():
        if p.is_floating_point():
            return {"device": p.device, "dtype": p.dtype}
    return {}


def convert(
    model: nn.Module,
    targets: Iterable[type[nn.Module]] = tuple(DEFAULT_TARGETS),
    **rational_kwargs: object,
) -> nn.Module:
    """Replace every submodule of a type in ``targets`` by a :class:`Rational`, in place.

    Each new layer has its own coefficients, initialised to the function it replaces (the
    shipped fit for the types of :data:`DEFAULT_TARGETS`; any other activation module, or one
    with non-default settings, is evaluated and fitted on [−3, 3]). ``rational_kwargs`` go to
    :class:`Rational` (``version``, ``degrees``, ``approx_func`` to override the initialisation,
    ...). Parameters are placed on the device and dtype of the model's first parameter.
    Returns ``model``, or a new Rational if ``model`` itself is a target.
    """
    targets = tuple(targets)
    kwargs = {**_placement(model), **rational_kwargs}
    fits: dict[str, tuple] = {}  # fitted coefficients per distinct module (repr), this call only

    def replacement(module: nn.Module) -> Rational:
        if "approx_func" in kwargs:
            return Rational(**kwargs)
        approx = _approximated(module)
        if isinstance(approx, str):
            return Rational(approx, **kwargs)
        key = repr(module)
        if key not in fits:
            version = kwargs.get("version", "A")
            fits[key] = initial_parameters(approx, kwargs.get("degrees"), version)
        numerator, denominator, degrees = fits[key]
        layer = Rational((numerator, denominator), **{**kwargs, "degrees": degrees})
        layer.approx_func = approx.__name__
        return layer

    def walk(parent: nn.Module) -> None:
        for name, child in list(parent.named_children()):
            if isinstance(child, targets):
                setattr(parent, name, replacement(child))
            else:
                walk(child)

    if isinstance(model, targets):
        return replacement(model)
    walk(model)
    return model
