"""Plots of rational layers: R(x), R'(x), the initialisation target and the recorded inputs.

Works with a layer of any backend (anything with ``numerator``/``denominator`` attributes), a
mapping such as a torch ``state_dict`` or flax params, a model holding several layers, or raw
``(numerator, denominator[, version])`` coefficients. matplotlib (the ``plot`` extra) is imported
only when a figure is drawn; figures are built with :class:`matplotlib.figure.Figure`, without
pyplot, so they render under any backend (Agg included) and do not leak global state.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .core import rational, rational_backward
from .core.variants import variant_from_sizes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .stats import InputStats, Snapshot

__all__ = [
    "Coefficients",
    "coefficients",
    "collect_layers",
    "evaluate",
    "plot",
    "plot_evolution",
    "to_numpy",
]

_NUM, _DEN = "numerator", "denominator"


class Coefficients(NamedTuple):
    """A layer's coefficients as float64 numpy arrays, with its version and target name."""

    numerator: np.ndarray
    denominator: np.ndarray
    version: str = "A"
    approx_func: str | None = None

    @property
    def degrees(self) -> tuple[int, int]:
        """(n, m) recovered from the coefficient lengths."""
        return variant_from_sizes(
            self.version, self.numerator.shape[-1], self.denominator.shape[-1]
        ).degrees


def to_numpy(a: Any) -> np.ndarray:
    """Any backend's tensor, parameter or variable as a float64 numpy array."""
    if hasattr(a, "detach"):  # torch tensor or parameter
        return a.detach().cpu().double().numpy()
    if hasattr(a, "asnumpy"):  # mxnet NDArray
        return np.asarray(a.asnumpy(), dtype=np.float64)
    if hasattr(a, "list_data"):  # mxnet gluon Parameter
        return to_numpy(a.data())
    if callable(getattr(a, "numpy", None)):  # tf.Variable, keras Variable, eager tensors
        return np.asarray(a.numpy(), dtype=np.float64)
    if hasattr(a, "value") and not isinstance(a, np.ndarray):  # flax.nnx Param
        return to_numpy(a.value)
    return np.asarray(a, dtype=np.float64)  # numpy, jax arrays, lists


def _is_array_like(a: Any) -> bool:
    if hasattr(a, _NUM) or isinstance(a, (str, Mapping)):
        return False
    if hasattr(a, "shape"):
        return len(a.shape) in (1, 2)
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError):
        return False
    return arr.ndim in (1, 2) and np.issubdtype(arr.dtype, np.number)


def _is_raw(obj: Any) -> bool:
    """``(numerator, denominator)`` or ``(numerator, denominator, version)``."""
    if not isinstance(obj, (tuple, list)) or len(obj) not in (2, 3):
        return False
    if len(obj) == 3 and not isinstance(obj[2], str):
        return False
    return _is_array_like(obj[0]) and _is_array_like(obj[1])


def coefficients(obj: Any, version: str | None = None) -> Coefficients:
    """The coefficients of one layer (any backend), a ``{numerator, denominator}`` mapping or a
    raw ``(numerator, denominator[, version])`` tuple. ``version`` overrides the layer's own."""
    if _is_raw(obj):
        num, den = obj[0], obj[1]
        own = obj[2] if len(obj) == 3 else None
        approx = None
    elif isinstance(obj, Mapping):
        num, den = obj[_NUM], obj[_DEN]
        own, approx = obj.get("version"), obj.get("approx_func")
    else:
        num, den = getattr(obj, _NUM), getattr(obj, _DEN)
        own, approx = getattr(obj, "version", None), getattr(obj, "approx_func", None)
    version = version or own or "A"
    return Coefficients(
        to_numpy(num), to_numpy(den), str(version), approx if isinstance(approx, str) else None
    )


def _has_coefficients(obj: Any) -> bool:
    if isinstance(obj, numbers.Number):  # ints and Fractions have .numerator/.denominator
        return False
    if isinstance(obj, Mapping):
        return _NUM in obj and _DEN in obj
    return hasattr(obj, _NUM) and hasattr(obj, _DEN)


def _from_flat_mapping(obj: Mapping, version: str | None) -> dict[str, Coefficients]:
    """Group flat keys like ``block.act.numerator`` (a torch state_dict) by their prefix."""
    out: dict[str, Coefficients] = {}
    for key in obj:
        if not isinstance(key, str) or not key.endswith(_NUM):
            continue
        prefix = key[: -len(_NUM)]
        if prefix + _DEN in obj:
            name = prefix.removesuffix("weight_").rstrip("._/")  # KAT: weight_numerator
            out[name] = coefficients((obj[key], obj[prefix + _DEN]), version)
    return out


