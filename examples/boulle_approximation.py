"""Boullé et al.'s approximation experiment, small: rational vs ReLU networks on a smooth function.

As in "Rational neural networks" (NeurIPS 2020, §4.1), fully connected networks approximate a
smooth function of (x, t) — here the sum of two KdV solitons — and the validation error is tracked
over training. The rational network uses Boullé's layer (version ``boulle``, degrees (3, 2),
initialised to their ReLU fit, one rational per layer); the ReLU network has (almost) exactly the
same number of parameters (its last hidden layer is widened to compensate for the rational
coefficients). Writes ``results.md`` (final errors, mean ± std over seeds), ``errors.png``
(validation MSE vs step) and ``rationals.png`` (the learned rationals over their inputs).

    python examples/boulle_approximation.py [--quick] [--steps 3000] [--seeds 3]
"""

from __future__ import annotations

import _common
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

import rationals
from rationals.stats import record_torch
from rationals.torch import Rational

X_RANGE, T_RANGE = (-6.0, 6.0), (0.0, 2.0)


def solitons(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """u(x, t) = Σ c/2 · sech²(√c/2 · (x − c t − x₀)) for (c, x₀) = (2, −3) and (0.5, 0)."""
    u = torch.zeros_like(x)
    for c, x0 in ((2.0, -3.0), (0.5, 0.0)):
        u = u + 0.5 * c / torch.cosh(0.5 * c**0.5 * (x - c * t - x0)) ** 2
    return u


def mlp(widths: list[int], activation: type[nn.Module] | None) -> nn.Sequential:
    """2 → widths… → 1; ``activation=None`` puts a Rational after every hidden layer."""
    layers: list[nn.Module] = []
    for w_in, w_out in zip([2, *widths], widths, strict=False):
        layers += [
            nn.Linear(w_in, w_out),
            Rational(version="boulle") if activation is None else activation(),
        ]
    return nn.Sequential(*layers, nn.Linear(widths[-1], 1))


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def matched_relu_widths(width: int, depth: int, target: int) -> list[int]:
    """Hidden widths of a ReLU net whose parameter count is closest to ``target``."""

    def count(last: int) -> int:
        return parameter_count(mlp([width] * (depth - 1) + [last], nn.ReLU))

    last = min(range(width, 2 * width), key=lambda w: abs(count(w) - target))
    return [width] * (depth - 1) + [last]


def grid(nx: int, nt: int) -> torch.Tensor:
    """(nx·nt, 2) points of the (x, t) rectangle."""
    x, t = torch.meshgrid(torch.linspace(*X_RANGE, nx), torch.linspace(*T_RANGE, nt), indexing="ij")
    return torch.stack([x.reshape(-1), t.reshape(-1)], dim=1)


def train(model: nn.Module, inputs: torch.Tensor, steps: int, val: torch.Tensor, every: int):
    """Full-batch Adam on the MSE; returns the validation MSE every ``every`` steps."""
    target = solitons(inputs[:, 0], inputs[:, 1])[:, None]
    val_target = solitons(val[:, 0], val[:, 1])[:, None]
    scale = torch.tensor([[2 / (X_RANGE[1] - X_RANGE[0]), 2 / (T_RANGE[1] - T_RANGE[0])]])
    shift = torch.tensor([[X_RANGE[0], T_RANGE[0]]])

    def net(z: torch.Tensor) -> torch.Tensor:  # inputs mapped to [-1, 1]²
        return model((z - shift) * scale - 1.0)

    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    history = []
    for step in range(steps):
        opt.zero_grad()
        loss = torch.mean((net(inputs) - target) ** 2)
        loss.backward()
        opt.step()
        sched.step()
        if step % every == every - 1 or step == steps - 1:
            with torch.no_grad():
                err = net(val) - val_target
            history.append((step + 1, err.pow(2).mean().item(), err.abs().max().item()))
    return history


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--points", type=int, default=2048, help="training points")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--depth", type=int, default=3, help="hidden layers")
    args = _common.parse(p)
    if args.quick:
        args.steps, args.seeds, args.points = 10, 1, 256
    out = _common.output_dir(args, "boulle_approximation")
    val = grid(121, 41)
    every = max(args.steps // 60, 1)

    rat_widths = [args.width] * args.depth
    rat_params = parameter_count(mlp(rat_widths, None))
    relu_widths = matched_relu_widths(args.width, args.depth, rat_params)
    nets = {"rational (boulle, 3/2)": (rat_widths, None), "ReLU": (relu_widths, nn.ReLU)}

    histories: dict[str, list] = {}
    rows = []
    for name, (widths, act) in nets.items():
        runs = []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            model = mlp(widths, act)
            inputs = torch.rand(args.points, 2) * torch.tensor(
                [X_RANGE[1] - X_RANGE[0], T_RANGE[1]]
            ) + torch.tensor([X_RANGE[0], 0.0])
            recorder = record_torch(model, range=(-4.0, 4.0)) if act is None and seed == 0 else None
            runs.append(train(model, inputs, args.steps, val, every))
            if recorder is not None:
                recorder.remove()
                rationals.plot(model, stats=recorder).savefig(out / "rationals.png", dpi=110)
            print(
                f"{name:<24} seed {seed}: validation MSE {runs[-1][-1][1]:.3e}, "
                f"max error {runs[-1][-1][2]:.3e}"
            )
        histories[name] = runs
        rows.append(
            [
                name,
                " × ".join(map(str, widths)),
                parameter_count(mlp(widths, act)),
                _common.mean_std([r[-1][1] for r in runs], 1e4, 3),
                _common.mean_std([r[-1][2] for r in runs], 1.0, 4),
            ]
        )

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for i, (name, runs) in enumerate(histories.items()):
        for j, run in enumerate(runs):
            steps, mse = np.array([h[0] for h in run]), np.array([h[1] for h in run])
            ax.semilogy(steps, mse, color=f"C{i}", alpha=0.8, label=name if j == 0 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("validation MSE")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(out / "errors.png", dpi=110)

    headers = ["network", "hidden widths", "parameters", "validation MSE × 1e4", "max abs error"]
    intro = (
        f"Target: two KdV solitons u(x, t) on [{X_RANGE[0]:g}, {X_RANGE[1]:g}] × [{T_RANGE[0]:g}, "
        f"{T_RANGE[1]:g}]; {args.points} random training points, validation on a 121 × 41 "
        f"grid. Full-batch Adam (lr 2e-3, cosine decay), {args.steps} steps, {args.seeds} "
        f"seed(s), mean ± std."
    )
    _common.write_report(
        out / "results.md",
        "Rational vs ReLU networks: approximation",
        intro,
        _common.markdown_table(headers, rows),
    )


if __name__ == "__main__":
    main()
