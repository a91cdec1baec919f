"""Import a framework for an adapter, or fail with the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an ImportError naming ``pip install rationals[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"rationals.{extra} needs {module.split('.')[0]}: pip install 'rationals[{extra}]'"
        ) from err