def collect_layers(obj: Any, version: str | None = None) -> dict[str, Coefficients]:
    """Every rational layer in ``obj``, by name.

    ``obj`` may be a layer, raw coefficients, a torch module (searched with ``named_modules``),
    a Keras model (searched through ``.layers``), a mapping (a torch ``state_dict``, flax/haiku
    params, or ``{name: layer}``) or a list of any of these.
    """
    if _is_raw(obj) or _has_coefficients(obj):
        return {"": coefficients(obj, version)}
    out: dict[str, Coefficients] = {}
    if hasattr(obj, "named_modules"):  # torch
        for name, module in obj.named_modules():
            if _has_coefficients(module):
                out[name] = coefficients(module, version)
        return out
    if isinstance(obj, Mapping):
        flat = _from_flat_mapping(obj, version)
        if flat:
            return flat
        items: Iterable[tuple[str, Any]] = ((str(k), v) for k, v in obj.items())
    elif hasattr(obj, "layers"):  # keras models
        items = ((getattr(layer, "name", str(i)), layer) for i, layer in enumerate(obj.layers))
    elif isinstance(obj, (list, tuple)):
        items = ((getattr(v, "name", None) or str(i), v) for i, v in enumerate(obj))
    else:
        raise TypeError(
            f"cannot find rational coefficients in {type(obj).__name__}: pass a layer with "
            "numerator/denominator attributes, a mapping, a model or (numerator, denominator)"
        )
    for name, value in items:
        if _is_raw(value) or _has_coefficients(value):
            out[name] = coefficients(value, version)
        elif isinstance(value, (Mapping, list, tuple)) or hasattr(value, "layers"):
            out.update(
                {f"{name}.{k}".rstrip("."): c for k, c in collect_layers(value, version).items()}
            )
    return out


