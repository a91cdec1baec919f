"""MirroredStrategy on two logical CPUs: per-replica coefficient gradients add up to the core's.

Logical devices must be configured before TensorFlow starts, so the strategy runs in a child
process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from rationals.core import rational, rational_backward
from tests.contract.cases import coefficients, inputs

_CHILD = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from rationals.tf import rational
x, a, b = (np.array(v) for v in json.loads(sys.stdin.read()))
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    num, den = tf.Variable(a), tf.Variable(b)
data = strategy.experimental_distribute_dataset(
    tf.data.Dataset.from_tensor_slices(x).batch(len(x)))

def replica_step(xs):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(rational(xs, num, den, "A") ** 2)
    return tape.gradient(loss, [num, den]), tf.shape(xs)[0]

@tf.function
def step(batch):
    grads, rows = strategy.run(replica_step, args=(batch,))
    summed = [strategy.reduce("SUM", g, axis=None) for g in grads]
    return summed, strategy.experimental_local_results(rows)

grads, rows = step(next(iter(data)))
print(json.dumps({"grads": [g.numpy().tolist() for g in grads], "rows": [int(r) for r in rows]}))
"""


def test_mirrored_strategy_sums_coefficient_gradients():
    rng = np.random.default_rng(0)
    x = inputs((8, 6), rng)
    a = coefficients("A", (5, 4), rng, 3, "numerator")
    b = coefficients("A", (5, 4), rng, 0, "denominator")
    child = subprocess.run(
        [sys.executable, "-c", _CHILD], input=json.dumps([x.tolist(), a.tolist(), b.tolist()]),
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    out = json.loads(child.stdout.strip().splitlines()[-1])
    assert out["rows"] == [4, 4]  # each replica saw half the batch
    _, da, db = rational_backward(x, a, b, 2.0 * rational(x, a, b))
    np.testing.assert_allclose(out["grads"][0], da, rtol=1e-10)
    np.testing.assert_allclose(out["grads"][1], db, rtol=1e-10)
