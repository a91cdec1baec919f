"""Timing helpers shared by every benchmark script (framework-free: the caller passes callables).

A timing is only meaningful as a ratio against a baseline measured in the same process. Here the
candidates and the baseline run interleaved, round after round (the order rotates every round so
that no candidate always follows the same one), and each candidate's figure is the median over
rounds of (candidate time / baseline time in that round). Machine-wide slowdowns that last longer
than one round cancel in the per-round ratio.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Measurement",
    "environment",
    "markdown_table",
    "time_interleaved",
    "timed",
    "write_markdown",
]


@dataclass
class Measurement:
    """Seconds per call of one candidate and its per-round ratios to the baseline."""

    name: str
    seconds: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        """Median time of one call, in seconds."""
        return statistics.median(self.seconds)

    @property
    def ratio(self) -> float:
        """Median over rounds of (this candidate's time / the baseline's time)."""
        return statistics.median(self.ratios)

    @property
    def ratio_spread(self) -> tuple[float, float]:
        """Lower and upper quartile of the per-round ratios (how noisy the ratio is)."""
        if len(self.ratios) < 2:
            return (self.ratio, self.ratio)
        q = statistics.quantiles(self.ratios, n=4)
        return (q[0], q[2])


def timed(fn: Callable[[], object], sync: Callable[[], object] | None = None) -> float:
    """Seconds one call of ``fn`` takes (``sync`` waits for asynchronous work, e.g. a GPU)."""
    if sync is not None:
        sync()
    start = time.perf_counter()
    fn()
    if sync is not None:
        sync()
    return time.perf_counter() - start


def time_interleaved(
    candidates: Mapping[str, Callable[[], object]],
    baseline: str,
    *,
    rounds: int = 15,
    warmup: int = 2,
    sync: Callable[[], object] | None = None,
) -> dict[str, Measurement]:
    """Time ``candidates`` (which include ``baseline``) interleaved; see the module docstring.

    Every callable runs ``warmup`` times first (compilation, caches), then once per round.
    """
    if baseline not in candidates:
        raise ValueError(f"baseline {baseline!r} is not one of the candidates {list(candidates)}")
    names = list(candidates)
    for _ in range(warmup):
        for name in names:
            candidates[name]()
    result = {name: Measurement(name) for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        this_round = {name: timed(candidates[name], sync) for name in order}
        for name in names:
            result[name].seconds.append(this_round[name])
            result[name].ratios.append(this_round[name] / this_round[baseline])
    return result


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table (cells formatted with ``str``)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def environment() -> str:
    """One line naming the machine: CPU count, platform and Python version."""
    return (
        f"{os.cpu_count()} CPUs, {platform.machine()} {platform.system()}, "
        f"Python {platform.python_version()}"
    )


def write_markdown(path: str | Path, title: str, body: str) -> Path:
    """Write ``# title`` and ``body`` to ``path`` (parents created); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n\n{body.rstrip()}\n")
    return path
