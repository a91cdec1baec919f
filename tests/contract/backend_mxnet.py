"""MXNet as a backend: ``rationals.mxnet.rational`` (the custom operator) on NDArrays.

Coefficients stay float64; x is cast to the requested dtype. Gradients are recorded with
``train_mode=False`` so that version D is evaluated as B, as the contract expects (its training
noise is tested in tests/mxnet).
"""

from __future__ import annotations

import numpy as np

from rationals._optional import require

mx = require("mxnet", "mxnet")

from rationals.mxnet import rational  # noqa: E402


class MxnetBackend:
    name = "mxnet"
    dtypes = ("float64", "float32", "float16")

    @staticmethod
    def _arrays(x, numerator, denominator, dtype):
        return (
            mx.nd.array(x, dtype=dtype),
            mx.nd.array(numerator, dtype="float64"),
            mx.nd.array(denominator, dtype="float64"),
        )

    def forward(self, x, numerator, denominator, version, channel_axis, dtype):
        xs, a, b = self._arrays(x, numerator, denominator, dtype)
        y = rational(xs, a, b, version, channel_axis=channel_axis)
        return y.asnumpy().astype(np.float64)

    def backward(self, x, numerator, denominator, grad, version, channel_axis, dtype):
        arrays = self._arrays(x, numerator, denominator, dtype)
        with_grad = [t for t in arrays if t.size]  # MXNet cannot attach a gradient to size 0
        for t in with_grad:
            t.attach_grad()
        with mx.autograd.record(train_mode=False):
            y = rational(*arrays, version, channel_axis=channel_axis)
        y.backward(mx.nd.array(grad, dtype=dtype))
        return tuple(
            t.grad.asnumpy().astype(np.float64) if t.size else np.zeros(t.shape) for t in arrays
        )
