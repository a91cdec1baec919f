"""Backend-neutral core (numpy only): variants, layouts, the float64 reference and initialisers."""

from __future__ import annotations

from typing import Any

from .layout import channel_groups, check_groups, coefficient_shape, reduce_axes
from .reference import compute_dtype, rational, rational_backward
from .variants import ERA_EPSILON, SAFE_VERSIONS, VERSIONS, Variant, check_version, variant

__all__ = [
    "APPROX_FUNCS",
    "ERA_EPSILON",
    "SAFE_VERSIONS",
    "VERSIONS",
    "FitResult",
    "Variant",
    "channel_groups",
    "check_groups",
    "check_version",
    "coefficient_shape",
    "compute_dtype",
    "fit",
    "initial_coefficients",
    "rational",
    "rational_backward",
    "reduce_axes",
    "variant",
]

_INIT_NAMES = {"fit", "initial_coefficients", "APPROX_FUNCS", "FitResult"}


def __getattr__(name: str) -> Any:  # the fitter pulls in scipy: load it on first use
    if name in _INIT_NAMES:
        from . import init

        return getattr(init, name)
    raise AttributeError(f"module 'rationals.core' has no attribute {name!r}")
