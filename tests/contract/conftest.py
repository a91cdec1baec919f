"""Fixtures of the contract: one parametrisation over every backend that loads here."""

from __future__ import annotations

import pytest

from .backends import REGISTRY, load

_loaded = {}


def _backend(name: str):
    if name not in _loaded:
        _loaded[name] = load(name)
    return _loaded[name]


@pytest.fixture(params=sorted(REGISTRY))
def backend(request):
    b = _backend(request.param)
    if b is None:
        pytest.skip(f"backend {request.param} is not installed in this environment")
    return b
