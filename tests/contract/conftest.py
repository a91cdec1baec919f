"""Fixtures of the contract: one parametrisation over every backend that loads here.

When ``RATIONALS_REQUIRE_BACKENDS`` names the backends of this environment (the test command sets
it), only those are parameters: the others are not installed here by design, and thousands of
"not installed" skips would hide the skips that matter.
"""

from __future__ import annotations

import os

import pytest

from .backends import REGISTRY, load

_loaded = {}


def _backend(name: str):
    if name not in _loaded:
        _loaded[name] = load(name)
    return _loaded[name]


_REQUIRED = [n for n in os.environ.get("RATIONALS_REQUIRE_BACKENDS", "").split(",") if n]


@pytest.fixture(params=sorted(_REQUIRED or REGISTRY))
def backend(request):
    b = _backend(request.param)
    if b is None:
        pytest.skip(f"backend {request.param} is not installed in this environment")
    return b
