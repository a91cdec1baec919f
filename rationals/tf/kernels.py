"""The compiled CPU kernels (:mod:`rationals.cpu`) as XLA custom calls in TensorFlow.

TensorFlow runs a custom call only inside XLA (``tf.function(jit_compile=True)``, which Keras
uses by default): ``tf2xla``'s ``XlaCustomCallV2`` names a target that the library registers with
TensorFlow's XLA when it is loaded. :func:`applies` says when a call can take this path: inside an
XLA context, with static shapes, on a machine without GPUs, and when the kernels build.
Coefficient tables have one row per :func:`rationals.cpu.row_count`, as in the JAX binding.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla as tf2xla
from tensorflow.python.ops import control_flow_util

from rationals import cpu
from rationals.core.variants import Variant

FORWARD, BACKWARD = "rationals_forward", "rationals_backward"
#: x's dtype as tf_xla.cc reads it; float16 and bfloat16 are computed in float32.
DTYPE_CODES = {tf.float32: 0, tf.float64: 1, tf.float16: 2, tf.bfloat16: 3}


@cache
def register() -> None:
    """Build (once per machine) and load the kernels; loading registers the targets.

    Raises :class:`rationals.cpu.BuildError` when they cannot be built.
    """
    lib = tf.sysconfig.get_lib()
    path = cpu.build("tf_xla.cc", (), (f"-L{lib}", "-l:libtensorflow_cc.so.2",
                                        f"-Wl,-rpath,{lib}"))
    ctypes.CDLL(str(path))


@cache
def _gpus() -> bool:
    return bool(tf.config.list_logical_devices("GPU"))


def applies(v: Variant, x: tf.Tensor) -> bool:
    """Whether this call is traced for XLA on the CPU with static shapes, and the kernels serve."""
    in_xla = control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
    return (in_xla and x.shape.is_fully_defined() and not _gpus()
            and cpu.unavailable(v, register, "TensorFlow ops") is None)


def _config(v: Variant, x: tf.Tensor, axis: int | None, rows: int) -> str:
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1
    values = (*cpu.call_parameters(v, tuple(x.shape), axis, rows), threads, DTYPE_CODES[x.dtype])
    return " ".join(map(str, values))


def _rows(a: tf.Tensor, b: tf.Tensor) -> int:
    return cpu.table_rows(a.shape, b.shape)


def _table(c: tf.Tensor, rows: int) -> tf.Tensor:
    if c.shape.rank == 1:
        return tf.broadcast_to(c, (rows, c.shape[0]))
    return tf.repeat(c, rows // c.shape[0], axis=0)


def _untable(d: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
    if c.shape.rank == 1:
        return tf.reduce_sum(d, axis=0)
    groups, k = c.shape
    return tf.reduce_sum(tf.reshape(d, (groups, d.shape[0] // groups, k)), axis=1)


def forward(v: Variant, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, axis: int | None) -> tf.Tensor:
    """R(x) in x's dtype (a key of :data:`DTYPE_CODES`); a and b in x's compute dtype."""
    rows = _rows(a, b)
    (y,) = tf2xla.custom_call_v2(
        FORWARD, (x, _table(a, rows), _table(b, rows)), (tf.TensorSpec(x.shape, x.dtype),),
        has_side_effect=False, backend_config=_config(v, x, axis, rows))
    return y


def backward(v: Variant, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, g: tf.Tensor,
             axis: int | None):
    """(g·dR/dx in x's dtype, Σ g·dR/da, Σ g·dR/db in the coefficients' dtype)."""
    rows = _rows(a, b)
    ta, tb = _table(a, rows), _table(b, rows)
    dx, da, db = tf2xla.custom_call_v2(
        BACKWARD, (x, g, ta, tb),
        (tf.TensorSpec(x.shape, x.dtype), tf.TensorSpec(ta.shape, ta.dtype),
         tf.TensorSpec(tb.shape, tb.dtype)),
        has_side_effect=False, backend_config=_config(v, x, axis, rows))
    return dx, _untable(da, a), _untable(db, b)
