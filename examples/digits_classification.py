"""PAU-style classification: Rational versions A/B/C/D vs ReLU, GELU and Leaky ReLU on 8×8 digits.

A small CNN (two 3×3 convolutions, max-pooling, a hidden dense layer) is trained with Adam on
scikit-learn's digits for several seeds, once per activation. Each Rational is a separate module
per layer (shared layout, degrees (5, 4), initialised to Leaky ReLU as in the PAU paper). Writes
``results.md`` (test accuracy mean ± std, seconds per epoch, ratio to ReLU) and
``rationals.png`` (the learned rationals of the first seed over their recorded inputs).

    python examples/digits_classification.py [--quick] [--epochs 15] [--seeds 3]
"""

from __future__ import annotations

from collections.abc import Callable

import _common
import torch
from torch import nn

import rationals
from rationals.stats import record_torch
from rationals.torch import Rational

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "Rational A": lambda: Rational(version="A"),
    "Rational B": lambda: Rational(version="B"),
    "Rational C": lambda: Rational(version="C"),
    "Rational D": lambda: Rational(version="D"),
    "ReLU": nn.ReLU,
    "GELU": nn.GELU,
    "Leaky ReLU": lambda: nn.LeakyReLU(0.01),
}


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seeds", type=int, default=3)
    args = _common.parse(p)
    activations = ACTIVATIONS
    if args.quick:  # a smoke test: the code paths, not the comparison
        args.epochs, args.seeds = 2, 1
        activations = {k: ACTIVATIONS[k] for k in ("Rational A", "Rational D", "ReLU")}
    out = _common.output_dir(args, "digits_classification")
    data = _common.digits(quick=args.quick)

    results: dict[str, list[dict[str, float]]] = {}
    recorder = None
    for name, act in activations.items():
        results[name] = []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            model = _common.cnn(act)
            if name == "Rational A" and seed == 0:  # record what the first model's rationals see
                recorder = record_torch(model, bins=80, range=(-8.0, 8.0))
            r = _common.train_classifier(model, data, epochs=args.epochs, seed=seed)
            results[name].append(r)
            print(
                f"{name:<12} seed {seed}: accuracy {r['accuracy']:.4f}, "
                f"{r['seconds_per_epoch']:.3f} s/epoch"
            )
            if recorder is not None and name == "Rational A" and seed == 0:
                recorder.remove()
                fig = rationals.plot(model, stats=recorder, target="leaky_relu")
                fig.savefig(out / "rationals.png", dpi=110)

    relu_time = sum(r["seconds_per_epoch"] for r in results["ReLU"]) / args.seeds
    rows = []
    for name, runs in results.items():
        seconds = [r["seconds_per_epoch"] for r in runs]
        rows.append(
            [
                name,
                _common.mean_std([r["accuracy"] for r in runs], 100.0),
                _common.mean_std(seconds, digits=3),
                f"{sum(seconds) / len(seconds) / relu_time:.2f}×",
            ]
        )
    table = _common.markdown_table(
        ["activation", "test accuracy %", "s / epoch", "time vs ReLU"], rows
    )
    intro = (
        f"scikit-learn digits (1437 train / 360 test images, 8×8), small CNN, Adam (lr 2e-3, "
        f"batch 64), {args.epochs} epochs, {args.seeds} seed(s); mean ± std over seeds. "
        f"Rationals: degrees (5, 4), one per layer, initialised to Leaky ReLU."
    )
    _common.write_report(
        out / "results.md", "Digits: rational versions vs fixed activations", intro, table
    )


if __name__ == "__main__":
    main()
