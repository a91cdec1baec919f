"""The cases of the contract: variants with well-conditioned coefficients, layouts and inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rationals.core import variant

#: (version, degrees) pairs every backend is checked on.
VARIANTS = [
    ("A", (5, 4)),
    ("A", (3, 2)),
    ("A", (7, 6)),
    ("A", (2, 0)),
    ("A", (2, 3)),  # m > n: powers of x up to m in the small branch
    ("B", (5, 4)),
    ("B", (4, 4)),
    ("B", (3, 5)),
    ("C", (5, 4)),
    ("C", (3, 2)),
    ("D", (5, 4)),
    ("N", (5, 4)),
    ("N", (3, 2)),
    ("boulle", (3, 2)),
    ("boulle", (5, 4)),
    ("era", (3, 2)),
    ("era", (5, 4)),
]


@dataclass(frozen=True)
class Layout:
    """A coefficient layout on an input shape: group counts (0 = shared) and the channel axis."""

    name: str
    shape: tuple[int, ...]
    channel_axis: int
    numerator_groups: int
    denominator_groups: int


LAYOUTS = [
    Layout("shared", (3, 7, 5), -1, 0, 0),
    Layout("kat", (2, 5, 8), -1, 1, 4),  # one numerator, 4 denominator groups, channels last
    Layout("grouped-nchw", (2, 4, 3, 3), 1, 2, 4),
    Layout("per-channel", (3, 6), -1, 6, 6),
]


def coefficients(
    version: str, degrees: tuple[int, int], rng: np.random.Generator, groups: int, part: str
) -> np.ndarray:
    """Random coefficients for which Q stays well away from 0 on the sampled inputs.

    N and boulle have no |·| in Q: their denominators are 1 + small terms. ERA's f stay ≥ 0.5.
    """
    v = variant(version, degrees)
    size = v.numerator_size if part == "numerator" else v.denominator_size
    shape = (size,) if groups == 0 else (groups, size)
    c = rng.uniform(-1.0, 1.0, shape)
    if part == "numerator":
        return c
    if version == "era":
        c[..., 1::2] = np.sign(c[..., 1::2]) * (0.5 + np.abs(c[..., 1::2]))
        return c * 2.0
    if version in ("N", "boulle"):
        powers = np.arange(v.denominator_offset, v.m + 1)
        c = 0.3 * c / (4.0**powers) / max(v.m, 1)
        if version == "boulle":
            c[..., 0] = 1.0 + abs(c[..., 0])
    return c


def inputs(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Inputs that visit both branches (|x| ≤ 1 and > 1), the switch point ±1, and 0."""
    x = np.clip(rng.normal(0.0, 1.5, shape), -3.5, 3.5)
    flat = x.reshape(-1)
    special = np.array([0.0, 1.0, -1.0, 1.0 + 1e-9, 2.5, -3.0, 1e-3])
    flat[: min(len(special), flat.size)] = special[: flat.size]
    return x


def huge_elements_case(
    shape: tuple[int, ...], numerator_groups: int, denominator_groups: int, huge: int
) -> tuple[np.ndarray, ...]:
    """(x, a, b, g, positions) for large-input tests of the compiled kernels: normal x with
    ``huge`` elements (at ``positions``) of magnitude 1e4–1e30, past the direct form's bound, and
    A (5, 4) coefficients per group (0 groups: shared) around a well-conditioned set."""
    a0 = np.array([0.02, 0.5, 1.6, 1.2, 0.3, 0.05])
    b0 = np.array([1.2, 0.4, 0.1, 0.9])
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, shape)
    flat = x.reshape(-1)
    positions = rng.choice(flat.size, huge, replace=False)
    flat[positions] = rng.choice([-1, 1], huge) * 10.0 ** rng.uniform(4, 30, huge)
    a = a0 * rng.uniform(0.5, 1.5, (numerator_groups, a0.size) if numerator_groups else a0.shape)
    b = b0 * rng.uniform(0.5, 1.5, (denominator_groups, b0.size) if denominator_groups
                         else b0.shape)
    return x, a, b, rng.normal(size=shape), positions
