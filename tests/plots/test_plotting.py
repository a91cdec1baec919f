"""rationals.plot and plot_evolution, rendered with Agg and checked for content."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import QuadMesh
from matplotlib.patches import StepPatch

from rationals import plot, rational, rational_backward
from rationals.plotting import coefficients, collect_layers, plot_evolution
from rationals.stats import InputStats

BOULLE = (np.array([0.0218, 0.5, 1.5957, 1.1915]), np.array([1.0, 0.0, 2.383]), "boulle")
PAU = (np.array([0.03, 0.6, 1.6, 2.9, 0.9, 0.2]), np.array([1.5, 2.5, 0.7, 0.1]), "A")


def lines(ax, gid: str) -> list:
    """The curves of R ("R"), R' ("dR") or the target ("target")."""
    return [line for line in ax.get_lines() if line.get_gid() == gid]


def render(fig) -> None:
    canvas = FigureCanvasAgg(fig)  # the whole figure renders with Agg, and is not blank
    canvas.draw()
    assert np.asarray(canvas.buffer_rgba()).std() > 0


def test_function_and_derivative_are_the_reference():
    fig = plot(PAU, num_points=201)
    render(fig)
    (ax,) = fig.axes
    (r,), (dr,) = lines(ax, "R"), lines(ax, "dR")
    x = r.get_xdata()
    np.testing.assert_allclose(x, np.linspace(-3, 3, 201))
    np.testing.assert_allclose(r.get_ydata(), rational(x, *PAU))
    np.testing.assert_allclose(
        dr.get_ydata(), rational_backward(x, PAU[0], PAU[1], np.ones_like(x), "A")[0]
    )
    assert ax.get_title() == "A (5, 4)"


def test_histogram_under_the_function_shows_the_recorded_counts():
    stats = InputStats(bins=40, range=(-4.0, 4.0))
    stats.update(np.random.default_rng(0).normal(0.5, 1.0, 5000))
    fig = plot(BOULLE, stats=stats, derivative=False)
    render(fig)
    top, hist = fig.axes
    (patch,) = [p for p in hist.patches if isinstance(p, StepPatch)]
    values, edges, _ = patch.get_data()
    np.testing.assert_array_equal(values, stats.counts)
    np.testing.assert_allclose(edges, stats.edges)
    assert hist.get_shared_x_axes().joined(top, hist)
    lo, hi = top.get_xlim()  # the default range follows the inputs
    assert -4.0 <= lo < stats.min + 0.5 and stats.max - 0.5 < hi <= 4.0
    assert not lines(top, "dR")


def test_several_layers_make_a_grid_and_missing_stats_are_labelled():
    stats = InputStats()
    stats.update(np.linspace(-1, 1, 100))
    fig = plot({"first": PAU, "second": BOULLE, "third": PAU}, stats={"second": stats}, ncols=2)
    render(fig)
    assert len(fig.axes) == 6
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["first: A (5, 4)", "second: boulle (3, 2)", "third: A (5, 4)"]
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("no recorded inputs") == 2


def test_grouped_layer_draws_each_channel_function():
    num = PAU[0][None]  # KAT: one numerator, 8 denominators
    den = PAU[1] * np.linspace(0.5, 1.5, 8)[:, None]
    fig = plot((num, den, "A"), num_points=51)
    (ax,) = fig.axes
    solid = lines(ax, "R")
    assert len(solid) == 8 and len(lines(ax, "dR")) == 8
    x = solid[0].get_xdata()
    for g, line in enumerate(solid):
        np.testing.assert_allclose(line.get_ydata(), rational(x, num[0], den[g], "A"))
    fig = plot((np.tile(num, (32, 1)), np.tile(den, (4, 1)), "A"), max_curves=5)
    assert len(lines(fig.axes[0], "R")) == 5


def test_target_callable_and_name():
    fig = plot(BOULLE, target=np.tanh, x_range=(-1, 1), num_points=11)
    (target,) = lines(fig.axes[0], "target")
    np.testing.assert_allclose(target.get_ydata(), np.tanh(np.linspace(-1, 1, 11)))
    assert target.get_label() == "target: tanh"
    fig = plot(BOULLE, target="relu", x_range=(-1, 1), num_points=11)
    np.testing.assert_allclose(
        lines(fig.axes[0], "target")[0].get_ydata(), np.maximum(np.linspace(-1, 1, 11), 0)
    )


