"""Input-statistics recorders: counts, moments and snapshots against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from rationals.stats import InputStats, Recorder, record_jax, record_torch

BOULLE = (np.array([0.0218, 0.5, 1.5957, 1.1915]), np.array([1.0, 0.0, 2.383]), "boulle")


@np.errstate(invalid="ignore")
def check_against_numpy(stats: InputStats, x: np.ndarray) -> None:
    x = np.asarray(x, dtype=np.float64).ravel()
    finite = x[~np.isnan(x)]
    lo, hi = stats.range
    inside = finite[(finite >= lo) & (finite < hi)]
    np.testing.assert_array_equal(stats.counts, np.histogram(inside, stats.bins, (lo, hi))[0])
    assert stats.underflow == np.sum(finite < lo)
    assert stats.overflow == np.sum(finite >= hi)
    assert stats.nan == np.sum(np.isnan(x))
    assert (
        stats.count == x.size == stats.counts.sum() + stats.underflow + stats.overflow + stats.nan
    )
    if stats.nan:
        assert np.isnan(stats.min) and np.isnan(stats.mean)
    else:
        assert stats.min == finite.min() and stats.max == finite.max()
        np.testing.assert_allclose(
            [stats.mean, stats.std], [finite.mean(), finite.std()], rtol=1e-5, atol=1e-6
        )


def test_numpy_updates_accumulate():
    rng = np.random.default_rng(0)
    stats = InputStats(bins=37, range=(-2.5, 3.0))
    parts = [rng.normal(0.3, 1.5, size) for size in (1000, 1, 5000)]
    parts.append(np.array([-np.inf, np.inf, 3.0, -2.5]))
    for p in parts:
        stats.update(p)
    stats.update(np.empty(0))
    check_against_numpy(stats, np.concatenate(parts))
    assert stats.min == -np.inf and stats.max == np.inf


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_numpy_matches_histogram(scale):
    x = np.random.default_rng(1).normal(0.2, scale, (64, 33))
    stats = InputStats(bins=50, range=(-4.0, 4.0))
    stats.update(x)
    check_against_numpy(stats, x)


def test_nan_is_counted_apart():
    x = np.array([0.5, np.nan, -1.0, 10.0])
    stats = InputStats(bins=4, range=(-2.0, 2.0))
    stats.update(x)
    check_against_numpy(stats, x)


def test_snapshots_reset_and_keep_coefficients():
    stats = InputStats(bins=8, range=(-1.0, 1.0))
    stats.update(np.zeros(10))
    first = stats.snapshot("epoch 0", layer=BOULLE)
    assert stats.count == 0 and first.count == 10 and first.label == "epoch 0"
    np.testing.assert_array_equal(first.numerator, BOULLE[0])
    assert first.version == "boulle"
    stats.update(np.ones(3) * 0.5)
    second = stats.snapshot(reset=False)
    assert second.label == "1" and second.numerator is None and stats.count == 3
    assert [s.count for s in stats.history] == [10, 3]
    stats.reset()
    assert stats.count == 0 and np.isnan(stats.mean) and len(stats.history) == 2
    with pytest.raises(ValueError, match="lo < hi"):
        InputStats(range=(1.0, 1.0))


def torch_act():
    """A module with numerator/denominator parameters (what the recorder hooks) computing tanh."""
    torch = pytest.importorskip("torch")

    class Act(torch.nn.Module):
        version = "boulle"

        def __init__(self):
            super().__init__()
            self.numerator = torch.nn.Parameter(torch.tensor(BOULLE[0]))
            self.denominator = torch.nn.Parameter(torch.tensor(BOULLE[1]))

        def forward(self, x):
            return torch.tanh(x)

    return Act()


def test_torch_hooks_match_numpy():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 7), torch_act(), torch.nn.Linear(7, 7), torch_act()
    )
    seen: dict[str, list[np.ndarray]] = {"1": [], "3": []}
    with record_torch(model, bins=20, range=(-1.0, 1.0)) as rec:
        assert isinstance(rec, Recorder) and list(rec) == ["1", "3"] and len(rec) == 2
        for _ in range(3):
            x = torch.randn(16, 5) * 3
            model(x)
            with torch.no_grad():
                h = model[0](x)
                seen["1"].append(h.numpy())
                seen["3"].append(model[2](torch.tanh(h)).numpy())
        for name in rec:
            check_against_numpy(rec[name], np.concatenate(seen[name]))
        rec.snapshot("e0")
        assert rec["1"].history[0].label == "e0" and rec["1"].count == 0
        np.testing.assert_allclose(rec["3"].history[0].numerator, BOULLE[0])
    model(torch.randn(2, 5))  # removed: nothing recorded
    assert rec["1"].count == 0

    every = record_torch(model[1], every=2)  # the module itself; one call in two
    for _ in range(5):
        model(torch.randn(4, 5))
    assert every[""].count == 3 * 4 * 7
    every.remove()
    with pytest.raises(ValueError, match="no module with numerator"):
        record_torch(torch.nn.Linear(2, 2))


def test_torch_hooks_under_compile():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch_act())
    compiled = torch.compile(model, backend="eager")
    xs = [torch.randn(8, 3) for _ in range(4)]
    with record_torch(model, bins=10, range=(-1.0, 1.0), every=2) as rec:
        for x in xs:
            compiled(x)
    with torch.no_grad():
        check_against_numpy(rec["1"], np.concatenate([model[0](x).numpy() for x in xs[::2]]))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_torch_dtypes(dtype):
    torch = pytest.importorskip("torch")
    act = torch_act()
    x = (torch.randn(1000) * 2).to(getattr(torch, dtype))
    with record_torch(act, bins=10, range=(-2.0, 2.0)) as rec:
        act(x)
    check_against_numpy(rec[""], x.double().numpy())


def test_torch_counting_by_sorting_matches_bincount():
    torch = pytest.importorskip("torch")
    from rationals.stats import _count_bins

    idx = torch.randint(0, 9, (1000,), dtype=torch.int32)
    np.testing.assert_array_equal(
        _count_bins(idx, 11, True).numpy(), _count_bins(idx, 11, False).numpy()
    )


def test_jax_recorder_inside_jit():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    stats = InputStats(bins=16, range=(-2.0, 2.0))

    @jax.jit
    def f(x):
        return jnp.tanh(record_jax(x * 2.0, stats))

    xs = [jax.random.normal(jax.random.PRNGKey(i), (50, 3)) for i in range(3)]
    for x in xs:
        f(x).block_until_ready()
    jax.effects_barrier()
    check_against_numpy(stats, np.concatenate([np.asarray(x) * 2.0 for x in xs]))
    stats.update(xs[0])  # outside jit: a jax array directly
    assert stats.count == 3 * 150 + 150


def test_keras_callback_records_the_probe_every_epoch():
    keras = pytest.importorskip("keras")
    from rationals.stats import keras_callback

    class Act(keras.layers.Layer):  # any layer with numerator/denominator weights
        def build(self, input_shape):
            self.numerator = self.add_weight(
                shape=(4,), initializer=keras.initializers.Constant(BOULLE[0])
            )
            self.denominator = self.add_weight(
                shape=(3,), initializer=keras.initializers.Constant(BOULLE[1])
            )

        def call(self, x):
            return keras.ops.tanh(x) * self.numerator[1] / self.denominator[0]

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(5), Act(name="act"), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse")
    x, y = np.random.default_rng(0).normal(size=(64, 3)), np.zeros((64, 1))
    probe = x[:10]
    callback = keras_callback(model, probe, bins=12, range=(-3.0, 3.0))
    dense_inputs = []

    class Watch(keras.callbacks.Callback):  # what the probe sends to the layer, per epoch
        def on_epoch_end(self, epoch, logs=None):
            dense_inputs.append(keras.ops.convert_to_numpy(model.layers[0](probe)))

    dense_inputs.append(keras.ops.convert_to_numpy(model.layers[0](probe)))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[Watch(), callback])
    history = callback.recorder["act"].history
    assert [s.label for s in history] == ["start", "epoch 1", "epoch 2"]
    for snap, seen in zip(history, dense_inputs, strict=True):
        stats = InputStats(bins=12, range=(-3.0, 3.0))
        stats.update(seen)
        np.testing.assert_array_equal(snap.counts, stats.counts)
        assert snap.count == 50 and snap.version == "A"
    np.testing.assert_allclose(history[0].numerator, BOULLE[0], rtol=1e-6)
    assert not np.allclose(history[-1].numerator, BOULLE[0])  # the coefficients were trained
    assert "call" not in vars(model.layers[1])  # the layer is restored after each probe
