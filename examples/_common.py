"""Helpers shared by the examples: arguments, output folder, the digits data, training, tables."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent


def parser(doc: str) -> argparse.ArgumentParser:
    """Arguments every example takes: ``--quick`` (smoke-test size) and ``--out``."""
    p = argparse.ArgumentParser(description=doc.strip().split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny run (seconds), for tests")
    p.add_argument("--out", type=Path, default=None, help="output folder (default outputs/<name>)")
    return p


def parse(p: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the arguments; ``--quick`` runs the eager composed kernels (no compilation wait)."""
    args = p.parse_args()
    if args.quick:
        from rationals.torch import use_compiled_kernels

        use_compiled_kernels("never")
    return args


def output_dir(args: argparse.Namespace, name: str) -> Path:
    """``args.out`` or ``outputs/<name>`` under the repository root, created."""
    out = args.out or ROOT / "outputs" / name
    out.mkdir(parents=True, exist_ok=True)
    return out


def digits(seed: int = 0, as_images: bool = True, quick: bool = False) -> tuple[torch.Tensor, ...]:
    """scikit-learn's 8×8 digits: standardised train/test tensors (80/20, stratified).

    ``quick`` keeps 192 training images (three batches per epoch), for smoke tests.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.images.astype(np.float32) / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, data.target, test_size=0.2, random_state=seed, stratify=data.target
    )
    mean, std = x_tr.mean(), x_tr.std()
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    if quick:
        x_tr, y_tr = x_tr[:192], y_tr[:192]
    shape = (-1, 1, 8, 8) if as_images else (-1, 64)
    return (
        torch.from_numpy(x_tr.reshape(shape)),
        torch.from_numpy(y_tr).long(),
        torch.from_numpy(x_te.reshape(shape)),
        torch.from_numpy(y_te).long(),
    )


def cnn(activation: Callable[[], nn.Module], batch_norm: bool = False) -> nn.Sequential:
    """conv(1→16) act conv(16→32) act maxpool dense(512→64) act dense(64→10) on 8×8 images.

    ``batch_norm`` normalises every pre-activation (as ERA's authors recommend).
    """

    def norm(kind: type[nn.Module], size: int) -> list[nn.Module]:
        return [kind(size)] if batch_norm else []

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        *norm(nn.BatchNorm2d, 16),
        activation(),
        nn.Conv2d(16, 32, 3, padding=1),
        *norm(nn.BatchNorm2d, 32),
        activation(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        *norm(nn.BatchNorm1d, 64),
        activation(),
        nn.Linear(64, 10),
    )


def train_classifier(
    model: nn.Module,
    data: tuple[torch.Tensor, ...],
    *,
    epochs: int,
    seed: int,
    lr: float = 2e-3,
    batch_size: int = 64,
    on_epoch_end: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Adam on cross-entropy; returns test accuracy, seconds per epoch and the last train loss."""
    x_tr, y_tr, x_te, y_te = data
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    times, loss = [], float("nan")
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        for idx in torch.randperm(len(x_tr), generator=gen).split(batch_size):
            opt.zero_grad()
            batch_loss = loss_fn(model(x_tr[idx]), y_tr[idx])
            batch_loss.backward()
            opt.step()
            loss = batch_loss.item()
        times.append(time.perf_counter() - start)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_te).argmax(1) == y_te).float().mean().item()
    # the first epoch includes one-off compilation: report the median of the rest when there is one
    per_epoch = float(np.median(times[1:] if len(times) > 1 else times))
    return {"accuracy": accuracy, "seconds_per_epoch": per_epoch, "train_loss": loss}


def mean_std(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    """``mean ± std`` (std omitted for a single value)."""
    v = np.asarray(values, dtype=float) * scale
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_report(path: Path, title: str, intro: str, table: str) -> None:
    """Write ``title``, ``intro`` and ``table`` to ``path`` and echo them."""
    text = f"# {title}\n\n{intro.strip()}\n\n{table}"
    path.write_text(text)
    print(text)
    print(f"wrote {path}")
