"""TensorFlow and Keras 3 timings, as ratios to GELU measured in the same process.

1. ``rationals.tf.rational`` forward+backward under ``tf.function(jit_compile=True)`` on 2^22
   float32 elements, against ``tf.nn.gelu`` (and ``tf.nn.relu``) under the same XLA compilation.
2. One ``model.fit`` epoch of a small MLP with ``RationalLayer`` against the same model with
   ``Activation("gelu")``, on each Keras backend (each in its own process).

Usage: ``python benchmarks/bench_tf_keras.py [--smoke] [--out docs/benchmarks/tf_keras.md]``.
``--smoke`` runs tiny sizes and writes nothing unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table, time_interleaved, write_markdown

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "tf_keras.md"


def bench_tf(size: int, rounds: int) -> dict[str, tuple[float, float, float, float]]:
    """{name: (ms per call, ratio to GELU, lower, upper quartile)} for XLA forward+backward."""
    import numpy as np
    import tensorflow as tf

    from rationals.core import initial_coefficients
    from rationals.tf import rational

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(0.0, 1.5, size).astype(np.float32))
    g = tf.constant(rng.normal(size=size).astype(np.float32))
    num, den = (tf.constant(c, tf.float32) for c in initial_coefficients(None, (5, 4), "A"))
    channels = 1024
    x_grouped = tf.reshape(x, (-1, channels))
    den_grouped = tf.tile(den[None], (8, 1))

    def elementwise(fn):
        @tf.function(jit_compile=True)
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = fn(x)
            return tape.gradient(y, x, output_gradients=g)

        return step

    def rational_step(xs, a, b):
        @tf.function(jit_compile=True)
        def step():
            with tf.GradientTape() as tape:
                tape.watch([xs, a, b])
                y = rational(xs, a, b, "A")
            return tape.gradient(y, [xs, a, b], output_gradients=tf.reshape(g, xs.shape))

        return step

    candidates = {
        "tf.nn.gelu": elementwise(tf.nn.gelu),
        "tf.nn.relu": elementwise(tf.nn.relu),
        "rational A (5, 4), shared": rational_step(x, num, den),
        "rational A (5, 4), 8 denominator groups over 1024 channels":
            rational_step(x_grouped, num, den_grouped),
    }

    def run(step):
        return lambda: tf.nest.map_structure(lambda t: t.numpy(), step())

    res = time_interleaved({k: run(v) for k, v in candidates.items()}, "tf.nn.gelu",
                           rounds=rounds)
    return {k: (m.median_seconds * 1e3, m.ratio, *m.ratio_spread) for k, m in res.items()}


def bench_keras(samples: int, width: int, rounds: int) -> dict[str, float]:
    """One fit epoch per model, interleaved: {name: seconds, ...} with the ratio to GELU."""
    import keras
    import numpy as np

    from rationals.keras import RationalLayer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, width)).astype(np.float32)
    y = rng.integers(0, 10, samples)

    def model(activation):
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((width,)), keras.layers.Dense(width), activation(),
                              keras.layers.Dense(width), activation(), keras.layers.Dense(10)])
        m.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    models = {"gelu": model(lambda: keras.layers.Activation("gelu")),
              "RationalLayer": model(RationalLayer)}

    def epoch(m):
        return lambda: m.fit(x, y, batch_size=256, epochs=1, verbose=0)

    res = time_interleaved({k: epoch(m) for k, m in models.items()}, "gelu", rounds=rounds,
                           warmup=1)
    return {"gelu_s": res["gelu"].median_seconds,
            "rational_s": res["RationalLayer"].median_seconds,
            "ratio": res["RationalLayer"].ratio}


def _keras_in_child(backend: str, smoke: bool) -> dict[str, float]:
    child = subprocess.run(
        [sys.executable, __file__, "--keras-child", backend] + (["--smoke"] if smoke else []),
        env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True, text=True, check=False,
    )
    if child.returncode:
        raise RuntimeError(f"keras[{backend}] benchmark failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few rounds")
    parser.add_argument("--out", type=Path, default=None, help=f"markdown file ({DEFAULT_OUT})")
    parser.add_argument("--keras-child", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    samples, width = (512, 32) if args.smoke else (8192, 256)
    rounds, keras_rounds = (3, 3) if args.smoke else (11, 7)
    if args.keras_child:
        print(json.dumps(bench_keras(samples, width, keras_rounds)))
        return

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    size = 2**14 if args.smoke else 2**22
    tf_rows = [(name, f"{ms:.2f}", f"{ratio:.2f}×", f"{lo:.2f}–{hi:.2f}")
               for name, (ms, ratio, lo, hi) in bench_tf(size, rounds).items()]
    tf_table = markdown_table(["forward+backward (XLA)", "ms", "÷ GELU", "quartiles"], tf_rows)
    print(tf_table)
    keras_rows = []
    for backend in BACKENDS:
        r = _keras_in_child(backend, args.smoke)
        keras_rows.append((backend, f"{r['gelu_s']:.3f}", f"{r['rational_s']:.3f}",
                           f"{r['ratio']:.2f}×"))
    keras_table = markdown_table(["Keras backend", "GELU epoch (s)", "RationalLayer epoch (s)",
                                  "÷ GELU"], keras_rows)
    print(keras_table)
    out = args.out or (None if args.smoke else DEFAULT_OUT)
    if out is not None:
        body = (
            f"Measured on {environment()}; TensorFlow {_version('tensorflow')}, "
            f"Keras {_version('keras')}. Command: `python benchmarks/bench_tf_keras.py"
            f"{' --smoke' if args.smoke else ''}`. Figures from a shared machine are noisy.\n\n"
            f"## TensorFlow: `rational` under `jit_compile=True`, {size} float32 elements\n\n"
            "dL/dx and both coefficient gradients, interleaved with GELU; ratio = median over "
            f"{rounds} rounds of the per-round time ratio.\n\n{tf_table}\n"
            f"## Keras: one `fit` epoch, MLP {width}→{width}→{width}→10, {samples} samples, "
            "batch 256\n\nTwo activations per model; each backend in its own process; median "
            f"over {keras_rounds} interleaved epochs.\n\n"
            f"{keras_table}"
        )
        write_markdown(out, "TensorFlow and Keras benchmarks", body)
        print(f"wrote {out}")


def _version(module: str) -> str:
    import importlib

    return importlib.import_module(module).__version__


if __name__ == "__main__":
    main()
