"""Fixtures of the contract: one parametrisation over every backend that loads here.

When ``RATIONALS_REQUIRE_BACKENDS`` names the backends of this environment (the test command sets
it), only those are parameters: the others are not installed here by design, and thousands of
"not installed" skips would hide the skips that matter.
"""

from __future__ import annotations

import pytest

from .backends import REGISTRY, load, required

_loaded = {}


def _backend(name: str):
    if name not in _loaded:
        _loaded[name] = load(name)
    return _loaded[name]


@pytest.fixture(params=sorted(required() or REGISTRY))
def backend(request):
    b = _backend(request.param)
    if b is None:
        pytest.skip(f"backend {request.param} is not installed in this environment")
    return b
