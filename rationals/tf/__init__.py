"""TensorFlow adapter: ``rational`` with a memory-lean analytic gradient (eager, tf.function, XLA).

Importing it needs TensorFlow: ``pip install 'rationals[tf]'``.
"""

from __future__ import annotations

from rationals._optional import require

require("tensorflow", "tf")

from .op import rational  # noqa: E402

__all__ = ["rational"]
