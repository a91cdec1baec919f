"""A grouped (KAT-style) rational MLP block in a small MLP-Mixer on digits.

The Kolmogorov–Arnold Transformer (Yang & Wang, 2024) replaces a transformer's channel MLP,
Linear → GELU → Linear, by a "GR-KAN": group rational → Linear → group rational → Linear, where a
group rational has one numerator shared by all channels and one denominator per group of
contiguous channels (version A, degrees (5, 4), 8 groups), the first initialised to the identity
and the second to GELU. Here the 8×8 digits are 8 tokens of 8 pixels, mixed by a token MLP
(GELU, the same for every model), and the channel MLP of each block is either the standard one or
a GR-KAN with 8 groups (KAT), 1 group (shared) or one group per channel. Writes ``results.md``
and ``rationals.png`` (the first KAT model's group rationals over their inputs).

    python examples/kat_group_mlp.py [--quick] [--epochs 20] [--seeds 3]
"""

from __future__ import annotations

from collections.abc import Callable

import _common
import torch
from torch import nn

import rationals
from rationals.stats import record_torch
from rationals.torch import Rational

DIM, TOKENS = 32, 8


def group_rational(approx_func: str, channels: int, groups: int) -> Rational:
    """KAT's layout: a shared numerator, ``groups`` denominators, channels last."""
    return Rational(
        approx_func,
        degrees=(5, 4),
        version="A",
        numerator_groups=1 if groups < channels else channels,
        denominator_groups=groups,
        channel_axis=-1,
    )


def gr_kan(groups: Callable[[int], int]) -> Callable[[], nn.Module]:
    """GR-KAN: rational(identity) → Linear(d, 4d) → rational(gelu) → Linear(4d, d)."""
    return lambda: nn.Sequential(
        group_rational("identity", DIM, groups(DIM)),
        nn.Linear(DIM, 4 * DIM),
        group_rational("gelu", 4 * DIM, groups(4 * DIM)),
        nn.Linear(4 * DIM, DIM),
    )


CHANNEL_MLPS: dict[str, Callable[[], nn.Module]] = {
    "MLP (GELU)": lambda: nn.Sequential(
        nn.Linear(DIM, 4 * DIM), nn.GELU(), nn.Linear(4 * DIM, DIM)
    ),
    "GR-KAN, 8 groups (KAT)": gr_kan(lambda c: 8),
    "GR-KAN, 1 group": gr_kan(lambda c: 1),
    "GR-KAN, per channel": gr_kan(lambda c: c),
}


class MixerBlock(nn.Module):
    """x + token_mlp(norm(x)ᵀ)ᵀ, then x + channel_mlp(norm(x)); x is (batch, tokens, channels)."""

    def __init__(self, channel_mlp: nn.Module):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.tokens = nn.Sequential(
            nn.Linear(TOKENS, 2 * TOKENS), nn.GELU(), nn.Linear(2 * TOKENS, TOKENS)
        )
        self.channels = channel_mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channels(self.norm2(x))


class Mixer(nn.Module):
    """Rows of the image as tokens → embedding → blocks → mean over tokens → classes."""

    def __init__(self, channel_mlp: Callable[[], nn.Module], depth: int = 2):
        super().__init__()
        self.embed = nn.Linear(8, DIM)
        self.position = nn.Parameter(torch.zeros(TOKENS, DIM))
        self.blocks = nn.Sequential(*(MixerBlock(channel_mlp()) for _ in range(depth)))
        self.head = nn.Sequential(nn.LayerNorm(DIM), nn.Linear(DIM, 10))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.embed(images.reshape(-1, TOKENS, 8)) + self.position
        return self.head(self.blocks(x).mean(dim=1))


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, default=3)
    args = _common.parse(p)
    channel_mlps = CHANNEL_MLPS
    if args.quick:  # a smoke test: the code paths, not the comparison
        args.epochs, args.seeds = 2, 1
        channel_mlps = {k: CHANNEL_MLPS[k] for k in ("MLP (GELU)", "GR-KAN, 8 groups (KAT)")}
    out = _common.output_dir(args, "kat_group_mlp")
    data = _common.digits(quick=args.quick)

    rows = []
    for name, channel_mlp in channel_mlps.items():
        runs = []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            model = Mixer(channel_mlp)
            first = seed == 0 and "KAT" in name
            recorder = record_torch(model, range=(-6.0, 6.0)) if first else None
            runs.append(
                _common.train_classifier(model, data, epochs=args.epochs, seed=seed, lr=3e-3)
            )
            if recorder is not None:
                recorder.remove()
                rationals.plot(model, stats=recorder).savefig(out / "rationals.png", dpi=100)
            print(f"{name:<24} seed {seed}: accuracy {runs[-1]['accuracy']:.4f}")
        params = sum(p.numel() for p in model.parameters())
        rows.append(
            [
                name,
                params,
                _common.mean_std([r["accuracy"] for r in runs], 100.0),
                _common.mean_std([r["seconds_per_epoch"] for r in runs], digits=3),
            ]
        )
    headers = ["channel MLP", "parameters", "test accuracy %", "s / epoch"]
    intro = (
        f"scikit-learn digits as 8 tokens × 8 pixels; MLP-Mixer, width {DIM}, 2 blocks; Adam "
        f"(lr 3e-3, batch 64), {args.epochs} epochs, {args.seeds} seed(s), mean ± std over seeds."
    )
    _common.write_report(
        out / "results.md",
        "Grouped (KAT-style) rational MLP block",
        intro,
        _common.markdown_table(headers, rows),
    )


if __name__ == "__main__":
    main()
