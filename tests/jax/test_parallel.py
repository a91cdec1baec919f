"""Data parallel on 4 host devices: the same coefficient gradients as on one device.

The device count must be set before JAX initialises, so the check runs in a fresh process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("jax")

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import AxisType, NamedSharding, PartitionSpec as P
    from rationals.jax import op, rational

    assert jax.device_count() == 4, jax.devices()
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(0, 1.5, (64, 24)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(64, 24)), jnp.float32)
    a = jnp.asarray(rng.uniform(-1, 1, (2, 6)), jnp.float32)  # grouped over 24 channels
    b = jnp.asarray(rng.uniform(-1, 1, (4, 4)), jnp.float32)

    def loss(a, b, x, y, implementation="auto"):  # auto: the compiled CPU kernels
        return jnp.mean((rational(x, a, b, "A", implementation=implementation) - y) ** 2)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    want = grad(a, b, x, y)
    np.testing.assert_allclose(want[0], jax.grad(loss)(a, b, x, y, "xla"), rtol=1e-5, atol=1e-6)

    mesh = jax.make_mesh((4,), ("data",))
    batch = NamedSharding(mesh, P("data"))
    xs, ys = jax.device_put(x, batch), jax.device_put(y, batch)
    checks = {"jit with sharded inputs": grad(a, b, xs, ys)}

    def local(a, b, x, y):  # each device: its quarter of the batch; the loss is their mean
        return jax.grad(lambda a, b: jax.lax.pmean(loss(a, b, x, y), "data"), (0, 1))(a, b)

    checks["shard_map"] = jax.jit(jax.shard_map(
        local, mesh=mesh, in_specs=(P(), P(), P("data"), P("data")), out_specs=P()
    ))(a, b, xs, ys)

    op.CPU_CHUNK = 64  # XLA path: inputs this large take the chunked CPU backward, unless sharded
    chunked = jax.jit(jax.grad(lambda a, b, x, y: loss(a, b, x, y, "xla"), argnums=(0, 1)))
    checks["jit, explicit mesh axes, chunk size 64"] = chunked(a, b, xs, ys)
    auto = NamedSharding(jax.make_mesh((4,), ("data",), axis_types=(AxisType.Auto,)), P("data"))
    xa, ya = jax.device_put(x, auto), jax.device_put(y, auto)
    checks["jit, auto mesh axes, chunked"] = chunked(a, b, xa, ya)
    assert "while" in chunked.lower(a, b, xa, ya).compile().as_text()

    for name, got in checks.items():
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=name)
    print("ok", *checks)
    """
)


def test_data_parallel_gradients_match_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, cwd=root, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("ok"), out.stdout