def _channel_functions(
    c: Coefficients, max_curves: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Numerator/denominator (C, K) arrays of the distinct channel functions of a layout."""
    num, den = c.numerator, c.denominator
    if num.ndim == 1 and den.ndim == 1:
        return num[None], den[None], [""]
    gn = num.shape[0] if num.ndim == 2 else 1
    gd = den.shape[0] if den.ndim == 2 else 1
    channels = math.lcm(gn, gd)
    shown = np.unique(np.linspace(0, channels - 1, min(channels, max_curves)).round().astype(int))
    num2, den2 = np.atleast_2d(num), np.atleast_2d(den)
    ni, di = shown // (channels // gn), shown // (channels // gd)
    labels = [
        f"P{i}/Q{j}" if gn > 1 and gd > 1 else f"group {max(i, j)}"
        for i, j in zip(ni, di, strict=True)
    ]
    return num2[ni], den2[di], labels


def evaluate(
    c: Coefficients, x: np.ndarray, max_curves: int = 16
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """R(x) and R'(x) for every distinct channel function, shape ``(len(x), curves)``."""
    num, den, labels = _channel_functions(c, max_curves)
    xs = np.repeat(np.asarray(x, dtype=np.float64)[:, None], num.shape[0], axis=1)
    if num.shape[0] == 1:
        num, den, xs = num[0], den[0], xs[:, 0]
    y = rational(xs, num, den, c.version, channel_axis=-1)
    dy = rational_backward(xs, num, den, np.ones_like(xs), c.version, channel_axis=-1)[0]
    return y.reshape(len(x), -1), dy.reshape(len(x), -1), labels


def _target_function(target: str | Callable[[np.ndarray], np.ndarray]) -> Callable:
    if callable(target):
        return target
    from .core.init.functions import target as target_function

    return target_function(target)


def _stats_range(stats: InputStats | Snapshot) -> tuple[float, float] | None:
    """The span holding 99.8% of the recorded inputs, padded, clipped to the histogram's range."""
    counts = np.concatenate([[stats.underflow], stats.counts, [stats.overflow]]).astype(float)
    if counts.sum() == 0:
        return None
    edges = stats.edges
    cdf = np.cumsum(counts) / counts.sum()
    lo_i = int(np.searchsorted(cdf, 0.001))
    hi_i = int(np.searchsorted(cdf, 0.999))
    lo = edges[0] if lo_i == 0 else edges[lo_i - 1]
    hi = edges[-1] if hi_i >= len(edges) else edges[hi_i]
    lo, hi = max(lo, stats.min), min(hi, stats.max)
    if not hi > lo:  # everything outside the bins, or a single value
        return edges[0], edges[-1]
    pad = max(0.1 * (hi - lo), 0.25)
    return max(lo - pad, edges[0]), min(hi + pad, edges[-1])


def _draw_function(
    ax: Axes,
    c: Coefficients,
    x: np.ndarray,
    target: Callable | None,
    target_name: str | None,
    derivative: bool,
    max_curves: int,
) -> None:
    y, dy, labels = evaluate(c, x, max_curves)
    multi = y.shape[1] > 1
    for k in range(y.shape[1]):
        color = f"C{k % 10}"
        label = f"R(x) {labels[k]}".strip() if multi or k == 0 else None
        ax.plot(x, y[:, k], color=color, lw=2, label=label, gid="R")
        if derivative:
            label = "R'(x), dashed" if k == 0 else None
            ax.plot(x, dy[:, k], color=color, lw=1, ls="--", label=label, gid="dR")
    drawn = [y, dy] if derivative else [y]
    if target is not None:
        t = target(x)
        ax.plot(x, t, color="black", lw=1, ls=":", label=f"target: {target_name}", gid="target")
        drawn.append(t[:, None])
    _clip_poles(ax, np.column_stack(drawn))
    ax.axhline(0, color="0.8", lw=0.5, zorder=0)
    ax.axvline(0, color="0.8", lw=0.5, zorder=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small" if multi else "small", ncols=2 if multi else 1, loc="best")


def _clip_poles(ax: Axes, y: np.ndarray) -> None:
    """Keep the y-axis on the curves when a pole or near-pole would flatten them."""
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        return
    lo, hi = np.quantile(finite, [0.01, 0.99])
    span = hi - lo
    if span > 0 and finite.max() - finite.min() > 5 * span:
        ax.set_ylim(lo - 0.5 * span, hi + 0.5 * span)


def _draw_histogram(ax: Axes, stats: InputStats | Snapshot) -> None:
    ax.stairs(stats.counts, stats.edges, fill=True, alpha=0.6, color="C7")
    outside = stats.underflow + stats.overflow
    text = (
        f"n={stats.count:,}  mean={stats.mean:.3g}  std={stats.std:.3g}\n"
        f"min={stats.min:.3g}  max={stats.max:.3g}"
    )
    if outside:
        text += f"  outside the bins: {outside / stats.count:.2%}"
    ax.text(0.01, 0.97, text, transform=ax.transAxes, va="top", fontsize="x-small")
    ax.set_ylabel("inputs")
    ax.grid(alpha=0.3)


def _as_list(value: Any, names: list[str]) -> list[Any]:
    if isinstance(value, Mapping):
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"got {len(value)} entries for {len(names)} layers")
        return list(value)
    return [value] * len(names)


def plot(
    layers: Any,
    *,
    version: str | None = None,
    target: str | Callable | bool | None = None,
    stats: Any = None,
    x_range: tuple[float, float] | None = None,
    derivative: bool = True,
    num_points: int = 1000,
    max_curves: int = 16,
    ncols: int | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Draw rational layers: R(x), R'(x), optionally the target, and the recorded inputs.

    Args:
        layers: a layer of any backend, raw ``(numerator, denominator[, version])``, a model,
            a ``state_dict``/params mapping, or a list/dict of layers (see :func:`collect_layers`).
            Several layers are drawn as a grid.
        version: overrides the layers' version (needed for raw state_dicts not of version A).
        target: a function name (e.g. ``"gelu"``) or a callable drawn for comparison; ``True``
            uses each layer's ``approx_func``.
        stats: :class:`rationals.stats.InputStats` (or a Snapshot), a ``{name: stats}``
            mapping such as a :class:`rationals.stats.Recorder`, or a list aligned with the layers.
            Its histogram is drawn under the function.
        x_range: the x interval; by default where 99.8% of the recorded inputs fall, else (-3, 3).
        derivative: draw R'(x) (dashed) from the analytic backward.
        num_points: points on the x grid.
        max_curves: grouped layouts draw at most this many channel functions.
        ncols: grid columns (default: up to 3).
        fig: draw into this figure (e.g. ``plt.figure()`` for ``plt.show()``); a new
            :class:`~matplotlib.figure.Figure` otherwise.

    Returns:
        The figure; save it with ``fig.savefig("rational.png")``.
    """
    from matplotlib.figure import Figure

    found = collect_layers(layers, version)
    if not found:
        raise ValueError("no rational layer found")
    names = list(found)
    stats_list = _as_list(stats, names)
    targets = (
        _as_list(target, names) if not isinstance(target, (str, bool)) else [target] * len(names)
    )
    with_hist = any(s is not None for s in stats_list)

    ncols = ncols or min(len(names), 3)
    nrows = math.ceil(len(names) / ncols)
    rows_per = 2 if with_hist else 1
    fig = fig or Figure(
        figsize=(4.5 * ncols, (4.5 if with_hist else 3.5) * nrows), layout="constrained"
    )
    grid = fig.add_gridspec(
        nrows * rows_per, ncols, height_ratios=[3, 1] * nrows if with_hist else None
    )

    for i, name in enumerate(names):
        c, s, t = found[name], stats_list[i], targets[i]
        row, col = divmod(i, ncols)
        ax = fig.add_subplot(grid[row * rows_per, col])
        lo, hi = x_range or (s is not None and s.count and _stats_range(s)) or (-3.0, 3.0)
        x = np.linspace(lo, hi, num_points)
        t_name = c.approx_func if t is True else t
        t_name = None if t_name is False else t_name
        t_func = _target_function(t_name) if t_name is not None else None
        if t_func is not None and not isinstance(t_name, str):
            t_name = getattr(t_func, "__name__", "target")
        _draw_function(ax, c, x, t_func, t_name, derivative, max_curves)
        prefix = f"{name}: " if name and name != c.version else ""
        ax.set_title(f"{prefix}{c.version} {c.degrees}", fontsize="medium")
        ax.set_xlim(lo, hi)
        if with_hist:
            hax = fig.add_subplot(grid[row * rows_per + 1, col], sharex=ax)
            if s is not None and s.count:
                _draw_histogram(hax, s)
            else:
                hax.text(
                    0.5,
                    0.5,
                    "no recorded inputs",
                    ha="center",
                    va="center",
                    transform=hax.transAxes,
                )
            hax.set_xlabel("x")
        else:
            ax.set_xlabel("x")
    return fig


def plot_evolution(
    stats: InputStats | Iterable[Snapshot],
    *,
    derivative: bool = True,
    x_range: tuple[float, float] | None = None,
    num_points: int = 500,
    fig: Figure | None = None,
) -> Figure:
    """How a layer's inputs (and, when snapshots carry coefficients, the layer) moved over time.

    Top: one row per snapshot of the normalised input histogram, with the mean ± std and the
    min/max. Bottom (if the snapshots hold coefficients): R(x) per snapshot, coloured by time,
    and R'(x) dashed.
    """
    from matplotlib.figure import Figure

    snaps = list(stats.history if hasattr(stats, "history") else stats)
    if not snaps:
        raise ValueError(
            "no snapshots to plot: call InputStats.snapshot() (or Recorder.snapshot())"
        )
    with_fn = all(s.numerator is not None for s in snaps)
    fig = fig or Figure(figsize=(7, 7 if with_fn else 4), layout="constrained")
    axes = fig.subplots(2 if with_fn else 1, 1, sharex=True, squeeze=False)[:, 0]

    edges = snaps[0].edges
    density = np.array([s.counts / max(s.count, 1) for s in snaps])
    ax = axes[0]
    mesh = ax.pcolormesh(
        edges, np.arange(len(snaps) + 1) - 0.5, density, cmap="Greys", shading="flat"
    )
    fig.colorbar(mesh, ax=ax, label="fraction of inputs")
    t = np.arange(len(snaps))
    mean = np.array([s.mean for s in snaps])
    std = np.array([s.std for s in snaps])
    ax.plot(mean, t, color="C0", label="mean")
    ax.plot(mean - std, t, color="C0", ls="--", lw=1, label="mean ± std")
    ax.plot(mean + std, t, color="C0", ls="--", lw=1)
    ax.plot([s.min for s in snaps], t, color="C3", lw=1, label="min / max")
    ax.plot([s.max for s in snaps], t, color="C3", lw=1)
    ax.set_yticks(t, [s.label for s in snaps], fontsize="small")
    ax.set_ylabel("snapshot")
    ax.legend(fontsize="small", loc="upper right")
    ranges = [r for r in (_stats_range(s) for s in snaps) if r]
    lo, hi = x_range or (
        (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else (-3, 3)
    )
    ax.set_xlim(lo, hi)

    if with_fn:
        from matplotlib import colormaps

        cmap = colormaps["viridis"]
        fax = axes[1]
        x = np.linspace(lo, hi, num_points)
        for i, s in enumerate(snaps):
            c = Coefficients(s.numerator, s.denominator, s.version)
            y, dy, _ = evaluate(c, x, max_curves=1)
            color = cmap(i / max(len(snaps) - 1, 1))
            label = s.label if i in (0, len(snaps) - 1) else None
            fax.plot(x, y[:, 0], color=color, lw=1.5, label=label, gid="R")
            if derivative:
                fax.plot(x, dy[:, 0], color=color, lw=0.8, ls="--", gid="dR")
        fax.set_ylabel("R(x), R'(x) dashed")
        fax.grid(alpha=0.3)
        fax.legend(fontsize="small")
    axes[-1].set_xlabel("x")
    return fig
