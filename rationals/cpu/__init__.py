"""Compiled CPU kernels (``kernel.h``) shared by the JAX, TensorFlow and MXNet adapters.

XLA on CPU runs each per-coefficient reduction of the backward as its own slow loop, numpy one
pass per operation; these kernels compute R, or dR/dx and every coefficient gradient, in one
vectorised, multi-threaded pass. Bindings: ``jax_ffi.cc`` (XLA FFI), ``tf_xla.cc`` (TensorFlow's
XLA custom calls) and ``c_api.cc`` (plain C for numpy arrays, :mod:`rationals.cpu.arrays`).
They are C++ sources shipped with the package and built on first use with the system compiler
(``$CXX``, else ``c++``; the torch adapter's compiled CPU path needs one too), cached under
``$RATIONALS_CACHE`` (default ``~/.cache/rationals``) by a hash of the sources, flags, compiler
and CPU. ``RATIONALS_CPU_KERNELS=0`` turns them off (the adapters then use their own ops).
Importing this module imports no framework.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["MAX_DEGREE", "VERSION_CODES", "BuildError", "build", "call_parameters", "enabled",
           "geometry", "row_count", "supports", "table_rows", "unavailable"]

SOURCE_DIR = Path(__file__).parent
FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-w")


class BuildError(RuntimeError):
    """The compiler is missing or failed; the message holds its output."""


def enabled() -> bool:
    """False when ``RATIONALS_CPU_KERNELS=0`` asks for the adapters' own ops instead."""
    return os.environ.get("RATIONALS_CPU_KERNELS", "1") != "0"


def _cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rationals"
    return Path(os.environ.get("RATIONALS_CACHE", default))


def _cpu_id() -> str:
    """What ``-march=native`` depends on: the CPU model and feature flags where Linux says."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    keep = [ln for ln in lines if ln.startswith(("model name", "flags", "Features"))]
    return "\n".join(sorted(set(keep)))


@cache
def build(source: str, include_dirs: tuple[str, ...] = (), link_args: tuple[str, ...] = ()) -> Path:
    """The shared library built from ``source`` (a file next to this module), compiled if needed.

    Raises :class:`BuildError` with the compiler's output when it cannot be built.
    """
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not compiler:
        raise BuildError("no C++ compiler found (set CXX or install g++)")
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise BuildError(f"cannot run the C++ compiler {compiler!r}: {e}") from e
    command = [compiler, *FLAGS, f"-I{SOURCE_DIR}", *(f"-I{d}" for d in include_dirs)]
    key = hashlib.sha256()
    for name in ("kernel.h", "parallel.h", source):
        key.update((SOURCE_DIR / name).read_bytes())
    key.update("\0".join([*command, *link_args, version, _cpu_id(), platform.machine()]).encode())
    name = f"{Path(source).stem}-{key.hexdigest()[:20]}.so"
    out = _cache_dir() / name
    if out.exists():
        return out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # an unwritable home: build into the temporary directory instead
        out = Path(tempfile.gettempdir()) / f"rationals-{os.getuid()}" / name
        out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        target = Path(tmp) / out.name
        done = subprocess.run([*command, str(SOURCE_DIR / source), "-o", str(target), *link_args],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise BuildError(f"building {source} failed:\n{done.stderr[-4000:]}")
        os.replace(target, out)  # atomic: concurrent builders each write a whole file
    return out


#: The C++ enum ``rationals::Version`` (``D`` is evaluated as ``B``).
VERSION_CODES = {"A": 0, "B": 1, "D": 1, "C": 2, "N": 3, "boulle": 4, "era": 5}
#: ``kMaxDegree`` in kernel.h: larger degrees stay on the adapters' own code.
MAX_DEGREE = 32


def supports(n: int, m: int) -> bool:
    """Whether the kernels take degrees (n, m)."""
    return n <= MAX_DEGREE and m <= MAX_DEGREE


def unavailable(v: Any, load: Callable[[], object], fallback: str) -> str | None:
    """Why the kernels cannot serve variant ``v`` here, or None when they can.

    ``load`` builds and loads one binding; its outcome is remembered, so a failed build is tried
    once per process (and warns once, naming the ``fallback`` the adapter uses instead).
    """
    if not enabled():
        return "RATIONALS_CPU_KERNELS=0 turns them off"
    if not supports(v.n, v.m):
        return f"degrees {v.degrees} exceed {MAX_DEGREE}"
    error = _load_error(load)
    if error is None:
        return None
    _warn_once(f"rationals: the compiled CPU kernels are unavailable, using {fallback}: {error}")
    return str(error)


@cache
def _load_error(load: Callable[[], object]) -> BuildError | None:
    try:
        load()
    except BuildError as e:
        return e
    return None


@cache
def _warn_once(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=5)


def table_rows(numerator_shape: Sequence[int], denominator_shape: Sequence[int]) -> int:
    """:func:`row_count` for coefficient arrays of these shapes (``(K,)`` or ``(G, K)``)."""
    return row_count(*(s[0] if len(s) == 2 else 1 for s in (numerator_shape, denominator_shape)))


def call_parameters(v: Any, shape: tuple[int, ...], axis: int | None,
                    rows: int) -> tuple[int, int, int, int, int, int]:
    """What every binding passes besides the arrays: (version code, n, m, outer, rows, inner)."""
    return (VERSION_CODES[v.version], v.n, v.m, *geometry(shape, axis, rows))


def row_count(numerator_groups: int, denominator_groups: int) -> int:
    """Coefficient rows the kernels need: lcm of the group counts (1 for shared coefficients).

    Channels of one such row share every coefficient and sit next to each other, so the kernels
    run over long runs with one coefficient set (fast) instead of one channel per lane.
    """
    return math.lcm(numerator_groups, denominator_groups)


def geometry(shape: tuple[int, ...], axis: int | None, rows: int = 1) -> tuple[int, int, int]:
    """x of ``shape`` viewed as (outer, rows, inner): ``rows`` coefficient rows splitting the
    channel ``axis`` into equal contiguous parts (``rows`` divides the channel count)."""
    size = math.prod(shape)
    if axis is None:
        return 1, 1, size
    per_row = shape[axis] // rows * math.prod(shape[axis + 1:])
    return math.prod(shape[:axis]), rows, per_row
