"""Cases for the torch tests, built from the shared contract's well-conditioned coefficients."""

from __future__ import annotations

import numpy as np
import torch

from tests.contract.cases import coefficients, inputs

#: One degree pair per version (the contract covers more).
VERSIONS = [("A", (5, 4)), ("B", (4, 4)), ("C", (3, 2)), ("D", (5, 4)), ("N", (3, 2)),
            ("boulle", (3, 2)), ("era", (5, 4))]
#: (name, shape, channel_axis, numerator groups, denominator groups); 0 groups = 1-D shared.
LAYOUTS = [("shared", (3, 5), 1, 0, 0), ("nchw", (2, 4, 2, 3), 1, 2, 4),
           ("kat", (2, 3, 8), -1, 1, 4), ("per-channel", (5, 6), -1, 6, 6)]


def case(version, degrees, shape, numerator_groups=0, denominator_groups=0, seed=0):
    """(x, numerator, denominator) as float64 tensors, well conditioned for ``version``."""
    rng = np.random.default_rng(seed)
    x = inputs(shape, rng)
    a = coefficients(version, degrees, rng, numerator_groups, "numerator")
    b = coefficients(version, degrees, rng, denominator_groups, "denominator")
    return tuple(torch.from_numpy(np.ascontiguousarray(t)) for t in (x, a, b))


def numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy()
