"""The ``rationals`` command: fit a rational to a function, list the init tables, plot checkpoints.

Examples::

    rationals fit gelu --degrees 5 4 --version A
    rationals fit "np.sin(3 * x)" --degrees 6 5 --version B --domain -2 2 --plot sin.png
    rationals table --function gelu
    rationals plot model.pt --output model.png --version A
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .core import VERSIONS

__all__ = ["load_checkpoint", "main", "parse_function"]


def parse_function(spec: str) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """A known function name (``gelu``, ``swish``…) or a numpy expression in ``x``.

    Expressions see ``np`` (numpy), ``special`` (scipy.special) and ``x``, e.g. ``"np.sin(x)"``
    or ``"x * special.expit(x)"``. Returns the vectorised function and a display name.
    """
    from .core.init.functions import ALIASES, APPROX_FUNCS, target

    if spec in APPROX_FUNCS or spec in ALIASES:
        return target(spec), spec
    from scipy import special

    code = compile(spec, "<function>", "eval")

    def func(x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(eval(code, {"np": np, "special": special, "x": x}), np.shape(x))

    try:
        func(np.linspace(-1.0, 1.0, 3))
    except Exception as err:
        raise SystemExit(
            f"rationals: {spec!r} is neither a known function ({', '.join(APPROX_FUNCS)}) nor a "
            f"numpy expression in x: {err}"
        ) from None
    return func, spec


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.17g}" for v in np.ravel(values)) + "]"


def _cmd_fit(args: argparse.Namespace) -> int:
    from .core.init import fit

    func, name = parse_function(args.function)
    degrees = tuple(args.degrees)
    result = fit(func, degrees, args.version, domain=tuple(args.domain))
    if args.json:
        print(
            json.dumps(
                {
                    "function": name,
                    "version": args.version,
                    "degrees": list(degrees),
                    "domain": list(args.domain),
                    "numerator": np.ravel(result.numerator).tolist(),
                    "denominator": np.ravel(result.denominator).tolist(),
                    "max_error": float(result.max_error),
                }
            )
        )
    else:
        print(f"{name}: version {args.version}, degrees {degrees}, domain {tuple(args.domain)}")
        print(f"numerator   = {_fmt(result.numerator)}")
        print(f"denominator = {_fmt(result.denominator)}")
        print(f"max error   = {result.max_error:.3e}")
    if args.plot:
        from .plotting import plot

        fig = plot(
            (result.numerator, result.denominator, args.version),
            target=func,
            x_range=tuple(args.domain),
        )
        fig.axes[0].set_title(
            f"{name} ≈ version {args.version} {degrees}, max error {result.max_error:.2e}"
        )
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


def _table_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The shipped table's entries that match the filters, with rational_activations' errors."""
    from .core.init.tables import TABLE_PATH

    entries = json.loads(TABLE_PATH.read_text())["entries"]
    published = json.loads(TABLE_PATH.with_name("published_errors.json").read_text())["errors"]
    rows = []
    for version, by_degrees in entries.items():
        for degrees, by_func in by_degrees.items():
            n, m = map(int, degrees.split("/"))
            for func, entry in by_func.items():
                if (
                    (args.function in (None, func))
                    and (args.version in (None, version))
                    and (args.degrees is None or tuple(args.degrees) == (n, m))
                ):
                    peer = published.get(version, {}).get(degrees, {}).get(func)
                    rows.append(
                        {
                            "function": func,
                            "version": version,
                            "degrees": [n, m],
                            **entry,
                            "published_error": peer,
                        }
                    )
    return rows


def _cmd_table(args: argparse.Namespace) -> int:
    rows = _table_rows(args)
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'function':<12} {'version':<8} {'degrees':<8} {'max error':>10} {'published':>10}")
    for r in rows:
        peer = "" if r["published_error"] is None else f"{r['published_error']:.2e}"
        deg = "{},{}".format(*r["degrees"])
        print(f"{r['function']:<12} {r['version']:<8} {deg:<8} {r['max_error']:>10.2e} {peer:>10}")
        if args.coefficients:
            print(f"    numerator   = {_fmt(r['numerator'])}")
            print(f"    denominator = {_fmt(r['denominator'])}")
    print(
        f"{len(rows)} entries; max |f - R| on [-3, 3]. 'published': the error of "
        "rational_activations' table for the same entry.\n"
        "D uses B's coefficients; identity is exact."
    )
    return 0


