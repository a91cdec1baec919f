"""PyTorch adapter: the :class:`Rational` module, the functional :func:`rational`, :func:`convert`.

``import rationals.torch`` needs PyTorch (``pip install 'rationals[torch]'``).
"""

from rationals._optional import require

require("torch", "torch")

from .checkpoints import from_kat, from_rational_activations  # noqa: E402
from .convert import DEFAULT_TARGETS, convert  # noqa: E402
from .functional import rational  # noqa: E402
from .kernels.composed import use_compiled_kernels  # noqa: E402
from .module import Rational  # noqa: E402

__all__ = [
    "DEFAULT_TARGETS",
    "Rational",
    "convert",
    "from_kat",
    "from_rational_activations",
    "rational",
    "use_compiled_kernels",
]
