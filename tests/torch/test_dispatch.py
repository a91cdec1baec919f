"""The op's glue to the Triton kernels (memory-order views, channel axis, strides of results).

Without a GPU the kernels run in Triton's interpreter on CPU tensors: the op is pointed at them
for CPU inputs, and must give what its composed path gives.
"""

from __future__ import annotations

import os

import pytest
import torch

pytest.importorskip("triton")
os.environ.setdefault("TRITON_INTERPRET", "1")  # before the kernels are first used

from rationals.torch import op, rational
from rationals.torch.kernels import triton_rational

from .helpers import case


@pytest.mark.parametrize(
    ("shape", "axis", "gn", "gd", "channels_last"),
    [((3, 7), 1, 0, 0, False), ((2, 3, 8), -1, 1, 4, False), ((2, 4, 3, 3), 1, 2, 4, True)],
    ids=["shared", "kat", "nchw-channels-last"],
)
def test_triton_glue_matches_the_composed_path(monkeypatch, shape, axis, gn, gd, channels_last):
    if not triton_rational.is_available():
        pytest.skip("Triton cannot run here")
    x, a, b = case("A", (5, 4), shape, gn, gd)
    x = x.float()
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    a, b = a.float(), b.float()

    def run():
        xt, at, bt = (t.clone().requires_grad_() for t in (x, a, b))
        y = rational(xt, at, bt, "A", channel_axis=axis)
        y.backward(torch.ones_like(y))
        return y, xt.grad, at.grad, bt.grad

    want = run()
    monkeypatch.setattr(op, "_triton_for", lambda t: triton_rational)
    got = run()
    assert got[0].stride() == want[0].stride()
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
