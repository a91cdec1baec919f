"""Initial coefficients: shipped minimax fits on [−3, 3], fitted on the fly (and cached) otherwise.

``tables.json`` beside this file holds, for every function of :data:`APPROX_FUNCS` but identity,
every version of :data:`TABLE_VERSIONS` and every degree pair of :data:`TABLE_DEGREES` (ERA:
:data:`ERA_TABLE_DEGREES`), the result of :func:`rationals.core.init.fit` on :data:`DOMAIN`.
``python -m rationals.core.init.make_tables`` regenerates it. ``D`` uses ``B``'s coefficients
(it evaluates as B). ``identity`` is exact for every version and is not stored.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from ..variants import C_OFFSET, Variant, check_version, variant
from .functions import APPROX_FUNCS, canonical_name, target

__all__ = [
    "APPROX_FUNCS",
    "BOULLE_RELU",
    "DOMAIN",
    "ERA_TABLE_DEGREES",
    "TABLE_DEGREES",
    "TABLE_PATH",
    "TABLE_VERSIONS",
    "default_approx_func",
    "default_degrees",
    "initial_coefficients",
]

DOMAIN = (-3.0, 3.0)
TABLE_DEGREES = ((3, 2), (4, 4), (5, 4), (6, 5), (7, 6))
ERA_TABLE_DEGREES = ((3, 2), (5, 4), (7, 6))
TABLE_VERSIONS = ("A", "B", "C", "N", "boulle", "era")
TABLE_PATH = Path(__file__).with_name("tables.json")
#: Boullé, Nakatsukasa & Townsend (NeurIPS 2020): their (3, 2) minimax fit of ReLU on [−1, 1].
BOULLE_RELU = ((0.0218, 0.5, 1.5957, 1.1915), (1.0, 0.0, 2.383))


def default_approx_func(version: str) -> str:
    """The function a version is initialised to by default: swish for era, else leaky_relu.

    (boulle's default with degrees (3, 2) is :data:`BOULLE_RELU`, a ReLU fit; relu otherwise.)
    """
    check_version(version)
    return {"era": "swish", "boulle": "relu"}.get(version, "leaky_relu")


def default_degrees(version: str) -> tuple[int, int]:
    """(3, 2) for boulle, (5, 4) otherwise."""
    check_version(version)
    return (3, 2) if version == "boulle" else (5, 4)


@functools.lru_cache(maxsize=1)
def _table() -> dict:
    with TABLE_PATH.open(encoding="utf-8") as f:
        return json.load(f)["entries"]


def _identity(v: Variant) -> tuple[list[float], list[float]]:
    """R(x) = x exactly: P = x with Q = 1 (C: b_0 = 0.9, so 0.1 + |b_0| = 1; era: c = d = 0)."""
    numerator = [0.0] * v.numerator_size
    denominator = [0.0] * v.denominator_size
    if v.version == "era":
        numerator[0] = 1.0  # a x + b
        denominator[1::2] = [1.0] * (v.m // 2)  # f = 1, far from the ERA_MIN_F bound
        return numerator, denominator
    if v.n < 1:
        raise ValueError("identity needs a numerator degree >= 1")
    numerator[1] = 1.0
    if v.version == "C":
        denominator[0] = 1.0 - C_OFFSET
    elif v.version == "boulle":
        denominator[0] = 1.0
    return numerator, denominator


@functools.lru_cache(maxsize=256)
def _fitted(name: str, version: str, degrees: tuple[int, int]) -> tuple[tuple, tuple]:
    """A fit that is not in the table: computed once per process."""
    from .fit import fit

    result = fit(target(name), degrees, version, DOMAIN)
    return tuple(result.numerator), tuple(result.denominator)


def initial_coefficients(
    approx_func: str | None = None,
    degrees: tuple[int, int] | None = None,
    version: str = "A",
) -> tuple[np.ndarray, np.ndarray]:
    """(numerator, denominator) float64 arrays (fresh copies) that make R ≈ ``approx_func``.

    ``approx_func`` is one of :data:`APPROX_FUNCS` (or ``silu``); ``None`` means the version's
    default (:func:`default_approx_func`; for boulle with degrees (3, 2), Boullé's published
    ReLU fit :data:`BOULLE_RELU`). ``degrees=None`` means :func:`default_degrees`. Degrees that
    are not in the table are fitted on the fly on [−3, 3] (scipy needed) and cached.
    """
    check_version(version)
    v = variant(version, default_degrees(version) if degrees is None else degrees)
    if approx_func is None and version == "boulle" and v.degrees == (3, 2):
        numerator, denominator = BOULLE_RELU
    else:
        name = canonical_name(default_approx_func(version) if approx_func is None else approx_func)
        stored = "B" if version == "D" else version
        entry = _table().get(stored, {}).get(f"{v.n}/{v.m}", {}).get(name)
        if name == "identity":
            numerator, denominator = _identity(v)
        elif entry is None:
            numerator, denominator = _fitted(name, stored, v.degrees)
        else:
            numerator, denominator = entry["numerator"], entry["denominator"]
    return np.array(numerator, dtype=np.float64), np.array(denominator, dtype=np.float64)
