"""Overhead of the input-statistics recorder on a torch Rational (2^20 float32 elements, CPU).

Times, interleaved and as the median of several repeats: forward+backward of ``Rational`` (5, 4)
version A without and with :func:`rationals.stats.record_torch` attached (every call recorded,
and one call in 10), the recorder's own cost per call (the difference), numpy's
``InputStats.update`` and GELU's forward+backward for scale.
Writes ``results.md``.

    python examples/stats_overhead.py [--quick] [--size 1048576] [--repeats 30]
"""

from __future__ import annotations

import time
from collections.abc import Callable

import _common
import numpy as np
import torch

from rationals.stats import InputStats, record_torch
from rationals.torch import Rational


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--size", type=int, default=2**20)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    if args.quick:
        args.size, args.repeats = 2**14, 3
    out = _common.output_dir(args, "stats_overhead")

    x = torch.randn(args.size, requires_grad=True)
    plain, recorded, sparse = Rational(), Rational(), Rational()
    record_torch(recorded)
    record_torch(sparse, every=10)
    numpy_stats = InputStats()

    def step(module: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            module(x).sum().backward()

        return run

    def gelu() -> None:
        torch.nn.functional.gelu(x).sum().backward()

    cases = {
        "GELU forward+backward": gelu,
        "Rational forward+backward": step(plain),
        "… with record_torch": step(recorded),
        "… with record_torch(every=10)": step(sparse),
        "InputStats.update (numpy, for comparison)": lambda: numpy_stats.update(x.detach()),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up (compilation, allocations)
        fn()
    for _ in range(args.repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(t)) * 1e3 for name, t in times.items()}
    base = medians["Rational forward+backward"]
    rows = [[name, f"{ms:.3f}", f"{ms / base:.2f}×"] for name, ms in medians.items()]
    cost = medians["… with record_torch"] - base
    rows.append(["recorder's own cost per call (difference)", f"{cost:.3f}", f"{cost / base:.2f}×"])
    table = _common.markdown_table(["case", "ms (median)", "vs Rational alone"], rows)
    intro = (
        f"{args.size} float32 elements, {torch.get_num_threads()} torch thread(s), "
        f"{args.repeats} interleaved repeats; Rational (5, 4) version A, shared."
    )
    _common.write_report(out / "results.md", "Input statistics: overhead", intro, table)


if __name__ == "__main__":
    main()
