"""Every example runs end to end at its ``--quick`` size and writes its table and plots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OUTPUTS = {  # script: (files written, rows of its results table)
    "boulle_approximation.py": (["results.md", "errors.png", "rationals.png"], 2),
    "digits_classification.py": (["results.md", "rationals.png"], 3),
    "era_vs_pau.py": (["results.md", "rationals.png"], 2),
    "kat_group_mlp.py": (["results.md", "rationals.png"], 2),
    "stats_overhead.py": (["results.md"], 12),
}
IMAGES = [
    "plot_layer.png",
    "plot_model.png",
    "plot_grouped.png",
    "evolution.png",
    "cli_fit.png",
    "variants.png",
]


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(OUTPUTS))
def test_example_quick(script, tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    files, rows = OUTPUTS[script]
    for name in files:
        assert (tmp_path / name).stat().st_size > 0, name
    table = [
        line for line in (tmp_path / "results.md").read_text().splitlines() if line.startswith("| ")
    ]
    assert len(table) == rows + 1  # header + one row per configuration


@pytest.mark.slow
def test_doc_images(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "make_doc_images.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(IMAGES)


def test_every_example_is_covered():
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts - {"demo.py", "mxnet_gluon.py", "make_doc_images.py"} == set(OUTPUTS)
