"""The activation functions that initialisers approximate, in float64 numpy."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "ALIASES",
    "APPROX_FUNCS",
    "canonical_name",
    "gelu",
    "identity",
    "leaky_relu",
    "relu",
    "sigmoid",
    "swish",
    "target",
]

#: Names accepted by :func:`rationals.core.initial_coefficients` (``silu`` is an alias of swish).
APPROX_FUNCS = ("leaky_relu", "relu", "gelu", "swish", "tanh", "sigmoid", "identity")
ALIASES = {"silu": "swish"}
#: Slope of ``leaky_relu`` for x < 0 (PyTorch's default).
LEAKY_SLOPE = 0.01

_erf = np.vectorize(math.erf, otypes=[np.float64])


def leaky_relu(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0.0, x, LEAKY_SLOPE * x)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact GELU x Φ(x) = x (1 + erf(x/√2))/2."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow of exp(−x)


def swish(x: np.ndarray) -> np.ndarray:
    return x * sigmoid(x)


def identity(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


_TARGETS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "leaky_relu": leaky_relu,
    "relu": relu,
    "gelu": gelu,
    "swish": swish,
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "identity": identity,
}


def canonical_name(approx_func: str) -> str:
    """``approx_func`` with aliases resolved, or a ValueError that lists the valid names."""
    name = ALIASES.get(approx_func, approx_func) if isinstance(approx_func, str) else None
    if name not in _TARGETS:
        aliases = ", ".join(f"{a} (= {c})" for a, c in ALIASES.items())
        raise ValueError(
            f"unknown approx_func {approx_func!r}; valid: {', '.join(APPROX_FUNCS)}, {aliases}"
        )
    return name


def target(approx_func: str) -> Callable[[np.ndarray], np.ndarray]:
    """The float64 numpy function named ``approx_func`` (aliases accepted)."""
    return _TARGETS[canonical_name(approx_func)]
