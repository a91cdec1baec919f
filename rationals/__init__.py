"""Learnable rational activation functions R(x) = P(x)/Q(x) for every major framework.

``import rationals`` imports numpy only; each adapter (``rationals.torch``, ``rationals.tf``,
``rationals.keras``, ``rationals.jax``, ``rationals.mxnet``) imports its own framework.
"""

from __future__ import annotations

from typing import Any

from .core import VERSIONS, rational, rational_backward

__version__ = "0.1.0"
__all__ = [
    "VERSIONS",
    "__version__",
    "fit",
    "initial_coefficients",
    "plot",
    "rational",
    "rational_backward",
]


def __getattr__(name: str) -> Any:
    if name in ("fit", "initial_coefficients", "APPROX_FUNCS"):
        from . import core

        return getattr(core, name)
    if name == "plot":
        from .plotting import plot

        return plot
    raise AttributeError(f"module 'rationals' has no attribute {name!r}")
