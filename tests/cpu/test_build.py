"""Building the C++ kernels: cached by content, clear errors without a compiler."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rationals import cpu


def test_geometry_views_x_around_the_channel_axis():
    assert cpu.geometry((2, 3, 4, 5), 1, 3) == (2, 3, 20)
    assert cpu.geometry((2, 3, 4, 5), 3, 5) == (24, 5, 1)
    assert cpu.geometry((2, 6, 4), 1, 2) == (2, 2, 12)  # rows of 3 channels × 4
    assert cpu.geometry((2, 3, 4, 5), None) == (1, 1, 120)
    assert cpu.geometry((0, 3), 1, 3) == (0, 3, 1)


def test_row_count_is_the_lcm_of_the_group_counts():
    assert cpu.row_count(1, 8) == 8
    assert cpu.row_count(4, 6) == 12
    assert cpu.row_count(1, 1) == 1


def test_supports_degrees_up_to_the_kernel_limit():
    assert cpu.supports(cpu.MAX_DEGREE, 4)
    assert not cpu.supports(cpu.MAX_DEGREE + 1, 4)


def test_a_missing_compiler_is_a_build_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("RATIONALS_CACHE", str(tmp_path))
    with pytest.raises(cpu.BuildError, match="no-such-compiler"):
        cpu.build.__wrapped__("jax_ffi.cc")


def test_a_failing_build_reports_the_compiler_output(tmp_path, monkeypatch):
    monkeypatch.setenv("RATIONALS_CACHE", str(tmp_path))
    with pytest.raises(cpu.BuildError, match=r"jax_ffi\.cc failed:[\s\S]*ffi"):
        cpu.build.__wrapped__("jax_ffi.cc")  # without the XLA FFI headers on the include path
    assert not list(tmp_path.glob("*.so"))


def test_kernels_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("RATIONALS_CPU_KERNELS", "0")
    assert not cpu.enabled()
    monkeypatch.setenv("RATIONALS_CPU_KERNELS", "1")
    assert cpu.enabled()


def _fake_compiler(calls):
    """subprocess.run standing in for the compiler: --version works, a build writes its -o file."""

    def run(command, **kwargs):
        calls.append(command)
        if "-o" in command:
            Path(command[command.index("-o") + 1]).write_bytes(b"library")
        return subprocess.CompletedProcess(command, 0, stdout="fake c++ 1.0", stderr="")

    return run


def test_builds_are_cached_by_content(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cpu.subprocess, "run", _fake_compiler(calls))
    monkeypatch.setenv("CXX", "c++")
    monkeypatch.setenv("RATIONALS_CACHE", str(tmp_path))
    first = cpu.build.__wrapped__("jax_ffi.cc", ("/include",))
    assert first.parent == tmp_path and first.read_bytes() == b"library"
    assert cpu.build.__wrapped__("jax_ffi.cc", ("/include",)) == first  # no second build
    assert sum("-o" in c for c in calls) == 1
    other = cpu.build.__wrapped__("jax_ffi.cc", ("/other",))  # other flags: another library
    assert other != first and sum("-o" in c for c in calls) == 2


def test_an_unwritable_cache_falls_back_to_the_temporary_directory(monkeypatch, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setattr(cpu.subprocess, "run", _fake_compiler([]))
    monkeypatch.setenv("CXX", "c++")
    monkeypatch.setenv("RATIONALS_CACHE", str(blocked / "cache"))
    monkeypatch.setattr(cpu.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    built = cpu.build.__wrapped__("jax_ffi.cc")
    assert built.parent.parent == tmp_path / "tmp" and built.exists()


def test_a_failed_build_is_tried_once_and_warned_once():
    from rationals.core.variants import variant

    calls = []

    def load():
        calls.append(1)
        raise cpu.BuildError("the compiler crashed")

    v = variant("A", (5, 4))
    with pytest.warns(RuntimeWarning, match="using numpy: the compiler crashed"):
        assert cpu.unavailable(v, load, "numpy") == "the compiler crashed"
    assert cpu.unavailable(v, load, "numpy") == "the compiler crashed"
    assert len(calls) == 1
    assert cpu.unavailable(variant("A", (cpu.MAX_DEGREE + 1, 2)), load, "numpy") == (
        f"degrees ({cpu.MAX_DEGREE + 1}, 2) exceed {cpu.MAX_DEGREE}")
