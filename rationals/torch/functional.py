"""The functional form: ``rational(x, numerator, denominator, version, channel_axis=1)``."""

from __future__ import annotations

import torch

from .op import rational_call

__all__ = ["D_NOISE", "rational"]

#: Version D multiplies each denominator coefficient by a draw of U[low, high] in training.
D_NOISE = (0.9, 1.1)


def rational(
    x: torch.Tensor,
    numerator: torch.Tensor,
    denominator: torch.Tensor,
    version: str = "A",
    *,
    channel_axis: int = 1,
    training: bool = False,
) -> torch.Tensor:
    r"""R(x) = P(x) / Q(x) elementwise, differentiable in x and both coefficient tensors.

    P(x) = Σ_i a_i x^i; Q depends on ``version`` (``"A"``: 1 + Σ_j |b_j| |x|^j, ``"B"``:
    1 + |Σ_j b_j x^j|, ``"C"``: 0.1 + |Σ_j b_j x^j|, ``"D"``: B with noise, ``"N"``:
    1 + Σ_j b_j x^j, ``"boulle"``: Σ_j b_j x^j, ``"era"``: partial fractions).

    Coefficients are ascending and 1-D (one function for every element) or ``(G, K)``: channel c
    of ``channel_axis`` uses row c // (C // G); numerator and denominator have their own G.
    Half inputs are computed in float32; the output keeps x's dtype and memory format.

    With ``training=True``, version ``"D"`` multiplies each denominator coefficient by a fresh
    U[0.9, 1.1] draw per call (from torch's default generator, so ``torch.manual_seed`` makes it
    reproducible); otherwise D is exactly B.
    """
    if version == "D" and training:
        noise = torch.empty_like(denominator).uniform_(*D_NOISE)
        denominator = denominator * noise
    return rational_call(x, numerator, denominator, version, channel_axis)
