"""DDP with gloo on 2 CPU processes: coefficient gradients equal one process on the whole batch."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from rationals.torch import Rational

WORLD = 2


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8), Rational(numerator_groups=2, denominator_groups=4), nn.Linear(8, 1),
        Rational("tanh", version="B"),
    ).to(torch.float64)


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 4, generator=g, dtype=torch.float64), torch.randn(16, 1, generator=g,
                                                                            dtype=torch.float64)


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (model(x) - y).square().mean()


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=WORLD)
    try:
        model = _model()
        ddp = nn.parallel.DistributedDataParallel(model)
        x, y = _data()
        _loss(ddp, x.chunk(WORLD)[rank], y.chunk(WORLD)[rank]).backward()
        grads = {name: p.grad for name, p in model.named_parameters()}
        torch.save(grads, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_coefficient_gradients_match_one_process(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    model = _model()
    _loss(model, *_data()).backward()
    for rank in range(WORLD):
        grads = torch.load(tmp_path / f"rank{rank}.pt")
        for name, p in model.named_parameters():
            torch.testing.assert_close(grads[name], p.grad, rtol=1e-10, atol=1e-12, msg=name)
    assert {"1.numerator", "1.denominator", "3.denominator"} <= set(grads)
