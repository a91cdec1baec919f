"""MXNet: forward+backward time and memory of ``rationals.mxnet`` against MXNet's own GELU.

Two ways to build R(x) in MXNet are measured, both evaluating the formulas of
:mod:`rationals.core.math`:

* ``custom op`` — the shipped :class:`rationals.mxnet.Rational`: an ``mx.operator.CustomOp``
  that runs the compiled CPU kernels (:mod:`rationals.cpu.arrays`) and recomputes everything
  from x in its backward; ``custom op, numpy`` is the same operator without a compiler
  (``RATIONALS_CPU_KERNELS=0``): the numpy core block by block;
* ``composed`` — the same formulas composed from ``mxnet.numpy`` operators, differentiated by
  MXNet's autograd (python scalars in ``where`` are made arrays: MXNet 1.9's
  ``where(array, array, scalar)`` has an inverted gradient, apache/mxnet#17893).

Time: one forward+backward on float32 inputs ÷ MXNet's GELU (``nd.LeakyReLU(act_type="gelu")``)
on the same x, in interleaved rounds (``benchmarks/common.py``), median of the per-round ratios.
Memory: resident bytes that the recorded graph holds between forward and backward beyond x and
the output, ÷ x's bytes, in a fresh process per variant (glibc's mmap threshold is fixed there so
that freed temporaries go back to the system).

Usage: ``.venv-mxnet/bin/python benchmarks/bench_mxnet.py [--smoke] [--out PATH]``; writes a
Markdown table (default ``docs/benchmarks/mxnet.md``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import mxnet as mx
import numpy as np
from common import Measurement, environment, markdown_table, time_interleaved, write_markdown
from mxnet import autograd
from mxnet import np as mnp

import rationals
from rationals.core import math as rmath
from rationals.core import variant
from rationals.mxnet import Rational

ROOT = Path(__file__).resolve().parents[1]
VERSION, DEGREES = "A", (5, 4)


class _MxNumpy:
    """The namespace of :mod:`rationals.core.math` over ``mxnet.numpy`` (scalars made arrays)."""

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    abs = staticmethod(mnp.abs)
    zeros_like = staticmethod(mnp.zeros_like)
    ones_like = staticmethod(mnp.ones_like)

    def where(self, cond, a, b):
        a = a if isinstance(a, mnp.ndarray) else mnp.full(cond.shape, a, dtype=self.dtype)
        b = b if isinstance(b, mnp.ndarray) else mnp.full(cond.shape, b, dtype=self.dtype)
        return mnp.where(cond, a, b)


def _coefficients() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, 6), rng.uniform(-1, 1, 4)


@dataclass
class Case:
    """A function of x, its input (gradient attached) and the scope its graph runs in."""

    fn: Callable
    x: Any
    scope: Callable[[], AbstractContextManager] = nullcontext


def _input(n: int) -> mx.nd.NDArray:
    x = mx.nd.array(np.random.default_rng(1).normal(0, 2, n).astype(np.float32))
    x.attach_grad()
    return x


def _gelu(n: int) -> Case:
    return Case(lambda x: mx.nd.LeakyReLU(x, act_type="gelu"), _input(n))


def _custom_op(n: int) -> Case:
    block = Rational(version=VERSION, degrees=DEGREES)
    block.initialize()
    a, b = _coefficients()
    block.numerator.set_data(mx.nd.array(a))
    block.denominator.set_data(mx.nd.array(b))
    return Case(block, _input(n))


def _custom_op_numpy(n: int) -> Case:
    case = _custom_op(n)
    case.scope = lambda: mock.patch.dict(os.environ, {"RATIONALS_CPU_KERNELS": "0"})
    return case


def _np_scope() -> AbstractContextManager:
    stack = ExitStack()
    stack.enter_context(mx.util.np_shape(True))
    stack.enter_context(mx.util.np_array(True))
    return stack


def _composed(n: int) -> Case:
    v = variant(VERSION, DEGREES)
    xp = _MxNumpy("float32")
    effective = rmath.effective_degrees(v, *_coefficients())  # static exponents, as the custom op
    with _np_scope():
        a, b = (mnp.array(c, dtype="float32") for c in _coefficients())
        x = _input(n).as_np_ndarray()
        for t in (a, b, x):
            t.attach_grad()
    return Case(lambda x: rmath.forward(xp, v, x, a, b, effective), x, _np_scope)


VARIANTS = {"gelu": _gelu, "custom op": _custom_op, "custom op, numpy": _custom_op_numpy,
            "composed": _composed}


def _step(case: Case) -> None:
    """One forward and backward (x and both coefficient gradients), waited for."""
    with case.scope():
        with autograd.record():
            y = case.fn(case.x)
        y.backward()
        mx.nd.waitall()


def time_ratios(n: int, rounds: int, names: list[str]) -> dict[str, Measurement]:
    """Interleaved rounds of GELU and ``names`` on float32 x of size n (benchmarks/common.py)."""
    cases = {name: VARIANTS[name](n) for name in ["gelu", *names]}
    runs = {name: partial(_step, case) for name, case in cases.items()}
    return time_interleaved(runs, "gelu", rounds=rounds, warmup=1, sync=mx.nd.waitall)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def held_bytes(name: str, n: int) -> float:
    """(RSS after a recorded forward − RSS before − output bytes) / x bytes, in this process."""
    case = VARIANTS[name](n)
    _step(case)  # load libraries and caches
    gc.collect()
    mx.nd.waitall()  # NDArrays are freed asynchronously by the engine
    with case.scope():
        before = _rss()
        with autograd.record():
            y = case.fn(case.x)
        mx.nd.waitall()
        after = _rss()
        y.backward()
        mx.nd.waitall()
    return (after - before - y.size * 4) / (n * 4)


def _held_in_subprocess(name: str, n: int) -> float:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="65536")
    out = subprocess.run(
        [sys.executable, __file__, "--held", name, "--n", str(n)],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="small sizes, two rounds, no file")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds per size")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "mxnet.md")
    p.add_argument("--held", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.held:
        print(json.dumps(held_bytes(args.held, args.n)))
        return

    sizes = [1 << 14] if args.smoke else [1 << 20, 1 << 21, 1 << 22]
    rounds = 2 if args.smoke else args.rounds
    names = ["custom op", "custom op, numpy", "composed"]
    rows = []
    for n in sizes:
        m = time_ratios(n, rounds, names)
        cells = [f"2^{n.bit_length() - 1}", f"{m['gelu'].median_seconds * 1e3:.1f} ms"]
        for name in names:
            lo, hi = m[name].ratio_spread
            cells.append(f"{m[name].ratio:.3g}× ({lo:.3g}–{hi:.3g})")
        print(" | ".join(cells))
        rows.append(cells)
    mem_n = 1 << 18 if args.smoke else sizes[-1]
    held = {name: _held_in_subprocess(name, mem_n) for name in ["gelu", *names]}
    summary = ", ".join(f"{k} {v:.2f}" for k, v in held.items())
    print(f"held beyond x and output (÷ x bytes): {summary}")
    if args.smoke:
        return

    command = " ".join([".venv-mxnet/bin/python benchmarks/bench_mxnet.py", *sys.argv[1:]])
    body = "\n".join([
        f"`{command}`",
        "",
        f"rationals {rationals.__version__}, MXNet {mx.__version__}, numpy {np.__version__}; "
        f"{environment()} (shared with other jobs: noisy).",
        "",
        f"Version {VERSION}, degrees {DEGREES}, float32. One forward+backward (dL/dx and both "
        f"coefficient gradients) ÷ MXNet's GELU forward+backward (`nd.LeakyReLU(act_type="
        f"'gelu')`) on the same x; median over {rounds} interleaved rounds of the per-round "
        f"ratio (lower–upper quartile in brackets).",
        "",
        markdown_table(
            ["n", "GELU time", "custom op (shipped)", "custom op without a compiler (numpy)",
             "composed `mxnet.numpy` + autograd"], rows
        ),
        f"Memory the recorded graph holds between forward and backward beyond x and the output, "
        f"÷ x's bytes (n = 2^{mem_n.bit_length() - 1}, resident set size; the custom op's "
        f"backward depends on x, the coefficients and dL/dy only, so what it saves is x "
        f"itself):",
        "",
        markdown_table(
            ["GELU", "custom op (shipped)", "custom op, numpy", "composed"],
            [[f"{held[k]:.2f}" for k in ["gelu", *names]]],
        ),
    ])
    print(f"wrote {write_markdown(args.out, 'MXNet benchmark', body)}")


if __name__ == "__main__":
    main()
