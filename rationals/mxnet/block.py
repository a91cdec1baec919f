"""``Rational``: a learnable rational activation as a Gluon ``HybridBlock``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mxnet as mx
import numpy as np
from mxnet import gluon

import rationals.core as core
from rationals.core.variants import check_version, variant_from_sizes

from .op import apply, check_shapes

__all__ = ["Rational"]

#: A shipped target's name, any Python callable to fit, or None for the version's default.
ApproxFunc = str | Callable[..., Any] | None


def _grouped(c: np.ndarray, groups: int, what: str) -> np.ndarray:
    """(K,) for one group, else the same K coefficients repeated as (G, K)."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{what}_groups must be an integer >= 1, got {groups!r}")
    return c if groups == 1 else np.tile(c, (groups, 1))


@mx.init.register
class RationalCoefficients(mx.init.Initializer):
    """Initialises a parameter to the given (nested list of) coefficients; JSON-serialisable."""

    def __init__(self, value: list) -> None:
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, name: str, arr: mx.nd.NDArray) -> None:
        arr[:] = mx.nd.array(self.value, dtype=arr.dtype)


class Rational(gluon.HybridBlock):
    """R(x) = P(x)/Q(x) with learnable ascending coefficients ``numerator`` and ``denominator``.

    Args:
        approx_func: the function the coefficients start from: a shipped target's name, any
            Python callable (fitted on first use) or ``None`` for the version's default (leaky
            ReLU for A/B/C/D/N, Boullé's ReLU fit for ``boulle``, swish for ``era``); see
            :func:`rationals.core.initial_coefficients`.
        degrees: ``(n, m)``; ``None`` means (3, 2) for ``boulle`` and (5, 4) otherwise.
        version: ``A``, ``B``, ``C``, ``D``, ``N``, ``boulle`` or ``era``. ``D`` multiplies each
            denominator coefficient by a fresh U[0.9, 1.1] draw per call under
            ``autograd.is_training()`` and is exactly ``B`` otherwise.
        numerator_groups: 1 gives 1-D shared coefficients ``(K,)``; G > 1 gives ``(G, K)``,
            channel c of ``channel_axis`` using group c // (C // G).
        denominator_groups: the same for the denominator, with its own G.
        channel_axis: the channel axis of the input (1, as in ``nn.PReLU``).

    Works imperatively, after ``hybridize()`` and exported with ``export()`` (reload with
    ``SymbolBlock.imports`` after ``import rationals.mxnet``).
    """

    def __init__(
        self,
        approx_func: ApproxFunc = None,
        degrees: tuple[int, int] | None = None,
        version: str = "A",
        numerator_groups: int = 1,
        denominator_groups: int = 1,
        channel_axis: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_version(version)
        num, den = core.initial_coefficients(approx_func, degrees, version)
        num = _grouped(np.asarray(num, np.float64), numerator_groups, "numerator")
        den = _grouped(np.asarray(den, np.float64), denominator_groups, "denominator")
        if not den.shape[-1]:
            raise ValueError(
                "MXNet 1.x cannot hold a zero-size parameter: degrees (n, 0) need the functional "
                "rationals.mxnet.rational, or a denominator degree m >= 1"
            )
        self.version = version
        self.degrees = variant_from_sizes(version, num.shape[-1], den.shape[-1]).degrees
        self.channel_axis = channel_axis
        with self.name_scope():
            self.numerator = self.params.get(
                "numerator", shape=num.shape, init=RationalCoefficients(num.tolist())
            )
            self.denominator = self.params.get(
                "denominator", shape=den.shape, init=RationalCoefficients(den.tolist())
            )

    def forward(self, x: Any, *args: Any) -> Any:
        """Check the layout against an NDArray input (clear ValueErrors), then run the block."""
        if isinstance(x, mx.nd.NDArray):
            check_shapes(
                self.version, x.shape, self.numerator.shape, self.denominator.shape,
                self.channel_axis,
            )
        return super().forward(x, *args)

    def hybrid_forward(self, F: Any, x: Any, numerator: Any, denominator: Any) -> Any:
        return apply(F, x, numerator, denominator, self.version, self.channel_axis)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(version={self.version!r}, degrees={self.degrees}, "
            f"numerator={self.numerator.shape}, denominator={self.denominator.shape}, "
            f"channel_axis={self.channel_axis})"
        )
