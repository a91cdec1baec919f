"""GPU benchmarks of the Triton kernels (issue 5), as ratios to GELU measured in the same process.

1. Forward+backward of (5, 4) version A, shared coefficients, on 2^24..2^28 float32 and bfloat16
   elements, against ``torch.nn.functional.gelu`` + ``aten.gelu_backward``: time ratio and achieved
   bytes/s (5 passes over the input's bytes: x in, R out; x and dL/dR in, dL/dx out) as a fraction
   of the measured device-to-device copy bandwidth and of the card's nominal HBM bandwidth.
2. KAT's grouped layout ((1, 6) numerator, (8, 4) denominators, channels last, C = 768): our
   backward (per-tile partial sums, no atomics) against a reimplementation of KAT's reduction,
   written from its description in the FlashKAT paper: every element adds its coefficient-gradient
   terms to the [groups, K] buffer with ``tl.atomic_add``. Both share our per-element math.
3. One training step (AdamW) of a ViT-B-like MLP block, x + fc2(act(fc1(LayerNorm(x)))), under
   bfloat16 autocast, with the KAT-layout Rational against GELU.

Usage: ``python benchmarks/bench_triton_gpu.py [--smoke] [--out docs/benchmarks/triton_gpu.md]``.
``--smoke`` runs tiny sizes on CPU through Triton's interpreter (CI keeps the script working) and
writes nothing unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

if "--smoke" in sys.argv[1:]:  # before Triton is imported: its CPU interpreter runs the kernels
    os.environ["TRITON_INTERPRET"] = "1"

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import environment, markdown_table, time_interleaved, timed, write_markdown

from rationals.core import initial_coefficients
from rationals.torch.kernels import triton_kernels as K
from rationals.torch.kernels import triton_rational

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "triton_gpu.md"
#: Nominal HBM bandwidth (bytes/s) by a substring of torch.cuda.get_device_name().
NOMINAL_BANDWIDTH = {
    "H200": 4.8e12, "H100 NVL": 3.9e12, "H100 80GB HBM3": 3.35e12, "H100 PCIe": 2.0e12,
    "A100-SXM4-80GB": 2.039e12, "A100 80GB PCIe": 1.935e12, "A100-SXM4-40GB": 1.555e12,
}


@triton.jit
def _atomic_backward_kernel(x_ptr, g_ptr, dx_ptr, tab, grads, outer, F, L,
                            N: tl.constexpr, M: tl.constexpr, KMAX: tl.constexpr,
                            PMAX: tl.constexpr, BO: tl.constexpr, BF: tl.constexpr,
                            BL: tl.constexpr):
    """Version A backward with KAT's reduction: one atomic add per element and coefficient."""
    offs, mask, f, _, _ = K._tile(tl.program_id(0), outer, F, L, BO, BF, BL)
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    r, pos, neg, big, sgn, z, v, s, sig, _, iq = K._pieces(
        x, tab, f, F, KMAX, N, M, True, False, 0.0, PMAX)
    gq = tl.where(mask, g * iq, 0.0)
    for i in tl.static_range(N + 1):
        if i % 2 == 1:
            w = gq * sgn
        else:
            w = gq
        tl.atomic_add(grads + f * (N + 1 + M) + i + 0 * offs,
                      w * K._mag(pos, neg, s, big, i, M, False), mask=mask)
    gr = tl.where(mask, -g * r * iq, 0.0)
    for j in tl.static_range(1, M + 1):
        tl.atomic_add(grads + f * (N + 1 + M) + N + j + 0 * offs,
                      gr * K._mag(pos, neg, s, big, j, M, False), mask=mask)
    hd = K._horner(K._row(tab, K._AD, N + 1, f, F, KMAX), K._row(tab, K._UXD, N + 1, f, F, KMAX),
                   N + 1, x, big)
    hd += tl.where(big, z * K._poly(K._row(tab, K._UZD, M, f, F, KMAX), M, z), 0.0)
    tdh = K._horner(K._row(tab, K._DD, M + 1, f, F, KMAX), K._row(tab, K._DR, M + 1, f, F, KMAX),
                    M + 1, v, big)
    dx = g * (hd * iq * sig - r * (tl.where(big, z, sgn) * tdh * iq))
    tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=mask)


