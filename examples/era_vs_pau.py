"""ERA vs PAU on the same task: digits, a small CNN with normalised pre-activations.

ERA (Trimmel et al., ECCV 2022) writes the rational as partial fractions, σ(x) = a x + b +
Σ (c_i x + d_i) / ((x − e_i)² + f_i² + ε), and its authors recommend normalised pre-activations
and a swish initialisation; so every pre-activation goes through BatchNorm here, for every
activation alike. Compared: ERA (5, 4) and (3, 2) swish-initialised, PAU version A (5, 4)
initialised to swish and to Leaky ReLU, and GELU. Writes ``results.md`` and ``rationals.png``
(the first ERA model's rationals over their recorded inputs, with the swish target).

    python examples/era_vs_pau.py [--quick] [--epochs 15] [--seeds 3]
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
    "ERA (5, 4), swish": lambda: Rational("swish", degrees=(5, 4), version="era"),
    "ERA (3, 2), swish": lambda: Rational("swish", degrees=(3, 2), version="era"),
    "PAU A (5, 4), swish": lambda: Rational("swish", degrees=(5, 4), version="A"),
    "PAU A (5, 4), leaky ReLU": lambda: Rational("leaky_relu", degrees=(5, 4), version="A"),
    "GELU": nn.GELU,
}


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seeds", type=int, default=3)
    args = _common.parse(p)
    activations = ACTIVATIONS
    if args.quick:  # a smoke test: the code paths, not the comparison
        args.epochs, args.seeds = 2, 1
        activations = {k: ACTIVATIONS[k] for k in ("ERA (5, 4), swish", "PAU A (5, 4), swish")}
    out = _common.output_dir(args, "era_vs_pau")
    data = _common.digits(quick=args.quick)

    rows = []
    for name, act in activations.items():
        runs = []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            model = _common.cnn(act, batch_norm=True)
            first = seed == 0 and name.startswith("ERA (5, 4)")
            recorder = record_torch(model, bins=80, range=(-6.0, 6.0)) if first else None
            runs.append(_common.train_classifier(model, data, epochs=args.epochs, seed=seed))
            if recorder is not None:
                recorder.remove()
                rationals.plot(model, stats=recorder, target="swish").savefig(
                    out / "rationals.png", dpi=110
                )
            print(f"{name:<26} seed {seed}: accuracy {runs[-1]['accuracy']:.4f}")
        params = sum(
            p.numel() for m in model.modules() if isinstance(m, Rational) for p in m.parameters()
        )
        rows.append(
            [
                name,
                params,
                _common.mean_std([r["accuracy"] for r in runs], 100.0),
                _common.mean_std([r["seconds_per_epoch"] for r in runs], digits=3),
            ]
        )
    headers = ["activation", "rational parameters", "test accuracy %", "s / epoch"]
    intro = (
        f"scikit-learn digits, CNN with BatchNorm before every activation, Adam (lr 2e-3, "
        f"batch 64), "
        f"{args.epochs} epochs, {args.seeds} seed(s), mean ± std over seeds."
    )
    _common.write_report(
        out / "results.md", "ERA vs PAU", intro, _common.markdown_table(headers, rows)
    )


if __name__ == "__main__":
    main()
