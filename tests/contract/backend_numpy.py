"""The numpy core as a backend: checks the contract's own plumbing and float32/half evaluation."""

from __future__ import annotations

import numpy as np

from rationals.core import rational, rational_backward

try:
    from ml_dtypes import bfloat16
except ImportError:  # .venv-mxnet has no ml_dtypes
    bfloat16 = None


class NumpyBackend:
    name = "numpy"
    dtypes = ("float64", "float32", "float16") + (("bfloat16",) if bfloat16 else ())

    @staticmethod
    def _cast(x: np.ndarray, dtype: str) -> np.ndarray:
        return x.astype(bfloat16 if dtype == "bfloat16" else dtype)

    def forward(self, x, numerator, denominator, version, channel_axis, dtype):
        y = rational(
            self._cast(x, dtype), numerator, denominator, version, channel_axis=channel_axis
        )
        return y.astype(np.float64)

    def backward(self, x, numerator, denominator, grad, version, channel_axis, dtype):
        dx, da, db = rational_backward(
            self._cast(x, dtype),
            numerator,
            denominator,
            self._cast(grad, dtype),
            version,
            channel_axis=channel_axis,
        )
        return dx.astype(np.float64), da, db
