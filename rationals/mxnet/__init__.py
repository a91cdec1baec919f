"""MXNet adapter: the Gluon block ``Rational`` and the operator ``rational`` (NDArray or Symbol).

Importing it needs MXNet 1.9 (and numpy < 1.24): ``pip install 'rationals[mxnet]'``. The import
also registers the custom operator ``rationals_rational``, which exported models refer to.
"""

from __future__ import annotations

from rationals._optional import require

require("mxnet", "mxnet")

from .block import Rational  # noqa: E402
from .op import rational  # noqa: E402

__all__ = ["Rational", "rational"]
