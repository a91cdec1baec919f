"""Initial coefficients as ``jnp`` arrays, and initialisers of the ``(key, shape, dtype)`` form."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

#: ``init(key, shape, dtype)``: the key is unused (the coefficients are deterministic).
Initializer = Callable[..., jax.Array]


@lru_cache(maxsize=64)  # fresh fits (degrees not in the shipped tables) are slow
def _table(approx_func: str | None, degrees: tuple[int, int] | None, version: str):
    from rationals.core import initial_coefficients as core_initial_coefficients

    return core_initial_coefficients(approx_func, degrees, version)


def _coefficients(approx_func: str | None, degrees: Sequence[int] | None, version: str):
    return _table(approx_func, None if degrees is None else tuple(degrees), version)


def _initializer(values: np.ndarray, name: str) -> Initializer:
    def init(key: jax.Array | None, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        del key
        shape = tuple(shape)
        if len(shape) not in (1, 2) or shape[-1] != values.size:
            raise ValueError(
                f"the {name} initialiser has {values.size} coefficients: it fills shapes "
                f"({values.size},) or (groups, {values.size}), not {shape}"
            )
        return jnp.asarray(np.broadcast_to(values, shape), dtype)

    return init


def initializers(
    approx_func: str | None = None, degrees: Sequence[int] | None = None, version: str = "A"
) -> tuple[Initializer, Initializer]:
    """``(numerator_init, denominator_init)`` for flax and haiku parameters.

    Each is called as ``init(key, shape, dtype)`` with ``shape`` ``(K,)`` or ``(groups, K)``
    (every group starts from the same coefficients); the key is ignored.
    """
    numerator, denominator = _coefficients(approx_func, degrees, version)
    return _initializer(numerator, "numerator"), _initializer(denominator, "denominator")


def parameter_shapes(
    approx_func: str | None = None,
    degrees: Sequence[int] | None = None,
    version: str = "A",
    numerator_groups: int = 1,
    denominator_groups: int = 1,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of (numerator, denominator): 1-D when both group counts are 1, else 2-D."""
    for name, groups in (("numerator", numerator_groups), ("denominator", denominator_groups)):
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{name}_groups must be an integer >= 1, got {groups!r}")
    numerator, denominator = _coefficients(approx_func, degrees, version)
    if numerator_groups == denominator_groups == 1:
        return (numerator.size,), (denominator.size,)
    return (numerator_groups, numerator.size), (denominator_groups, denominator.size)


def initial_coefficients(
    approx_func: str | None = None,
    degrees: Sequence[int] | None = None,
    version: str = "A",
    *,
    numerator_groups: int = 1,
    denominator_groups: int = 1,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    """(numerator, denominator) fitted to ``approx_func``, as ``jnp`` arrays of ``dtype``.

    ``approx_func=None`` and ``degrees=None`` mean the version's defaults (see
    ``rationals.core.initial_coefficients``); the group counts choose the layout as in the
    modules: 1-D when both are 1, ``(groups, K)`` otherwise.
    """
    shapes = parameter_shapes(approx_func, degrees, version, numerator_groups, denominator_groups)
    inits = initializers(approx_func, degrees, version)
    return tuple(init(None, shape, dtype) for init, shape in zip(inits, shapes, strict=True))