def atomic_backward(grad, x, numerator, denominator):
    """KAT-style backward of version A (channels last): the same outputs as ours."""
    plan = triton_rational._Plan(K, x, numerator, denominator, "A", -1)
    v = plan.v
    block = 4096 if K.INTERPRET else 1024
    bo, bf, bl = K.tile_shape(plan.outer, plan.fine, plan.length, block)
    dx = torch.empty_like(x)
    grads = torch.zeros((plan.fine, plan.ka + plan.kb), device=x.device)
    _atomic_backward_kernel[(K.tile_counts(plan.outer, plan.fine, plan.length, block)[0],)](
        x, grad, dx, plan.table, grads, plan.outer, plan.fine, plan.length, N=v.n, M=v.m,
        KMAX=plan.args["KMAX"], PMAX=max(v.n, v.m), BO=bo, BF=bf, BL=bl,
        num_warps=4 if block <= 1024 else 8,
    )
    da, db = torch.empty_like(numerator), torch.empty_like(denominator)
    K.fold[(plan.ga + plan.gb,)](grads, plan.denominator, da, db, plan.ga,
                                 plan.fine // plan.ga, plan.fine // plan.gb, KA=plan.ka,
                                 KB=plan.kb, SIGN_B=True, KP=8)
    return dx, da, db


class _KernelRational(torch.autograd.Function):
    """The kernels with the least glue: R forward, fused backward (saves x only)."""

    @staticmethod
    def forward(ctx, x, numerator, denominator):
        ctx.save_for_backward(x, numerator, denominator)
        return triton_rational.forward(x, numerator, denominator, "A", -1)

    @staticmethod
    def backward(ctx, grad):
        return triton_rational.backward(grad, *ctx.saved_tensors, "A", -1)


class KernelRational(torch.nn.Module):
    """KAT's layout: one numerator (1, 6), 8 denominator groups (8, 4), channels last."""

    def __init__(self, device: str):
        super().__init__()
        a, b = initial_coefficients(None, (5, 4), "A")
        self.numerator = torch.nn.Parameter(torch.tensor(a, dtype=torch.float32).reshape(1, -1))
        self.denominator = torch.nn.Parameter(torch.tensor(b, dtype=torch.float32).repeat(8, 1))
        self.to(device)

    def forward(self, x):
        return _KernelRational.apply(x, self.numerator, self.denominator)


