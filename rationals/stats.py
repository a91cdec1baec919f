"""Opt-in recorders of the inputs a rational layer sees: a fixed-bin histogram and moments.

:class:`InputStats` keeps, for a stream of arrays, a histogram over fixed bins (plus the
counts below and above them and of NaNs), the count, sum, sum of squares, min and max. Call
:meth:`InputStats.snapshot` at the end of an epoch to keep a frozen copy (with the layer's
coefficients, when known) and start afresh; :func:`rationals.plotting.plot_evolution` draws
the snapshots.

Framework glue, each importing its framework only when called:

* :func:`record_torch`: forward pre-hooks on a torch model's rational modules; the statistics are
  accumulated on the input's device without synchronising, and read back lazily.
* :func:`record_jax`: inside ``jit``, reduces an array to its histogram in the graph and sends
  only that summary to the host with ``jax.debug.callback``. Outside ``jit``,
  ``stats.update(x)`` takes a jax array directly.
* :func:`keras_callback`: a Keras callback that, every epoch, runs a fixed probe batch through
  the model and records the inputs of each rational layer (no cost during ``fit`` itself).

Binning: a value x goes to bin ``floor((x − lo) · bins / (hi − lo))``; values below ``lo`` count
as underflow, values at or above ``hi`` as overflow. Sums are accumulated in float64 (per call in
the input's precision, at least float32), so ``std`` is accurate to about 1e-6 relative for
inputs whose mean is not many standard deviations away from zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .plotting import collect_layers, to_numpy

__all__ = ["InputStats", "Recorder", "Snapshot", "keras_callback", "record_jax", "record_torch"]


@dataclass
class Snapshot:
    """A frozen copy of :class:`InputStats` (and optionally of the layer's coefficients)."""

    label: str
    edges: np.ndarray
    counts: np.ndarray
    underflow: int
    overflow: int
    nan: int
    count: int
    total: float
    total_sq: float
    min: float
    max: float
    numerator: np.ndarray | None = None
    denominator: np.ndarray | None = None
    version: str | None = None

    @property
    def mean(self) -> float:
        """Mean of the recorded inputs (NaN when none)."""
        return self.total / self.count if self.count else float("nan")

    @property
    def std(self) -> float:
        """Population standard deviation of the recorded inputs."""
        if not self.count:
            return float("nan")
        return float(np.sqrt(max(self.total_sq / self.count - self.mean**2, 0.0)))


@dataclass
class InputStats:
    """Fixed-bin histogram and moments of every array passed to :meth:`update`.

    Args:
        bins: number of equal-width bins.
        range: ``(lo, hi)`` covered by the bins; values outside count as under/overflow.
    """

    bins: int = 64
    range: tuple[float, float] = (-6.0, 6.0)
    history: list[Snapshot] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        lo, hi = map(float, self.range)
        if not hi > lo or self.bins < 1:
            raise ValueError(
                f"need bins >= 1 and lo < hi, got bins={self.bins}, range={self.range}"
            )
        self.range = (lo, hi)
        self.edges = np.linspace(lo, hi, self.bins + 1)
        self._scale = self.bins / (hi - lo)
        self._sources: list[Callable[[], None]] = []
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded since the last snapshot (the history stays)."""
        self._pull()
        self._counts = np.zeros(self.bins + 3, dtype=np.int64)  # under, bins..., over, nan
        self._count = 0
        self._total = self._total_sq = 0.0
        self._min, self._max = float("inf"), float("-inf")

    # -- accumulation ------------------------------------------------------------------------
    def bin_index(self, x: np.ndarray) -> np.ndarray:
        """Index into ``[underflow, bin_0, …, bin_{B−1}, overflow, nan]`` of every element."""
        t = np.clip((x - self.range[0]) * self._scale + 1.0, 0.0, self.bins + 1.0)
        return np.where(np.isnan(t), self.bins + 2.0, t).astype(np.intp)

    def update(self, x: Any) -> None:
        """Record the elements of ``x`` (numpy, jax, torch, tf: whatever :func:`to_numpy` takes)."""
        x = to_numpy(x).ravel()
        if x.size == 0:
            return
        counts = np.bincount(self.bin_index(x), minlength=self.bins + 3)
        with np.errstate(over="ignore", invalid="ignore"):  # inf inputs give inf/NaN moments
            self.add(counts, x.size, float(x.sum()), float(x @ x), float(x.min()), float(x.max()))

    def add(
        self, counts: Any, count: int, total: float, total_sq: float, minimum: float, maximum: float
    ) -> None:
        """Merge a partial result computed elsewhere (on a device, in a graph).

        ``counts`` has ``bins + 3`` entries: underflow, the bins, overflow, NaN.
        """
        self._counts += np.asarray(counts, dtype=np.int64).reshape(-1)
        self._count += int(count)
        self._total += float(total)
        self._total_sq += float(total_sq)
        self._min = min(self._min, float(minimum)) if not np.isnan(minimum) else float("nan")
        self._max = max(self._max, float(maximum)) if not np.isnan(maximum) else float("nan")

    def _pull(self) -> None:
        for source in self._sources:
            source()

    # -- reading -----------------------------------------------------------------------------
    def summary(self, label: str = "") -> Snapshot:
        """The current statistics as a :class:`Snapshot` (a copy)."""
        self._pull()
        c = self._counts
        return Snapshot(
            label,
            self.edges.copy(),
            c[1:-2].copy(),
            int(c[0]),
            int(c[-2]),
            int(c[-1]),
            self._count,
            self._total,
            self._total_sq,
            self._min,
            self._max,
        )

    def snapshot(self, label: str | None = None, layer: Any = None, reset: bool = True) -> Snapshot:
        """Append the current statistics to :attr:`history` and (by default) start afresh.

        ``layer`` (any backend, or raw coefficients) stores its coefficients with the snapshot so
        that :func:`rationals.plotting.plot_evolution` can draw how the function moved.
        """
        snap = self.summary(label if label is not None else str(len(self.history)))
        if layer is not None:
            c = next(iter(collect_layers(layer).values()))
            snap.numerator, snap.denominator, snap.version = c.numerator, c.denominator, c.version
        self.history.append(snap)
        if reset:
            self.reset()
        return snap

    @property
    def counts(self) -> np.ndarray:
        """Inputs per bin (a copy)."""
        return self.summary().counts

    @property
    def underflow(self) -> int:
        """Inputs below the first edge."""
        return self.summary().underflow

    @property
    def overflow(self) -> int:
        """Inputs at or above the last edge (+inf included)."""
        return self.summary().overflow

    @property
    def nan(self) -> int:
        """NaN inputs."""
        return self.summary().nan

    @property
    def count(self) -> int:
        """All recorded inputs."""
        return self.summary().count

    @property
    def mean(self) -> float:
        """Mean of the recorded inputs."""
        return self.summary().mean

    @property
    def std(self) -> float:
        """Population standard deviation of the recorded inputs."""
        return self.summary().std

    @property
    def min(self) -> float:
        """Smallest recorded input (NaN if any was NaN)."""
        return self.summary().min

    @property
    def max(self) -> float:
        """Largest recorded input (NaN if any was NaN)."""
        return self.summary().max


class Recorder(Mapping[str, InputStats]):
    """Statistics of several layers by name, with the handles that feed them.

    A mapping ``{layer name: InputStats}``; use it as a context manager (or call :meth:`remove`)
    to detach the hooks.
    """

    def __init__(
        self, stats: dict[str, InputStats], layers: dict[str, Any], remove: Callable[[], None]
    ):
        self._stats, self._layers, self._remove = stats, layers, remove

    def __getitem__(self, name: str) -> InputStats:
        return self._stats[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stats)

    def __len__(self) -> int:
        return len(self._stats)

    def snapshot(self, label: str | None = None, reset: bool = True) -> None:
        """Snapshot every layer's statistics together with its current coefficients."""
        for name, stats in self._stats.items():
            stats.snapshot(label, self._layers.get(name), reset)

    def reset(self) -> None:
        """Reset every layer's current statistics."""
        for stats in self._stats.values():
            stats.reset()

    def remove(self) -> None:
        """Detach from the model; the recorded statistics stay readable."""
        self._remove()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


# -- torch -----------------------------------------------------------------------------------


class _TorchAccumulator:
    """Device-side sums for one layer, pulled into its :class:`InputStats` when read."""

    def __init__(self, stats: InputStats, every: int):
        self.stats, self.every, self.calls = stats, every, 0
        self.parts: list[Any] | None = None
        self.count = 0
        stats._sources.append(self.pull)

    def __call__(self, module: Any, args: tuple) -> None:
        import torch

        self.calls += 1
        if (self.calls - 1) % self.every or not args or not torch.is_tensor(args[0]):
            return
        s = self.stats
        with torch.no_grad():
            x = args[0].detach().reshape(-1)
            if x.numel() == 0:
                return
            if x.dtype not in (torch.float32, torch.float64):
                x = x.float()
            t = torch.mul(x, s._scale).add_(1.0 - s.range[0] * s._scale).clamp_(0.0, s.bins + 1.0)
            idx = t.nan_to_num_(nan=s.bins + 2.0).to(torch.int32)  # one temporary, then int32
            # CUDA's bincount uses atomics, which deterministic mode forbids: count by sorting
            by_sorting = x.is_cuda and torch.are_deterministic_algorithms_enabled()
            counts = _count_bins(idx, s.bins + 3, by_sorting)
            lo, hi = torch.aminmax(x)
            parts = [counts, x.sum().double(), torch.dot(x, x).double(), lo.double(), hi.double()]
            if self.parts is None:
                self.parts = parts
            else:
                p = self.parts
                self.parts = [
                    p[0] + parts[0],
                    p[1] + parts[1],
                    p[2] + parts[2],
                    torch.minimum(p[3], parts[3]),
                    torch.maximum(p[4], parts[4]),
                ]
            self.count += x.numel()

    def pull(self) -> None:
        if self.parts is None:
            return
        counts, total, total_sq, lo, hi = (p.cpu().numpy() for p in self.parts)
        self.parts, count, self.count = None, self.count, 0
        self.stats.add(counts, count, float(total), float(total_sq), float(lo), float(hi))


def _count_bins(idx: Any, size: int, by_sorting: bool) -> Any:
    """Occurrences of 0..size−1 in the int32 tensor ``idx``, by bincount or by sorting."""
    import torch

    if not by_sorting:
        return torch.bincount(idx, minlength=size)
    bounds = torch.arange(size + 1, device=idx.device, dtype=torch.int32)
    return torch.searchsorted(idx.sort().values, bounds).diff()


def record_torch(
    model: Any,
    *,
    bins: int = 64,
    range: tuple[float, float] = (-6.0, 6.0),
    every: int = 1,
) -> Recorder:
    """Record the inputs of every rational module of a torch ``model`` (or of ``model`` itself).

    A forward pre-hook per module bins its first input on its device (a few passes over it, no
    host synchronisation); ``every=k`` records one call in k. Under ``torch.compile`` the hooks
    run eagerly (a graph break around each hooked module). Returns a
    :class:`Recorder` ``{module name: InputStats}``; ``with record_torch(model) as rec: ...``
    removes the hooks on exit.
    """
    modules = {
        name: m
        for name, m in model.named_modules()
        if hasattr(m, "numerator") and hasattr(m, "denominator")
    }
    if not modules:
        raise ValueError("no module with numerator/denominator parameters found")
    import torch

    stats, handles = {}, []
    for name, module in modules.items():
        stats[name] = InputStats(bins, range)
        # eager inside compiled code: a graph break instead of a recompilation per call
        hook = torch.compiler.disable(_TorchAccumulator(stats[name], every))
        handles.append(module.register_forward_pre_hook(hook))

    def remove() -> None:
        for h in handles:
            h.remove()

    return Recorder(stats, modules, remove)


# -- JAX -------------------------------------------------------------------------------------


def record_jax(x: Any, stats: InputStats) -> Any:
    """Record ``x`` into ``stats`` from inside ``jax.jit``; returns ``x`` unchanged.

    The histogram and sums are computed in the graph; only ``bins + 8`` numbers go to the host,
    through ``jax.debug.callback`` (so use it in the forward pass, not under ``vmap``). Outside
    ``jit``, ``stats.update(x)`` is simpler.
    """
    import jax
    import jax.numpy as jnp

    xf = jnp.ravel(x).astype(jnp.promote_types(x.dtype, jnp.float32))
    t = jnp.clip((xf - stats.range[0]) * stats._scale + 1.0, 0.0, stats.bins + 1.0)
    idx = jnp.where(jnp.isnan(t), stats.bins + 2, t.astype(jnp.int32))
    counts = jnp.bincount(idx, length=stats.bins + 3)
    parts = (counts, xf.sum(), jnp.vdot(xf, xf), xf.min(), xf.max())

    def add(counts: np.ndarray, total: Any, total_sq: Any, lo: Any, hi: Any) -> None:
        stats.add(counts, xf.size, float(total), float(total_sq), float(lo), float(hi))

    jax.debug.callback(add, *parts)
    return x


# -- Keras -----------------------------------------------------------------------------------


def keras_callback(
    model: Any,
    probe: Any,
    *,
    bins: int = 64,
    range: tuple[float, float] = (-6.0, 6.0),
    every: int = 1,
) -> Any:
    """A ``keras.callbacks.Callback`` recording, every ``every`` epochs, the inputs that a fixed
    ``probe`` batch sends to each rational layer of ``model`` (before the first epoch too).

    Each recording becomes a snapshot labelled ``epoch N``, with the layer's coefficients. The
    callback's ``recorder`` attribute is the :class:`Recorder`. It works with any model and any
    Keras backend: during the probe it wraps each layer's ``call`` to see its input eagerly.
    """
    import keras

    layers = _keras_rational_layers(model)
    if not layers:
        raise ValueError("no layer with numerator/denominator weights found")
    stats = {name: InputStats(bins, range) for name in layers}
    recorder = Recorder(stats, layers, lambda: None)

    def record(label: str) -> None:
        for name, layer in layers.items():  # shadow each layer's call with a recording one

            def call(
                x: Any, *args: Any, _name: str = name, _call: Callable = layer.call, **kw: Any
            ) -> Any:
                stats[_name].update(keras.ops.convert_to_numpy(x))
                return _call(x, *args, **kw)

            object.__setattr__(layer, "call", call)
        try:
            model(probe, training=False)
        finally:
            for layer in layers.values():
                object.__delattr__(layer, "call")
        recorder.snapshot(label)

    class InputStatsCallback(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            record("start")

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if (epoch + 1) % every == 0:
                record(f"epoch {epoch + 1}")

    callback = InputStatsCallback()
    callback.recorder = recorder
    return callback


def _keras_rational_layers(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "numerator") and hasattr(layer, "denominator"):
            out[layer.name] = layer
        elif hasattr(layer, "layers"):
            out.update(_keras_rational_layers(layer))
    return out
