"""The torch adapter as contract backends: eager calls, and a module compiled with torch.compile.

``TorchBackend`` calls :func:`rationals.torch.rational` (the custom op; on the CPU the compiled
C++ kernels of :mod:`rationals.cpu`). ``ComposedTorchBackend`` does the same without them and
without inductor: the composed eager path of machines without a compiler and of other devices.
``CompiledTorchBackend`` runs a :class:`rationals.torch.Rational` holding the case's coefficients
inside ``torch.compile(fullgraph=True, dynamic=True)``: one compiled call per version,
coefficient shape, channel axis and dtype, each with its own code object (so its own dynamo
recompile budget). Dynamo wraps errors raised while tracing; the adapter's own ValueError is
unwrapped.
"""

from __future__ import annotations

import os
import types

import numpy as np
import torch

from rationals.torch import Rational, rational, use_compiled_kernels


def _tensor(x: np.ndarray, dtype: str) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, np.float64)).to(getattr(torch, dtype))


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy()


class TorchBackend:
    name = "torch"
    dtypes = ("float64", "float32", "float16", "bfloat16")

    def forward(self, x, numerator, denominator, version, channel_axis, dtype):
        a, b = _tensor(numerator, "float64"), _tensor(denominator, "float64")
        y = rational(_tensor(x, dtype), a, b, version, channel_axis=channel_axis)
        return _numpy(y)

    def backward(self, x, numerator, denominator, grad, version, channel_axis, dtype):
        xt = _tensor(x, dtype).requires_grad_()
        a = _tensor(numerator, "float64").requires_grad_()
        b = _tensor(denominator, "float64").requires_grad_()
        rational(xt, a, b, version, channel_axis=channel_axis).backward(_tensor(grad, dtype))
        return _numpy(xt.grad), _numpy(a.grad), _numpy(b.grad)


class ComposedTorchBackend(TorchBackend):
    name = "torch-composed"

    def _composed(self, method, *args):
        saved = os.environ.get("RATIONALS_CPU_KERNELS")
        os.environ["RATIONALS_CPU_KERNELS"] = "0"
        use_compiled_kernels("never")
        try:
            return method(self, *args)
        finally:
            use_compiled_kernels("auto")
            if saved is None:
                del os.environ["RATIONALS_CPU_KERNELS"]
            else:
                os.environ["RATIONALS_CPU_KERNELS"] = saved

    def forward(self, *args):
        return self._composed(TorchBackend.forward, *args)

    def backward(self, *args):
        return self._composed(TorchBackend.backward, *args)


def _unwrapped(err: Exception) -> Exception:
    """The ValueError that dynamo wrapped while tracing, if any."""
    cause = err
    while cause is not None and not isinstance(cause, ValueError):
        cause = cause.__cause__ or cause.__context__
    return cause or err


class CompiledTorchBackend:
    name = "torch-compiled"
    dtypes = ("float64", "float32", "float16", "bfloat16")

    def __init__(self) -> None:
        self._compiled: dict[tuple, tuple[Rational, object]] = {}

    def _layer(self, numerator, denominator, version, channel_axis, dtype):
        a, b = _tensor(numerator, "float64"), _tensor(denominator, "float64")
        key = (version, tuple(a.shape), tuple(b.shape), channel_axis, dtype)
        if key not in self._compiled:
            layer = Rational.from_coefficients(
                a, b, version, channel_axis=channel_axis, dtype=torch.float64
            ).eval()  # version D is deterministic (B) in eval mode, as the contract expects

            def call(x):
                return layer(x)

            name = f"compiled_rational_{len(self._compiled)}"
            code = call.__code__.replace(co_name=name)
            fresh = types.FunctionType(code, call.__globals__, name, None, call.__closure__)
            self._compiled[key] = (layer, torch.compile(fresh, fullgraph=True, dynamic=True))
        layer, compiled = self._compiled[key]
        with torch.no_grad():
            layer.numerator.copy_(a.reshape(layer.numerator.shape))
            layer.denominator.copy_(b.reshape(layer.denominator.shape))
        layer.zero_grad(set_to_none=True)
        return layer, compiled

    def _run(self, compiled, x):
        try:
            return compiled(x)
        except Exception as err:
            raise _unwrapped(err) from err

    def forward(self, x, numerator, denominator, version, channel_axis, dtype):
        _, compiled = self._layer(numerator, denominator, version, channel_axis, dtype)
        return _numpy(self._run(compiled, _tensor(x, dtype)))

    def backward(self, x, numerator, denominator, grad, version, channel_axis, dtype):
        layer, compiled = self._layer(numerator, denominator, version, channel_axis, dtype)
        xt = _tensor(x, dtype).requires_grad_()
        self._run(compiled, xt).backward(_tensor(grad, dtype))
        return (
            _numpy(xt.grad),
            _numpy(layer.numerator.grad).reshape(np.shape(numerator)),
            _numpy(layer.denominator.grad).reshape(np.shape(denominator)),
        )
