"""``RationalLayer`` on the running Keras backend: parity with the core, layouts, training, saving.

Run once per backend, each in its own process: ``KERAS_BACKEND=<b> python -m pytest tests/keras``.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import rationals.keras.ops as kops
from rationals.core import rational, rational_backward
from rationals.keras import RationalLayer, keras_ops_rational
from tests.contract.cases import coefficients, inputs

from .conftest import BACKEND, value_and_grads

RNG = np.random.default_rng(0)


def _layer(shape, **kwargs):
    """A built layer with random (well-conditioned) coefficients instead of the initial ones."""
    layer = RationalLayer(**kwargs)
    layer.build(shape)
    rng = np.random.default_rng(1)
    for w, part in ((layer.numerator, "numerator"), (layer.denominator, "denominator")):
        c = coefficients(layer.version, layer.degrees, rng, 0, part)
        w.assign(np.broadcast_to(c, w.shape) * rng.uniform(0.8, 1.2, w.shape))
    return layer


def _assert_close(got, want, rtol):
    for g, w, what in zip(got, want, ("y", "dx", "dnumerator", "ddenominator"), strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * np.abs(w).max(), err_msg=what)


def _per_element_reference(x, a, b, version, g):
    """Loop over the coefficient positions of per-element weights and call the core on each."""
    y, dx = np.zeros_like(x), np.zeros_like(x)
    da, db = np.zeros_like(a), np.zeros_like(b)
    param = a.shape[:-1]
    for pos in itertools.product(*(range(d) for d in param)):
        sel = (slice(None), *(slice(None) if d == 1 else i
                              for i, d in zip(pos, param, strict=True)))
        y[sel] = rational(x[sel], a[pos], b[pos], version)
        dx[sel], da_p, db_p = rational_backward(x[sel], a[pos], b[pos], g[sel], version)
        da[pos] += da_p
        db[pos] += db_p
    return y, dx, da, db


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((4, 6), {}),
        ((4, 6), {"version": "era"}),
        ((3, 4, 6), {"version": "C", "numerator_groups": 2, "denominator_groups": 3}),
        ((3, 6, 2, 2), {"version": "B", "denominator_groups": 3, "channel_axis": 1}),
    ],
    ids=["shared", "era", "grouped", "channels-first"],
)
def test_parity_with_core(shape, kwargs):
    layer = _layer(shape, **kwargs)
    x, g = inputs(shape, RNG), RNG.normal(size=shape)
    a, b = (keras.ops.convert_to_numpy(w.value).astype(np.float64)
            for w in (layer.numerator, layer.denominator))
    ax = layer.channel_axis
    want = [rational(x, a, b, layer.version, channel_axis=ax),
            *rational_backward(x, a, b, g, layer.version, channel_axis=ax)]
    _assert_close(value_and_grads(layer, x, g), want, 2e-4)


@pytest.mark.parametrize("shared_axes", [[1, 2], [1], [2], [], [1, 2, 3]],
                         ids=["channels", "leading", "non-contiguous", "none", "all"])
def test_shared_axes_gives_per_element_coefficients(shared_axes):
    shape = (2, 3, 4, 5)
    layer = _layer(shape, shared_axes=shared_axes)
    param = [1 if i + 1 in shared_axes else d for i, d in enumerate(shape[1:])]
    assert tuple(layer.numerator.shape) == (*param, 6)
    assert tuple(layer.denominator.shape) == (*param, 4)
    x, g = inputs(shape, RNG), RNG.normal(size=shape)
    a, b = (keras.ops.convert_to_numpy(w.value).astype(np.float64)
            for w in (layer.numerator, layer.denominator))
    want = _per_element_reference(x, a, b, "A", g)
    _assert_close(value_and_grads(layer, x, g), want, 2e-4)


def test_native_op_of_the_backend(monkeypatch):
    calls = []
    native = kops._native

    def spy(backend):
        calls.append(backend)
        return native(backend)

    monkeypatch.setattr(kops, "_native", spy)
    RationalLayer()(np.ones((2, 3), np.float32))
    assert calls == ([BACKEND] if BACKEND in kops.NATIVE_BACKENDS else [])


@pytest.mark.parametrize("version", ["A", "boulle", "era"])
def test_keras_ops_fallback_matches_native(monkeypatch, version):
    shape = (4, 6)
    layer = _layer(shape, version=version, denominator_groups=2)
    x, g = inputs(shape, RNG), RNG.normal(size=shape)
    native = value_and_grads(layer, x, g)
    monkeypatch.setattr(kops, "NATIVE_BACKENDS", ())
    fallback = value_and_grads(layer, x, g)
    _assert_close(fallback, native, 1e-4)
    y = keras_ops_rational(np.float32(x), layer.numerator, layer.denominator, version)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(y), native[0], rtol=1e-5, atol=1e-6)


def test_version_d_noise_only_in_training():
    shape = (4, 6)
    layer = _layer(shape, version="D")
    x = inputs(shape, RNG).astype(np.float32)
    a, b = (keras.ops.convert_to_numpy(w.value).astype(np.float64)
            for w in (layer.numerator, layer.denominator))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), rational(x, a, b, "B"),
                               rtol=1e-5, atol=1e-6)
    noisy = [keras.ops.convert_to_numpy(layer(x, training=True)) for _ in range(2)]
    assert not np.allclose(noisy[0], noisy[1])
    assert np.all(np.isfinite(value_and_grads(layer, x, np.ones(shape), training=True)[2]))


def _model(**kwargs):
    return keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(16), RationalLayer(**kwargs), keras.layers.Dense(1),
    ])


def _data():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    return x, np.sin(x[:, :1] * 2) + np.abs(x[:, 1:2])


@pytest.mark.parametrize("kwargs", [{}, {"version": "D", "denominator_groups": 4},
                                    {"shared_axes": []}], ids=["A", "D-grouped", "per-element"])
def test_fit_lowers_the_loss(kwargs):
    keras.utils.set_random_seed(0)
    model = _model(**kwargs)
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    x, y = _data()
    history = model.fit(x, y, epochs=8, batch_size=64, verbose=0).history["loss"]
    assert history[-1] < 0.7 * history[0], history


@pytest.mark.skipif(BACKEND != "tensorflow", reason="XLA custom calls of the TF backend")
def test_fit_with_jit_compile_uses_the_compiled_cpu_kernels(monkeypatch):
    from rationals.tf import kernels

    traced = []
    forward = kernels.forward
    monkeypatch.setattr(kernels, "forward", lambda *a, **k: traced.append(1) or forward(*a, **k))
    keras.utils.set_random_seed(0)
    model = _model(denominator_groups=4)
    model.compile(keras.optimizers.Adam(1e-2), "mse", jit_compile=True)
    x, y = _data()
    history = model.fit(x, y, epochs=8, batch_size=64, verbose=0).history["loss"]
    assert traced, "the layer did not take the kernels under XLA"
    assert history[-1] < 0.7 * history[0], history


def test_functional_model_and_keras_file_round_trip(tmp_path):
    inputs_ = keras.Input((4, 6))
    h = RationalLayer(version="boulle", shared_axes=[1])(inputs_)
    h = RationalLayer(version="C", denominator_groups=3, name="grouped")(h)
    model = keras.Model(inputs_, h)
    model.get_layer("grouped").numerator.assign(RNG.normal(size=6) * 0.3)
    x = inputs((3, 4, 6), RNG).astype(np.float32)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects: the layer is registered
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)),
                               keras.ops.convert_to_numpy(model(x)), rtol=1e-6)
    for layer in model.layers[1:]:
        assert loaded.get_layer(layer.name).get_config() == layer.get_config()


def test_config_round_trip():
    layer = RationalLayer("gelu", (4, 3), "B", shared_axes=[1, 2], name="r", dtype="float64")
    config = layer.get_config()
    assert RationalLayer.from_config(config).get_config() == config
    assert keras.saving.get_registered_name(RationalLayer) == "rationals>RationalLayer"


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy, name):
    policy(name)
    keras.utils.set_random_seed(0)
    model = _model()
    layer = model.layers[1]
    assert layer.compute_dtype == name.split("_")[1] and layer.numerator.dtype == "float32"
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    x, y = _data()
    history = model.fit(x, y, epochs=3, batch_size=64, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
    out = layer(keras.ops.cast(x * 1e3, name.split("_")[1]))
    assert keras.backend.standardize_dtype(out.dtype) == name.split("_")[1]
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="model.export writes a TF SavedModel")
def test_export_on_tensorflow(tmp_path):
    import tensorflow as tf

    model = _model(denominator_groups=4)
    x = _data()[0][:5]
    model.export(str(tmp_path), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path))
    served = reloaded.serve(tf.constant(x))
    np.testing.assert_allclose(served.numpy(), keras.ops.convert_to_numpy(model(x)), rtol=1e-6)


def test_boulle_migration():
    """docs/keras.md: Boullé's per-element alpha_i/beta_i (descending) map onto our weights."""
    shape = (3, 4, 5)
    rng = np.random.default_rng(4)
    alphas = [rng.normal(size=(1, 5)) * 0.3 for _ in range(4)]  # shared_axes=[1]: (1, 5) each
    betas = [rng.normal(size=(1, 5)) * 0.1 for _ in range(3)]
    betas[-1] += 1.0  # their constant term, kept away from 0
    layer = RationalLayer(version="boulle", degrees=(3, 2), shared_axes=[1])
    layer.build(shape)
    layer.numerator.assign(np.stack(alphas[::-1], axis=-1))
    layer.denominator.assign(np.stack(betas[::-1], axis=-1))
    x = inputs(shape, RNG)
    theirs = np.polyval(alphas, x) / np.polyval(betas, x)
    ours = keras.ops.convert_to_numpy(layer(x.astype(np.float32)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "shape", "message"),
    [
        ({"shared_axes": [1], "numerator_groups": 2}, (2, 4), "numerator_groups must stay 1"),
        ({"denominator_groups": 4}, (2, 6), "G=4"),
        ({"shared_axes": [0]}, (2, 6), "non-batch"),
        ({"version": "Z"}, (2, 6), "valid versions"),
        ({"version": "era", "degrees": (5, 3)}, (2, 6), "even"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, shape, message):
    with pytest.raises(ValueError, match=message):
        RationalLayer(**kwargs).build(shape)


def test_import_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)
    monkeypatch.delitem(sys.modules, "rationals.keras")
    with pytest.raises(ImportError, match=r"pip install 'rationals\[keras\]'"):
        importlib.import_module("rationals.keras")


_NUMPY_BACKEND = """
import json, sys
import numpy as np
from rationals.keras import RationalLayer
x = np.array(json.loads(sys.stdin.read()), np.float32)
layer = RationalLayer("gelu", version="C", denominator_groups=2)
print(json.dumps([layer(x).tolist(), layer.numerator.numpy().tolist(),
                  layer.denominator.numpy().tolist()]))
"""


@pytest.mark.skipif(BACKEND != "tensorflow", reason="runs once, in the tensorflow pass")
def test_keras_ops_fallback_on_the_numpy_backend():
    """A backend without a native op (Keras' numpy backend) evaluates the keras.ops fallback."""
    x = inputs((3, 4), RNG).astype(np.float32)
    child = subprocess.run(
        [sys.executable, "-c", _NUMPY_BACKEND], input=json.dumps(x.tolist()),
        env={**os.environ, "KERAS_BACKEND": "numpy"}, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    y, a, b = (np.array(v) for v in json.loads(child.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(y, rational(x, a, b, "C"), rtol=1e-5, atol=1e-6)
