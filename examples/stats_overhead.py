"""Overhead of the input-statistics recorder on a torch Rational (2^20 float32 elements, CPU).

Times, interleaved, as the median and the minimum of several repeats: forward+backward of
``Rational`` (5, 4) version A without and with :func:`rationals.stats.record_torch` attached
(every call recorded, and one call in 10), the recorder's own cost per call (its hook on an
identity module), numpy's ``InputStats.update`` and GELU's forward+backward for scale.
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
    args = _common.parse(p)
    if args.quick:
        args.size, args.repeats = 2**14, 3
    out = _common.output_dir(args, "stats_overhead")

    x = torch.randn(args.size, requires_grad=True)
    plain, recorded, sparse = Rational(), Rational(), Rational()
    record_torch(recorded)
    record_torch(sparse, every=10)
    numpy_stats = InputStats()
    identity = torch.nn.Identity()  # a "rational layer" to the recorder, whose forward is free
    identity.numerator, identity.denominator = plain.numerator, plain.denominator
    record_torch(identity)

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
        "the recorder alone (hook on an identity module)": lambda: identity(x),
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
    rows = []
    for stat in (np.median, np.min):  # the minimum is robust to other load on the machine
        ms = {name: float(stat(t)) * 1e3 for name, t in times.items()}
        base = ms["Rational forward+backward"]
        for name, value in ms.items():
            rows.append([name, stat.__name__, f"{value:.3f}", f"{value / base:.2f}×"])
    table = _common.markdown_table(["case", "over repeats", "ms", "vs Rational alone"], rows)
    intro = (
        f"{args.size} float32 elements, {torch.get_num_threads()} torch thread(s), "
        f"{args.repeats} interleaved repeats; Rational (5, 4) version A, shared."
    )
    _common.write_report(out / "results.md", "Input statistics: overhead", intro, table)


if __name__ == "__main__":
    main()
