"""PyTorch on CPU: forward+backward of ``rationals.torch`` against torch's own GELU.

Every row times one forward and backward (``torch.autograd.grad`` of the output against x and
the coefficients, so no ``.grad`` accumulation pass) of a ``Rational`` layer, interleaved with
eager ``torch.nn.functional.gelu`` on an input of the same size and dtype, and reports the median
over rounds of the per-round ratio (:mod:`common`). The "compiled" rows compile the layer and the
GELU with ``torch.compile`` and compare with both. Saved bytes: tensors kept for backward
(``torch.autograd.graph.saved_tensors_hooks``) divided by the input's bytes. First call: seconds
of the first forward+backward in a fresh process (inductor's on-disk caches off = cold, on = warm).

Usage: ``.venv/bin/python benchmarks/bench_torch_cpu.py [--smoke] [--threads 2] [--out PATH]``;
writes a Markdown table (default ``docs/benchmarks/torch_cpu.md``; ``--smoke``: a tiny run that
only checks that every path works, written under ``outputs/``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from common import environment, markdown_table, time_interleaved, write_markdown

from rationals.torch import Rational, use_compiled_kernels

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    """One configuration: the layer, the input shape and dtype, and how the kernels run."""

    name: str
    numel: int
    layer: Callable[[], Rational] = Rational
    shape: Callable[[int], tuple[int, ...]] = lambda n: (n,)
    dtype: torch.dtype = torch.float32
    kernels: str = "auto"
    cpp: bool = True  # False: RATIONALS_CPU_KERNELS=0 (inductor-compiled or composed kernels)
    compiled: bool = False
    result: dict = field(default_factory=dict)


def _grad_step(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, params, g):
    def step():
        torch.autograd.grad(fn(x), [x, *params], g)

    return step


def _saved_ratio(layer: Rational, x: torch.Tensor) -> float:
    saved = {}

    def pack(t):
        saved[(t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))] = t.nbytes
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        layer(x)
    return sum(saved.values()) / x.nbytes


def measure(row: Row, rounds: int) -> None:
    """Time ``row`` against eager GELU (and compiled GELU for compiled rows)."""
    use_compiled_kernels(row.kernels)
    os.environ["RATIONALS_CPU_KERNELS"] = "1" if row.cpp else "0"
    torch.manual_seed(0)
    x = torch.randn(row.shape(row.numel), dtype=row.dtype).requires_grad_()
    g = torch.randn_like(x)
    layer = row.layer()
    params = [p for p in layer.parameters() if p.requires_grad]
    gelu = torch.nn.functional.gelu
    candidates = {
        "gelu": _grad_step(gelu, x, [], g),
        "relu": _grad_step(torch.relu, x, [], g),
        "rational": _grad_step(torch.compile(layer) if row.compiled else layer, x, params, g),
    }
    if row.compiled:
        candidates["compiled gelu"] = _grad_step(torch.compile(gelu), x, [], g)
    times = time_interleaved(candidates, "gelu", rounds=rounds, warmup=2)
    r = times["rational"]
    row.result = {
        "ms": r.median_seconds * 1e3,
        "ratio": r.ratio,
        "spread": r.ratio_spread,
        "relu": times["relu"].ratio,
        "saved": _saved_ratio(layer, x),
    }
    if row.compiled:
        per_round = [a / b for a, b in zip(r.seconds, times["compiled gelu"].seconds, strict=True)]
        row.result["vs compiled gelu"] = sorted(per_round)[len(per_round) // 2]


FIRST_CALL = """
import time, torch
torch.set_num_threads({threads})
from rationals.torch import Rational, use_compiled_kernels
use_compiled_kernels("always")
x = torch.randn({numel}, requires_grad=True)
start = time.perf_counter()
Rational()(x).sum().backward()
print(time.perf_counter() - start)
"""


def first_call_seconds(threads: int, numel: int, cold: bool, cpp: bool) -> float:
    """Seconds of the first forward+backward in a fresh process (building included): with the
    C++ kernels (cold: an empty build cache) or the inductor ones (cold: inductor caches off)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), RATIONALS_CPU_KERNELS="1" if cpp else "0")
    if cold and cpp:
        env["RATIONALS_CACHE"] = tempfile.mkdtemp()
    elif cold:
        env["TORCHINDUCTOR_FORCE_DISABLE_CACHES"] = "1"
    code = FIRST_CALL.format(threads=threads, numel=numel)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def rows(n: int, smoke: bool) -> list[Row]:
    """The configurations of the table (``n`` elements unless the row says otherwise)."""
    kat = {"numerator_groups": 1, "denominator_groups": 8, "channel_axis": -1}

    def tokens(k: int) -> tuple[int, int, int]:  # (B, L, 1024), channels last
        length = max(min(256, k // 1024), 1)
        return (max(k // (1024 * length), 1), length, 1024)

    def images(k: int) -> tuple[int, int, int, int]:  # (B, 64, H, W)
        side = 32 if k >= 64 * 32 * 32 else 8
        return (max(k // (64 * side * side), 1), 64, side, side)

    out = [
        Row("Rational A (5, 4), eager call", n),
        Row("compiled model (torch.compile)", n, compiled=True),
        Row("without the C++ kernels: inductor-compiled", n, kernels="always", cpp=False),
        Row("without any compiler: composed eager ops", n, kernels="never", cpp=False),
        Row("KAT layout (1, 6)/(8, 4), (B, L, 1024)", n, lambda: Rational(**kat), tokens),
        Row("NCHW, per-channel (64, 6)/(64, 4)", n,
            lambda: Rational(numerator_groups=64, denominator_groups=64), images),
        Row("degrees (3, 2)", n, lambda: Rational(degrees=(3, 2))),
        Row("degrees (7, 6)", n, lambda: Rational(degrees=(7, 6))),
        Row("version B", n, lambda: Rational(version="B")),
        Row("version era (5, 4)", n, lambda: Rational(version="era")),
        Row("float16 input", n, dtype=torch.float16),
        Row("bfloat16 input", n, dtype=torch.bfloat16),
        Row(f"2^{(n // 4).bit_length() - 1} elements", n // 4),
        Row("small input, 64×64 (per-call costs)", 4096, shape=lambda k: (64, 64)),
    ]
    if not smoke:
        out.append(Row(f"2^{(n * 4).bit_length() - 1} elements", n * 4))
    return out


def _cell(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def table(measured: list[Row]) -> str:
    headers = ["case", "elements", "dtype", "fwd+bwd ms", "÷ eager GELU (IQR)",
               "÷ compiled GELU", "ReLU ÷ GELU", "saved bytes ÷ input"]
    body = []
    for row in measured:
        r = row.result
        lo, hi = r["spread"]
        body.append([
            row.name, f"2^{row.numel.bit_length() - 1}", str(row.dtype).replace("torch.", ""),
            _cell(r["ms"], 1), f"**{_cell(r['ratio'])}** ({_cell(lo)}–{_cell(hi)})",
            _cell(r["vs compiled gelu"]) if "vs compiled gelu" in r else "",
            _cell(r["relu"]), _cell(r["saved"]),
        ])
    return markdown_table(headers, body)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes and rounds (checks only)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    n = 2**12 if args.smoke else 2**22
    rounds = args.rounds or (3 if args.smoke else 15)
    measured = []
    for i, row in enumerate(rows(n, args.smoke)):
        if args.smoke and i == 0:
            row.kernels = "always"  # tiny inputs run eagerly: exercise the compiled path once
        start = time.perf_counter()
        measure(row, rounds)
        print(f"{row.name}: ×{row.result['ratio']:.2f} eager GELU "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
        measured.append(row)
    body = table(measured)
    if not args.smoke:
        first = {(cpp, cold): first_call_seconds(args.threads, 2**16, cold, cpp)
                 for cpp in (True, False) for cold in (True, False)}
        body += ("\nFirst forward+backward in a fresh process, A (5, 4) float32: C++ kernels "
                 f"{first[True, True]:.2f} s with an empty build cache (builds them), "
                 f"{first[True, False]:.2f} s once built; inductor kernels (without the C++ "
                 f"ones) {first[False, True]:.2f} s with inductor's caches off, "
                 f"{first[False, False]:.2f} s with them warm.\n")
    body = (f"Machine: {environment()}, torch {torch.__version__}, {args.threads} threads. "
            f"Each ratio: median over {rounds} interleaved rounds of (time / time of eager "
            "GELU in the same round); IQR in parentheses. Command: "
            f"`python benchmarks/bench_torch_cpu.py{' --smoke' if args.smoke else ''}`.\n\n"
            + body)
    out = args.out or (ROOT / ("outputs/benchmarks/torch_cpu_smoke.md" if args.smoke
                               else "docs/benchmarks/torch_cpu.md"))
    print(body)
    print(f"wrote {write_markdown(out, 'PyTorch on CPU: Rational vs GELU', body)}")


if __name__ == "__main__":
    main()
