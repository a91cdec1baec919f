"""Every torch test starts and ends with the default CPU kernel mode ("auto")."""

from __future__ import annotations

import pytest

from rationals.torch import use_compiled_kernels
from rationals.torch.kernels import composed


@pytest.fixture(autouse=True)
def _default_kernel_mode():
    use_compiled_kernels("auto")
    yield
    use_compiled_kernels("auto")
    composed._settings.compiler_failed = False


@pytest.fixture
def inductor_kernels(monkeypatch):
    """CPU inputs take the inductor-compiled kernels: the C++ kernels (the default) are off."""
    monkeypatch.setenv("RATIONALS_CPU_KERNELS", "0")
