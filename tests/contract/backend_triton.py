"""The Triton kernels (``rationals.torch.kernels.triton_rational``) as a contract backend.

Without a CUDA device the kernels run in Triton's CPU interpreter: ``TRITON_INTERPRET=1`` is set
here (unless already set) before the kernels are first used. It changes nothing for the other
backends: torch's CPU paths never run Triton. In normal use the torch op validates coefficient
values (finite) before it calls the kernels; ``check_coefficients`` stands in for it here.
"""

from __future__ import annotations

import os

import numpy as np
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import triton  # noqa: F401  (an ImportError: this backend is not installed)

from rationals.core.validation import check_coefficients
from rationals.torch.kernels import triton_rational

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _tensor(x: np.ndarray, dtype: str) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, np.float64), device=DEVICE).to(getattr(torch, dtype))


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy()


class TritonBackend:
    name = "triton"
    dtypes = ("float64", "float32", "float16", "bfloat16")

    def _coefficients(self, version, numerator, denominator):
        check_coefficients(version, np.asarray(numerator), np.asarray(denominator))
        return _tensor(numerator, "float64"), _tensor(denominator, "float64")

    def forward(self, x, numerator, denominator, version, channel_axis, dtype):
        a, b = self._coefficients(version, numerator, denominator)
        return _numpy(triton_rational.forward(_tensor(x, dtype), a, b, version, channel_axis))

    def backward(self, x, numerator, denominator, grad, version, channel_axis, dtype):
        a, b = self._coefficients(version, numerator, denominator)
        out = triton_rational.backward(
            _tensor(grad, dtype), _tensor(x, dtype), a, b, version, channel_axis
        )
        return tuple(_numpy(t) for t in out)
