"""Fit y = sin(3x) with a small Gluon MLP whose activations are learnable rationals.

Run in the MXNet environment: ``.venv-mxnet/bin/python examples/mxnet_gluon.py``.
"""

from __future__ import annotations

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from rationals.mxnet import Rational


def make_net() -> gluon.nn.HybridSequential:
    """Dense(32) → Rational (4 denominator groups over the 32 channels) → Dense(1)."""
    net = gluon.nn.HybridSequential()
    net.add(
        gluon.nn.Dense(32, in_units=1),
        Rational(version="A", denominator_groups=4),  # starts as leaky ReLU
        gluon.nn.Dense(1, in_units=32),
    )
    net.initialize(mx.init.Xavier())
    net.hybridize()
    return net


def train(epochs: int = 100, seed: int = 0) -> list[float]:
    """Train with Adam on 256 points; return the mean squared error of every epoch."""
    mx.random.seed(seed)
    x = np.random.default_rng(seed).uniform(-1, 1, (256, 1)).astype(np.float32)
    data = gluon.data.ArrayDataset(mx.nd.array(x), mx.nd.array(np.sin(3 * x)))
    loader = gluon.data.DataLoader(data, batch_size=32, shuffle=True)
    net = make_net()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    loss_fn = gluon.loss.L2Loss()
    losses = []
    for _ in range(epochs):
        total = 0.0
        for xb, yb in loader:
            with autograd.record():
                loss = loss_fn(net(xb), yb)
            loss.backward()
            trainer.step(xb.shape[0])
            total += loss.sum().asscalar()
        losses.append(2 * total / len(data))  # L2Loss is half the squared error
    return losses


if __name__ == "__main__":
    history = train()
    print(f"mean squared error: epoch 1 {history[0]:.3g}, epoch {len(history)} {history[-1]:.3g}")
