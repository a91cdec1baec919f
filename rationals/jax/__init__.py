"""JAX adapter: the pure function :func:`rational`, initialisers, and flax/nnx/haiku modules.

``rational`` is a ``jax.custom_vjp`` whose backward recomputes everything from x (it saves only x
and the coefficients); it works under ``jit``, ``grad``, ``vmap``, ``remat`` and with sharded
inputs. The modules live in ``rationals.jax.flax`` (linen), ``rationals.jax.nnx`` and
``rationals.jax.haiku``; each imports its own library on first use.

Importing it needs JAX: ``pip install 'rationals[jax]'``.
"""

from __future__ import annotations

from rationals._optional import require

require("jax", "jax")

from .init import initial_coefficients, initializers  # noqa: E402
from .op import IMPLEMENTATIONS, PALLAS_PLATFORMS, rational  # noqa: E402

__all__ = [
    "IMPLEMENTATIONS", "PALLAS_PLATFORMS", "initial_coefficients", "initializers", "rational",
]
