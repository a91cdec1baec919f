"""Make the images of the documentation (docs/images/) from real runs.

* ``plot_layer.png``, ``plot_model.png``, ``evolution.png``: an MLP with two Rational layers
  trained on digits, its input statistics recorded with a snapshot per epoch;
* ``plot_grouped.png``: a KAT-layout layer (one numerator, 8 denominators) with perturbed
  denominators, over normally distributed inputs;
* ``cli_fit.png``: ``rationals fit gelu --degrees 5 4 --version A --plot …``;
* ``variants.png``: every version's GELU initialisation.

    python examples/make_doc_images.py [--quick] [--out docs/images]
"""

from __future__ import annotations

from pathlib import Path

import _common
import numpy as np
import torch
from torch import nn

import rationals
from rationals.cli import main as cli
from rationals.plotting import plot_evolution
from rationals.stats import InputStats, record_torch
from rationals.torch import Rational


def trained_mlp(out_dir: Path, quick: bool) -> None:
    """plot_layer, plot_model and evolution from an MLP trained on digits."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 64),
        Rational("leaky_relu"),
        nn.Linear(64, 64),
        Rational("gelu"),
        nn.Linear(64, 10),
    )
    recorder = record_torch(model, bins=80, range=(-8.0, 8.0))
    _common.train_classifier(
        model,
        _common.digits(as_images=False, quick=quick),
        epochs=2 if quick else 12,
        seed=0,
        on_epoch_end=lambda epoch: recorder.snapshot(f"epoch {epoch + 1}"),
    )
    recorder.remove()
    last = {name: stats.history[-1] for name, stats in recorder.items()}
    rationals.plot(model[1], stats=last["1"], target=True).savefig(
        out_dir / "plot_layer.png", dpi=100
    )
    rationals.plot(model, stats=last, target=True).savefig(out_dir / "plot_model.png", dpi=90)
    plot_evolution(recorder["1"]).savefig(out_dir / "evolution.png", dpi=90)


def grouped(out_dir: Path) -> None:
    """A KAT-layout layer whose 8 denominators have drifted apart."""
    layer = Rational("gelu", numerator_groups=1, denominator_groups=8, channel_axis=-1)
    with torch.no_grad():
        layer.denominator.mul_(torch.linspace(0.4, 1.6, 8)[:, None])
    stats = InputStats(bins=60, range=(-4.0, 4.0))
    stats.update(np.random.default_rng(0).normal(0.0, 1.2, 100_000))
    rationals.plot(layer, stats=stats, target="gelu").savefig(out_dir / "plot_grouped.png", dpi=100)


def variants(out_dir: Path) -> None:
    """Each version initialised to GELU (fitted on [-3, 3]), drawn on [-8, 8]."""
    layers = {}
    for version in ("A", "B", "C", "N", "boulle", "era"):
        degrees = (3, 2) if version == "boulle" else (5, 4)
        num, den = rationals.initial_coefficients("gelu", degrees, version)
        layers[version] = (num, den, version)
    rationals.plot(layers, target="gelu", ncols=3, x_range=(-8.0, 8.0)).savefig(
        out_dir / "variants.png", dpi=80
    )


def main() -> None:
    p = _common.parser(__doc__)
    args = _common.parse(p)
    out_dir = args.out or _common.ROOT / "docs" / "images"
    out_dir.mkdir(parents=True, exist_ok=True)
    trained_mlp(out_dir, args.quick)
    grouped(out_dir)
    variants(out_dir)
    cli(
        [
            "fit",
            "gelu",
            "--degrees",
            "5",
            "4",
            "--version",
            "A",
            "--plot",
            str(out_dir / "cli_fit.png"),
        ]
    )
    print(f"wrote {sorted(p.name for p in out_dir.glob('*.png'))} to {out_dir}")


if __name__ == "__main__":
    main()