def test_coefficients_from_every_kind_of_container():
    class Layer:  # duck-typed layer with framework-like arrays
        version = "boulle"

        def __init__(self, num, den):
            self.numerator, self.denominator = num, den

    class MXLike:  # mxnet NDArray-like
        def __init__(self, a):
            self.a = a

        def asnumpy(self):
            return np.asarray(self.a, dtype=np.float32)

    layer = Layer(MXLike(BOULLE[0]), [1.0, 0.0, 2.383])
    c = coefficients(layer)
    assert c.version == "boulle" and c.degrees == (3, 2)
    np.testing.assert_allclose(c.numerator, BOULLE[0], rtol=1e-6)
    assert coefficients(layer, version="N").version == "N"

    state = {
        "a.weight": np.ones(3),
        "act1.weight_numerator": PAU[0][None],
        "act1.weight_denominator": PAU[1][None],
        "blocks.0.act.numerator": PAU[0],
        "blocks.0.act.denominator": PAU[1],
    }
    found = collect_layers(state)
    assert list(found) == ["act1", "blocks.0.act"]
    assert found["act1"].numerator.shape == (1, 6)
    nested = collect_layers(
        {"model": state, "raw": BOULLE, "params": {"numerator": PAU[0], "denominator": PAU[1]}}
    )
    assert list(nested) == ["model.act1", "model.blocks.0.act", "raw", "params"]
    assert collect_layers([BOULLE, layer]).keys() == {"0", "1"}
    with pytest.raises(ValueError, match="no rational layer"):
        plot({"x": 1})
    with pytest.raises(TypeError, match="cannot find rational coefficients"):
        collect_layers(3.0)


def test_framework_arrays():
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Module())
    module[1].numerator = torch.nn.Parameter(torch.tensor(PAU[0], dtype=torch.bfloat16))
    module[1].denominator = torch.nn.Parameter(torch.tensor(PAU[1]))
    found = collect_layers(module)
    assert list(found) == ["1"] and found["1"].numerator.dtype == np.float64
    jnp = pytest.importorskip("jax.numpy")
    c = coefficients(
        {"numerator": jnp.asarray(PAU[0]), "denominator": jnp.asarray(PAU[1], dtype=jnp.bfloat16)}
    )
    np.testing.assert_allclose(c.denominator, PAU[1], rtol=1e-2)


def test_evolution_over_snapshots():
    rng = np.random.default_rng(1)
    stats = InputStats(bins=30, range=(-3.0, 3.0))
    for epoch in range(4):
        stats.update(rng.normal(0.2 * epoch, 1.0, 2000))
        stats.snapshot(f"epoch {epoch}", layer=(BOULLE[0], BOULLE[1] * (1 + 0.1 * epoch), "boulle"))
    fig = plot_evolution(stats)
    render(fig)
    hist_ax, fn_ax = fig.axes[:2]
    (mesh,) = [c for c in hist_ax.collections if isinstance(c, QuadMesh)]
    expected = np.array([s.counts / s.count for s in stats.history])
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(expected.shape), expected)
    np.testing.assert_allclose(hist_ax.get_lines()[0].get_xdata(), [s.mean for s in stats.history])
    assert [t.get_text() for t in hist_ax.get_yticklabels()] == [f"epoch {e}" for e in range(4)]
    assert len(lines(fn_ax, "R")) == 4 and len(lines(fn_ax, "dR")) == 4
    stats.history.clear()
    with pytest.raises(ValueError, match="no snapshots"):
        plot_evolution(stats)


def test_import_rationals_does_not_import_matplotlib_and_plot_avoids_pyplot():
    code = (
        "import sys, rationals\n"
        "assert 'matplotlib' not in sys.modules\n"
        "fig = rationals.plot(([0.0, 1.0], [0.5], 'A'))\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_inputs_outside_the_bins_fall_back_to_the_bins_range():
    stats = InputStats(bins=10, range=(-1.0, 1.0))
    stats.update(np.full(5, -7.0))
    fig = plot(PAU, stats=stats)
    assert fig.axes[0].get_xlim() == (-1.0, 1.0)
    assert "outside the bins: 100.00%" in fig.axes[1].texts[0].get_text()


def test_layers_of_every_backend():
    """Real layers: torch Rational, flax nnx Rational, flax linen params, Keras RationalLayer."""
    torch = pytest.importorskip("torch")
    from rationals.torch import Rational

    layer = Rational("gelu", version="B")
    fig = plot(layer, target=True, num_points=21)
    (r,), (t,) = lines(fig.axes[0], "R"), lines(fig.axes[0], "target")
    num, den = (
        layer.numerator.detach().double().numpy(),
        layer.denominator.detach().double().numpy(),
    )
    np.testing.assert_allclose(r.get_ydata(), rational(r.get_xdata(), num, den, "B"))
    with torch.no_grad():
        np.testing.assert_allclose(
            r.get_ydata(), layer(torch.tensor(r.get_xdata())).numpy(), rtol=1e-5
        )
    assert t.get_label() == "target: gelu" and fig.axes[0].get_title() == "B (5, 4)"

    nnx = pytest.importorskip("flax.nnx")
    from rationals.jax.nnx import Rational as NnxRational

    c = coefficients(NnxRational(approx_func="swish", version="era", rngs=nnx.Rngs(0)))
    assert c.version == "era" and c.degrees == (5, 4)

    jax = pytest.importorskip("jax")
    from rationals.jax.flax import Rational as LinenRational

    params = LinenRational(approx_func="tanh").init(jax.random.PRNGKey(0), np.ones((2, 3)))
    assert list(collect_layers(params)) == ["params"]

    keras = pytest.importorskip("keras")
    from rationals.keras import RationalLayer

    model = keras.Sequential([keras.Input((3,)), RationalLayer(version="C", name="act")])
    found = collect_layers(model)
    assert list(found) == ["act"] and found["act"].version == "C" and found["act"].degrees == (5, 4)
