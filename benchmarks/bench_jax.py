"""JAX timings and memory, as ratios to GELU measured in the same process.

``jit(grad)`` of ``sum(f(x))`` on 2^22 float32 elements (gradients with respect to x and, for
rationals, both coefficient arrays), interleaved with the same for ``jax.nn.gelu``; the figure is
the median over rounds of the per-round ratio (``benchmarks/common.py``). Two more pairs: ``grad``
of ``sum(f(x)²)``, where the cotangent reaching f is a temporary as inside a network, and
``jax.vjp`` with a cotangent passed to the jitted function (the rational's kernel writes dL/dx over
its cotangent, so XLA copies a cotangent that is an argument it may not overwrite). On the CPU the
default
path is the compiled kernels (:mod:`rationals.cpu`); the XLA path (``implementation="xla"``, what
other platforms and machines without a compiler use) is timed too. Also: the forward alone, and
the bytes that ``jax.vjp`` keeps for the backward, relative to the input's bytes.

Usage: ``python benchmarks/bench_jax.py [--smoke] [--out docs/benchmarks/jax.md]``.
``--smoke`` runs tiny sizes and writes nothing unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Measurement, environment, markdown_table, time_interleaved, write_markdown

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "jax.md"


def _candidates(size: int):
    """{name: (jitted function, args, what it measures)}; the rationals are version A."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from rationals.jax import initial_coefficients, rational

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(0.0, 1.5, size), jnp.float32)
    g = jnp.asarray(rng.normal(size=size), jnp.float32)
    a, b = initial_coefficients(None, (5, 4), "A")
    a32, b32 = initial_coefficients(None, (3, 2), "A")
    channels = 1024 if size >= 2**14 else 64
    kat = initial_coefficients(None, (5, 4), "A", numerator_groups=1, denominator_groups=8)

    def rational_grad(**kw):
        loss = lambda x, a, b: jnp.sum(rational(x, a, b, "A", **kw))  # noqa: E731
        return jax.jit(jax.grad(loss, argnums=(0, 1, 2)))

    act_grad = lambda f: jax.jit(jax.grad(lambda x: jnp.sum(f(x))))  # noqa: E731
    return {
        "gelu": (act_grad(jax.nn.gelu), (x,), "jit(grad) of sum(gelu(x))"),
        "relu": (act_grad(jax.nn.relu), (x,), "jit(grad) of sum(relu(x))"),
        "rational (5,4)": (rational_grad(), (x, a, b), "jit(grad), shared, the default path"),
        "rational (5,4) XLA path": (rational_grad(implementation="xla"), (x, a, b),
                                    "jit(grad), shared, implementation='xla'"),
        "rational (3,2)": (rational_grad(), (x, a32, b32), "jit(grad), shared"),
        "rational (5,4) KAT (1,6)/(8,4)": (
            rational_grad(), (x.reshape(-1, channels), *kat),
            f"jit(grad), grouped, (N, {channels}) channels last"),
        "rational (5,4) bfloat16": (rational_grad(), (x.astype(jnp.bfloat16), a, b),
                                    "jit(grad), bfloat16 input, float32 compute"),
        "gelu bfloat16": (act_grad(jax.nn.gelu), (x.astype(jnp.bfloat16),),
                          "jit(grad) of sum(gelu(x)), bfloat16 input"),
        "gelu forward": (jax.jit(jax.nn.gelu), (x,), "jit(gelu) forward only"),
        "gelu chain": (act_grad(lambda x: jax.nn.gelu(x) ** 2), (x,),
                       "jit(grad) of sum(gelu(x)²)"),
        "rational (5,4) chain": (
            jax.jit(jax.grad(lambda x, a, b: jnp.sum(rational(x, a, b) ** 2),
                             argnums=(0, 1, 2))),
            (x, a, b), "jit(grad) of sum(rational(x)²), shared"),
        "gelu vjp": (jax.jit(lambda x, g: jax.vjp(jax.nn.gelu, x)[1](g)), (x, g),
                     "jit(vjp) of gelu with a given cotangent"),
        "rational (5,4) vjp": (
            jax.jit(lambda x, a, b, g: jax.vjp(lambda x, a, b: rational(x, a, b), x, a, b)[1](g)),
            (x, a, b, g), "jit(vjp) with a given cotangent, shared"),
        "rational (5,4) forward": (jax.jit(lambda x, a, b: rational(x, a, b)), (x, a, b),
                                   "jit(rational) forward only"),
    }


def saved_bytes_ratio(size: int) -> dict[str, float]:
    """Bytes ``jax.vjp`` keeps for the backward ÷ the input's bytes."""
    import jax
    import jax.numpy as jnp

    from rationals.jax import initial_coefficients, rational

    x = jnp.linspace(-3.0, 3.0, size, dtype=jnp.float32)
    a, b = initial_coefficients()

    def saved(fn, *args):
        _, vjp = jax.vjp(fn, *args)
        return sum(leaf.nbytes for leaf in jax.tree.leaves(vjp) if hasattr(leaf, "nbytes"))

    return {
        "rational (5,4)": saved(lambda x, a, b: rational(x, a, b), x, a, b) / x.nbytes,
        "gelu": saved(jax.nn.gelu, x) / x.nbytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few rounds")
    parser.add_argument("--out", type=Path, default=None, help=f"markdown file ({DEFAULT_OUT})")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    import jax

    size = 2**14 if args.smoke else 2**22
    rounds = args.rounds or (3 if args.smoke else 15)
    candidates = _candidates(size)
    timings = time_interleaved(
        {name: (lambda f=f, a=a: jax.block_until_ready(f(*a)))
         for name, (f, a, _) in candidates.items()},
        baseline="gelu", rounds=rounds,
    )
    rows = []
    for name, (_, _, what) in candidates.items():
        m = timings[name]
        lo, hi = m.ratio_spread
        rows.append([name, what, f"{m.median_seconds * 1e3:.2f}", f"{m.ratio:.2f}",
                     f"{lo:.2f}–{hi:.2f}"])
    paired = {}
    for row in ("chain", "vjp"):
        mine, theirs = timings[f"rational (5,4) {row}"].seconds, timings[f"gelu {row}"].seconds
        m = Measurement(row, mine, [r / g for r, g in zip(mine, theirs, strict=True)])
        paired[row] = f"{m.ratio:.2f} (quartiles {m.ratio_spread[0]:.2f}–{m.ratio_spread[1]:.2f})"
    memory = saved_bytes_ratio(size)
    body = (
        f"Measured by `python benchmarks/bench_jax.py{' --smoke' if args.smoke else ''}` "
        f"({environment()}, JAX {jax.__version__} on {jax.default_backend()}, "
        f"{size} float32 elements, {rounds} interleaved rounds; the machine was shared with "
        "other jobs, so figures are noisy).\n\n"
        + markdown_table(["candidate", "what", "ms", "÷ gelu", "quartiles"], rows)
        + "\nPaired by round, rational (5,4) ÷ gelu: inside a chain (`chain` rows) "
        f"{paired['chain']}; `vjp` with the cotangent an argument of the jitted function "
        f"{paired['vjp']}.\n"
        + "\nBytes kept for the backward ÷ input bytes (`jax.vjp` residuals): "
        + ", ".join(f"{k} {v:.2f}" for k, v in memory.items()) + ".\n"
    )
    print(body)
    out = args.out or (None if args.smoke else DEFAULT_OUT)
    if out is not None:
        print(f"wrote {write_markdown(out, 'JAX benchmark', body)}")


if __name__ == "__main__":
    main()
