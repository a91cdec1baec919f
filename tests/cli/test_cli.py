"""The ``rationals`` command: fit, table and plot, through main(argv) and the console script."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from rationals import rational
from rationals.cli import main

PAU = (np.array([0.03, 0.6, 1.6, 2.9, 0.9, 0.2]), np.array([1.5, 2.5, 0.7, 0.1]))


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_fit_expression_prints_coefficients_and_their_error(capsys):
    out = json.loads(
        run(
            capsys,
            "fit",
            "np.sin(2 * x)",
            "--degrees",
            "4",
            "3",
            "--version",
            "B",
            "--domain",
            "-1.5",
            "1.5",
            "--json",
        )
    )
    assert out["degrees"] == [4, 3] and out["version"] == "B" and out["domain"] == [-1.5, 1.5]
    x = np.linspace(-1.5, 1.5, 3001)
    error = np.max(np.abs(np.sin(2 * x) - rational(x, out["numerator"], out["denominator"], "B")))
    assert error == pytest.approx(out["max_error"], rel=1e-3, abs=1e-12)
    assert error < 1e-2

    text = run(capsys, "fit", "x * special.expit(x)", "--degrees", "3", "2", "--version", "A")
    lines = text.splitlines()
    assert lines[0] == "x * special.expit(x): version A, degrees (3, 2), domain (-3.0, 3.0)"
    numerator = json.loads(lines[1].split("=", 1)[1])
    assert len(numerator) == 4 and lines[3].startswith("max error   = ")


def test_fit_with_plot_writes_a_png(capsys, tmp_path):
    png = tmp_path / "fit.png"
    out = run(capsys, "fit", "np.tanh(x)", "--degrees", "3", "2", "--plot", str(png))
    assert f"wrote {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_function_names_the_choices():
    with pytest.raises(SystemExit, match=r"neither a known function .* nor a numpy expression"):
        main(["fit", "np.nosuch(x)"])
    with pytest.raises(SystemExit):
        main(["fit", "gelu", "--version", "Z"])  # argparse lists the choices


def test_plot_a_torch_state_dict_with_peer_key_names(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(
        {
            "fc.weight": torch.ones(2, 2),
            "act.numerator": torch.tensor(PAU[0]),
            "act.denominator": torch.tensor(PAU[1]),
            "blocks.0.act1.weight_numerator": torch.tensor(PAU[0])[None],
            "blocks.0.act1.weight_denominator": torch.tensor(PAU[1]).repeat(8, 1),
        },
        path,
    )
    out = run(capsys, "plot", str(path))
    assert "act: version A, degrees (5, 4), numerator (6,), denominator (4,)" in out
    assert "blocks.0.act1: version A, degrees (5, 4), numerator (1, 6), denominator (8, 4)" in out
    assert (tmp_path / "model.png").read_bytes()[:4] == b"\x89PNG"
    png = tmp_path / "other.png"
    out = run(capsys, "plot", str(path), "-o", str(png), "--version", "B", "--range", "-1", "1")
    assert "act: version B" in out and png.exists()


def test_plot_npz_and_errors(capsys, tmp_path):
    path = tmp_path / "coefs.npz"
    np.savez(path, numerator=PAU[0], denominator=PAU[1])
    assert "(root): version A, degrees (5, 4)" in run(capsys, "plot", str(path))
    np.savez(tmp_path / "empty.npz", weight=np.ones(3))
    with pytest.raises(SystemExit, match="no numerator/denominator pair"):
        main(["plot", str(tmp_path / "empty.npz")])
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(SystemExit, match=r"cannot read model\.onnx"):
        main(["plot", str(tmp_path / "model.onnx")])
    with pytest.raises(SystemExit, match="no such file"):
        main(["plot", str(tmp_path / "missing.pt")])


def test_console_script_help():
    result = subprocess.run(
        [sys.executable, "-m", "rationals.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "fit" in result.stdout and "table" in result.stdout and "plot" in result.stdout


def test_table_lists_the_shipped_entries_with_the_peers_errors(capsys):
    from rationals.core import initial_coefficients

    rows = json.loads(run(capsys, "table", "--function", "gelu", "--version", "A", "--json"))
    assert [r["degrees"] for r in rows] == [[3, 2], [4, 4], [5, 4], [6, 5], [7, 6]]
    (r54,) = [r for r in rows if r["degrees"] == [5, 4]]
    num, den = initial_coefficients("gelu", (5, 4), "A")
    np.testing.assert_allclose(r54["numerator"], num)
    x = np.linspace(-3, 3, 60001)
    from rationals.core.init.functions import gelu

    error = np.max(np.abs(gelu(x) - rational(x, num, den, "A")))
    assert r54["max_error"] == pytest.approx(error, rel=1e-6)
    assert r54["max_error"] <= r54["published_error"]

    text = run(capsys, "table", "--degrees", "5", "4", "--version", "era", "--coefficients")
    lines = text.splitlines()
    assert lines[0].split() == ["function", "version", "degrees", "max", "error", "published"]
    assert lines[1].startswith("leaky_relu   era      5,4")
    assert lines[2].startswith("    numerator   = [")
    assert "entries; max |f - R| on [-3, 3]" in text


def test_plot_a_keras_model(capsys, tmp_path):
    keras = pytest.importorskip("keras")
    from rationals.keras import RationalLayer

    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(4), RationalLayer(approx_func="gelu", name="act")]
    )
    path = tmp_path / "model.keras"
    model.save(path)
    out = run(capsys, "plot", str(path), "--target", "gelu")
    assert "act: version A, degrees (5, 4), numerator (6,), denominator (4,)" in out
    assert (tmp_path / "model.png").read_bytes()[:4] == b"\x89PNG"
