"""The backend protocol of the shared test contract, and the registry of backends.

A backend wraps one adapter (or kernel) so that the contract can drive it with numpy arrays:

* ``forward(x, numerator, denominator, version, channel_axis, dtype) -> np.ndarray``
* ``backward(x, numerator, denominator, grad, version, channel_axis, dtype)
  -> (dx, dnumerator, dden)`` as numpy arrays

``x`` and ``grad`` are float64 numpy arrays, cast by the backend to ``dtype`` (one of
``float64``, ``float32``, ``float16``, ``bfloat16``); coefficients are float64 numpy arrays of
shape ``(K,)`` (shared) or ``(G, K)`` (grouped); the backend keeps coefficients in float64 where
it can (float32 otherwise) and returns every result as a float64 numpy array. A backend raises
the adapter's own errors (ValueError) for bad input.
"""

from __future__ import annotations

import importlib
import os
from typing import Protocol

import numpy as np


class Backend(Protocol):
    name: str
    #: dtypes the backend evaluates; float64 enables the 1e-10 parity checks.
    dtypes: tuple[str, ...]

    def forward(
        self,
        x: np.ndarray,
        numerator: np.ndarray,
        denominator: np.ndarray,
        version: str,
        channel_axis: int,
        dtype: str,
    ) -> np.ndarray: ...

    def backward(
        self,
        x: np.ndarray,
        numerator: np.ndarray,
        denominator: np.ndarray,
        grad: np.ndarray,
        version: str,
        channel_axis: int,
        dtype: str,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


#: name -> "module:attribute" of a zero-argument factory returning a Backend.
REGISTRY = {
    "numpy": "tests.contract.backend_numpy:NumpyBackend",
    "torch": "tests.contract.backend_torch:TorchBackend",
    "torch-compiled": "tests.contract.backend_torch:CompiledTorchBackend",
    "torch-composed": "tests.contract.backend_torch:ComposedTorchBackend",
    "triton": "tests.contract.backend_triton:TritonBackend",
    "jax": "tests.contract.backend_jax:JaxBackend",
    "jax-cpu": "tests.contract.backend_jax:JaxCpuBackend",
    "pallas": "tests.contract.backend_jax:PallasBackend",
    "tf": "tests.contract.backend_tf:TfBackend",
    "tf-xla": "tests.contract.backend_tf:TfXlaBackend",
    "mxnet": "tests.contract.backend_mxnet:MxnetBackend",
}


def required() -> list[str]:
    """The backends ``RATIONALS_REQUIRE_BACKENDS`` (comma-separated) says must load here."""
    return [n for n in os.environ.get("RATIONALS_REQUIRE_BACKENDS", "").split(",") if n]


def load(name: str) -> Backend | None:
    """The backend, or None if its module or framework is not installed here.

    ``RATIONALS_REQUIRE_BACKENDS`` (comma-separated) names backends that must load: the test
    command sets it, so that a broken environment fails instead of skipping.
    """
    module, attr = REGISTRY[name].split(":")
    try:
        return getattr(importlib.import_module(module), attr)()
    except ImportError:
        if name in required():
            raise
        return None
