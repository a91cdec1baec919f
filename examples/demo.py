"""Main demo: a small MLP on scikit-learn's digits with Rational, ReLU and GELU activations.

Trains the same network three times (only the activation differs), prints a table of test
accuracy and time per training step, and saves a plot of the learned rational activations next
to their initialisation, over a histogram of the inputs each layer sees on the test set, to
``outputs/demo_activations.png``. Runs on CPU in about a minute; no downloads (the digits ship
with scikit-learn).

Usage: ``python examples/demo.py [--epochs 25] [--out outputs]``
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import matplotlib
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from tqdm import tqdm

from rationals.torch import Rational

ROOT = Path(__file__).resolve().parent.parent
ACTIVATIONS = {"Rational (A, 5/4)": Rational, "ReLU": nn.ReLU, "GELU": nn.GELU}


def data() -> tuple[torch.Tensor, ...]:
    """Standardised 8×8 digits as 64-vectors: train/test split 80/20, stratified."""
    digits = load_digits()
    x = digits.data.astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    mean, std = x_tr.mean(0), x_tr.std(0) + 1.0
    return (
        torch.from_numpy((x_tr - mean) / std),
        torch.from_numpy(y_tr),
        torch.from_numpy((x_te - mean) / std),
        torch.from_numpy(y_te),
    )


def mlp(activation: type[nn.Module]) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(64, 64), activation(), nn.Linear(64, 64), activation(), nn.Linear(64, 10)
    )


def train(model: nn.Module, x, y, epochs: int, bar: tqdm) -> tuple[float, float]:
    """Adam, batches of 64; returns (median ms per training step, total seconds).

    The total includes, for Rational, the one-time compilation of its CPU kernels (they are
    compiled once they are hot, after 50 calls), which the median step time leaves out.
    """
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    seconds = []
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(64):
            start = time.perf_counter()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seconds.append(time.perf_counter() - start)
            bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return 1e3 * float(np.median(seconds)), float(np.sum(seconds))


def accuracy(model: nn.Module, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def layer_inputs(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    """What each Rational layer receives on ``x`` (through forward hooks)."""
    seen = []
    hooks = [
        m.register_forward_hook(lambda m, args, out: seen.append(args[0].flatten().numpy()))
        for m in model.modules()
        if isinstance(m, Rational)
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return seen


def plot(initial: nn.Module, trained: nn.Module, inputs: list[np.ndarray], path: Path) -> None:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = [
        (a, b)
        for a, b in zip(initial.modules(), trained.modules(), strict=True)
        if isinstance(a, Rational)
    ]
    fig, axes = plt.subplots(1, len(layers), figsize=(5 * len(layers), 3.8))
    grid = torch.linspace(-4, 4, 401)
    for i, (ax, (start, end), seen) in enumerate(zip(axes, layers, inputs, strict=True)):
        hist = ax.twinx()
        hist.hist(seen, bins=80, range=(-4, 4), color="0.85")
        hist.set_yticks([])
        ax.set_zorder(hist.get_zorder() + 1)
        ax.patch.set_visible(False)
        with torch.no_grad():
            ax.plot(grid, start(grid), "--", color="tab:gray", label="initial (leaky ReLU fit)")
            ax.plot(grid, end(grid), color="tab:red", label="learned")
        ax.set_title(f"Rational layer {i + 1} (histogram: its test-set inputs)")
        ax.set_xlabel("x")
        ax.legend(loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--out", type=Path, default=ROOT / "outputs")
    args = p.parse_args()
    x_tr, y_tr, x_te, y_te = data()
    steps = args.epochs * -(-len(x_tr) // 64)
    rows, rational_models = [], None
    for name, activation in ACTIVATIONS.items():
        model = mlp(activation)
        initial = copy.deepcopy(model)
        with tqdm(total=steps, desc=f"{name:>18}", unit="step") as bar:
            ms, total = train(model, x_tr, y_tr, args.epochs, bar)
        rows.append((name, accuracy(model, x_te, y_te), ms, total))
        if activation is Rational:
            rational_models = (initial, model)
    print(f"\n{'activation':<20}{'test accuracy':>15}{'ms / step':>12}{'training s':>12}")
    for name, acc, ms, total in rows:
        print(f"{name:<20}{acc:>15.4f}{ms:>12.2f}{total:>12.1f}")
    print("(ms / step: median; training s: total, with Rational's one-time kernel compilation)")
    path = args.out / "demo_activations.png"
    plot(*rational_models, layer_inputs(rational_models[1], x_te), path)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