def load_checkpoint(path: str | Path) -> Any:
    """What :func:`rationals.plot` can read from a checkpoint file.

    ``.pt``/``.pth``/``.bin`` (a torch ``state_dict``, possibly nested, loaded with
    ``weights_only=True``), ``.keras`` (a Keras model saved with :mod:`rationals.keras` layers)
    or ``.npz`` (arrays whose names end in ``numerator``/``denominator``).
    """
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"rationals: no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth", ".bin"):
        import torch

        return torch.load(path, map_location="cpu", weights_only=True)
    if suffix == ".keras":
        import keras

        import rationals.keras  # noqa: F401  (registers RationalLayer for deserialisation)

        return keras.models.load_model(path)
    if suffix == ".npz":
        return dict(np.load(path))
    raise SystemExit(
        f"rationals: cannot read {path.name}: expected .pt, .pth, .bin, .keras or .npz"
    )


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plotting import collect_layers, plot

    layers = collect_layers(load_checkpoint(args.checkpoint), args.version)
    if not layers:
        raise SystemExit(f"rationals: no numerator/denominator pair found in {args.checkpoint}")
    for name, c in layers.items():
        print(
            f"{name or '(root)'}: version {c.version}, degrees {c.degrees}, "
            f"numerator {c.numerator.shape}, denominator {c.denominator.shape}"
        )
    output = args.output or Path(args.checkpoint).with_suffix(".png")
    fig = plot(layers, target=args.target, x_range=tuple(args.range) if args.range else None)
    fig.savefig(output, dpi=120)
    print(f"wrote {output}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rationals", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="fit a rational function to FUNC and print its coefficients")
    fit.add_argument(
        "function",
        metavar="FUNC",
        help='a known name (gelu, swish, ...) or a numpy expression in x, e.g. "np.sin(x)"',
    )
    fit.add_argument("--degrees", nargs=2, type=int, metavar=("N", "M"), default=(5, 4))
    fit.add_argument("--version", choices=VERSIONS, default="A")
    fit.add_argument("--domain", nargs=2, type=float, metavar=("A", "B"), default=(-3.0, 3.0))
    fit.add_argument("--plot", metavar="PNG", help="also draw the fit into this file")
    fit.add_argument("--json", action="store_true", help="print JSON")
    fit.set_defaults(run=_cmd_fit)

    table = sub.add_parser("table", help="list the shipped initialisation tables and their errors")
    table.add_argument("--function", help="only this target function")
    table.add_argument("--version", choices=[v for v in VERSIONS if v != "D"])
    table.add_argument("--degrees", nargs=2, type=int, metavar=("N", "M"))
    table.add_argument("--coefficients", action="store_true", help="print the coefficients too")
    table.add_argument("--json", action="store_true", help="print JSON")
    table.set_defaults(run=_cmd_table)

    plot = sub.add_parser("plot", help="draw the rational layers of a checkpoint into a PNG")
    plot.add_argument(
        "checkpoint",
        metavar="CHECKPOINT",
        help="a torch state_dict (.pt/.pth), a .keras model or a .npz",
    )
    plot.add_argument("-o", "--output", help="PNG file (default: CHECKPOINT with .png)")
    plot.add_argument(
        "--version", choices=VERSIONS, help="version of layers that do not record one (default A)"
    )
    plot.add_argument("--target", help="also draw this function (e.g. gelu)")
    plot.add_argument(
        "--range", nargs=2, type=float, metavar=("A", "B"), help="x interval (default -3 3)"
    )
    plot.set_defaults(run=_cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rationals`` console script."""
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