def _coefficients(device: str, groups: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = (torch.tensor(c, dtype=torch.float32, device=device)
            for c in initial_coefficients(None, (5, 4), "A"))
    return (a, b) if not groups else (a.reshape(1, -1), b.repeat(groups, 1))


def _copy_bandwidth(device: str, sync: Callable | None) -> float:
    """Bytes/s of a device-to-device copy of 2^28 bytes (read + write), median of 5."""
    src = torch.empty(2**26, device=device)
    dst = torch.empty_like(src)
    seconds = [timed(lambda: dst.copy_(src), sync) for _ in range(6)][1:]
    return 2 * src.numel() * src.element_size() / statistics.median(seconds)


def _fwd_bwd(x, g, a, b) -> dict[str, Callable[[], object]]:
    return {
        "rational": lambda: (triton_rational.forward(x, a, b, "A", -1),
                             triton_rational.backward(g, x, a, b, "A", -1)),
        "gelu": lambda: (torch.nn.functional.gelu(x), torch.ops.aten.gelu_backward(g, x)),
    }


def bench_elementwise(exponents, rounds, device, sync, peak, nominal) -> str:
    rows = []
    a, b = _coefficients(device)
    for dtype in (torch.float32, torch.bfloat16):
        for e in exponents:
            x = (torch.randn(2**e, device=device) * 1.5).to(dtype)
            g = torch.randn(2**e, device=device).to(dtype)
            res = time_interleaved(_fwd_bwd(x, g, a, b), "gelu", rounds=rounds, warmup=2,
                                   sync=sync)
            r, lo_hi = res["rational"], "–".join(f"{q:.2f}" for q in res["rational"].ratio_spread)
            rate = 5 * x.numel() * x.element_size() / r.median_seconds
            rows.append((
                str(dtype).removeprefix("torch."), f"2^{e}", f"{r.median_seconds * 1e3:.3f}",
                f"{res['gelu'].median_seconds * 1e3:.3f}", f"{r.ratio:.2f}× ({lo_hi})",
                f"{rate / 1e9:.3g}", f"{rate / peak:.0%}",
                f"{rate / nominal:.0%}" if nominal else "–",
            ))
    return markdown_table(["dtype", "elements", "Rational ms", "GELU ms", "÷ GELU (quartiles)",
                           "Rational GB/s", "÷ copy", "÷ nominal HBM"], rows)


def bench_grouped(tokens, rounds, device, sync) -> str:
    x = torch.randn(tokens, 768, device=device) * 1.5
    g = torch.randn_like(x)
    a, b = _coefficients(device, groups=8)
    ours, theirs = (triton_rational.backward(g, x, a, b, "A", -1), atomic_backward(g, x, a, b))
    for u, w in zip(ours, theirs, strict=True):  # the baseline computes the same gradients
        torch.testing.assert_close(u, w, rtol=1e-3, atol=1e-3 * float(w.abs().max()))
    res = time_interleaved({
        "partial sums": lambda: triton_rational.backward(g, x, a, b, "A", -1),
        "per-element atomics (KAT)": lambda: atomic_backward(g, x, a, b),
    }, "per-element atomics (KAT)", rounds=rounds, warmup=2, sync=sync)
    rows = [(name, f"{m.median_seconds * 1e3:.3f}", f"{1 / m.ratio:.2f}×")
            for name, m in res.items()]
    return markdown_table(["backward, (1, 6)/(8, 4), x = "
                           f"({tokens}, 768) float32", "ms", "speed-up over atomics"], rows)


class Block(torch.nn.Module):
    """x + fc2(act(fc1(LayerNorm(x)))), hidden width 4·dim."""

    def __init__(self, dim: int, act: torch.nn.Module):
        super().__init__()
        self.norm, self.act = torch.nn.LayerNorm(dim), act
        self.fc1, self.fc2 = torch.nn.Linear(dim, 4 * dim), torch.nn.Linear(4 * dim, dim)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


def bench_mlp(shape, rounds, device, sync) -> str:
    dim = shape[-1]
    acts = {"GELU": torch.nn.GELU(), "Rational (kernels)": KernelRational(device)}
    if device == "cuda":  # the user's path: the custom op dispatching to the kernels
        from rationals.torch import Rational

        acts["rationals.torch.Rational"] = Rational(
            degrees=(5, 4), version="A", numerator_groups=1, denominator_groups=8,
            channel_axis=-1, device=device)
    x = torch.randn(*shape, device=device)
    steps = {}
    for name, act in acts.items():
        torch.manual_seed(0)
        block = Block(dim, act).to(device)
        opt = torch.optim.AdamW(block.parameters(), lr=1e-4)

        def step(block=block, opt=opt):
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device, dtype=torch.bfloat16):
                loss = block(x).float().pow(2).mean()
            loss.backward()
            opt.step()

        steps[name] = step
    res = time_interleaved(steps, "GELU", rounds=rounds, warmup=3, sync=sync)
    rows = [(name, f"{m.median_seconds * 1e3:.2f}", f"{m.ratio:.3f}×") for name, m in res.items()]
    return markdown_table([f"training step, x = {tuple(shape)}, bf16 autocast", "ms", "÷ GELU"],
                          rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes on CPU through Triton's interpreter")
    parser.add_argument("--out", type=Path, default=None, help=f"markdown file ({DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --smoke (CPU, Triton's interpreter)")
    device = "cpu" if args.smoke else "cuda"
    sync = None if args.smoke else torch.cuda.synchronize
    rounds = 3 if args.smoke else 15
    name = "CPU (Triton interpreter)" if args.smoke else torch.cuda.get_device_name()
    nominal = next((bw for key, bw in NOMINAL_BANDWIDTH.items() if key in name), None)
    peak = _copy_bandwidth(device, sync)
    sections = [
        ("Forward+backward, (5, 4) version A, shared",
         bench_elementwise((10,) if args.smoke else (24, 26, 28), rounds, device, sync, peak,
                           nominal)),
        ("Grouped backward: partial sums vs per-element atomics",
         bench_grouped(8 if args.smoke else 16384, rounds, device, sync)),
        ("MLP block training step (AdamW)",
         bench_mlp((2, 4, 16) if args.smoke else (64, 197, 768), rounds, device, sync)),
    ]
    header = (f"Device: {name}; copy bandwidth {peak / 1e9:.0f} GB/s"
              + (f", nominal HBM {nominal / 1e9:.0f} GB/s" if nominal else "")
              + f"; torch {torch.__version__}, triton {triton.__version__}; {environment()}. "
              f"Ratios: median over {rounds} interleaved rounds of the per-round time ratio.\n")
    body = header + "".join(f"\n## {title}\n\n{table}" for title, table in sections)
    print(body)
    out = args.out or (None if args.smoke else DEFAULT_OUT)
    if out is not None:
        write_markdown(out, "Triton kernels on the GPU", body)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
