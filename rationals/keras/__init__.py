"""Keras 3 adapter: ``RationalLayer`` on the TensorFlow, JAX and PyTorch backends (and others).

Importing it needs Keras 3: ``pip install 'rationals[keras]'``. On TensorFlow, JAX and PyTorch the
layer runs this package's memory-lean op for that framework; other backends use ``keras.ops``.
"""

from __future__ import annotations

from rationals._optional import require

require("keras", "keras")

from .layer import RationalLayer  # noqa: E402
from .ops import NATIVE_BACKENDS, keras_ops_rational, rational  # noqa: E402

__all__ = ["NATIVE_BACKENDS", "RationalLayer", "keras_ops_rational", "rational"]
