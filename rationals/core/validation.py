"""Checks of user input with messages that name the valid choices."""

from __future__ import annotations

import numpy as np

from .variants import Variant, variant, variant_from_sizes


def check_coefficients(
    version: str,
    numerator: np.ndarray,
    denominator: np.ndarray,
    degrees: tuple[int, int] | None = None,
) -> Variant:
    """Validate coefficient arrays (1-D shared or 2-D grouped) and return their :class:`Variant`."""
    for name, c in (("numerator", numerator), ("denominator", denominator)):
        if c.ndim not in (1, 2):
            raise ValueError(
                f"{name} must be 1-D (shared) or 2-D (groups, coefficients), got shape {c.shape}"
            )
        if not np.all(np.isfinite(c)):
            raise ValueError(f"{name} coefficients must be finite, got {c}")
    if degrees is None:
        v = variant_from_sizes(version, numerator.shape[-1], denominator.shape[-1])
    else:
        v = variant(version, degrees)
    if numerator.shape[-1] != v.numerator_size:
        raise ValueError(
            f"version {version!r} with degrees {v.degrees} expects {v.numerator_size} numerator "
            f"coefficients, got {numerator.shape[-1]}"
        )
    if denominator.shape[-1] != v.denominator_size:
        raise ValueError(
            f"version {version!r} with degrees {v.degrees} expects {v.denominator_size} "
            f"denominator coefficients, got {denominator.shape[-1]}"
        )
    return v
