"""Smoke tests of the benchmark runner (``nox -s benchmarks``, benchmarks/run.py) and its shared helpers.

They check the machinery (arguments, tables), never how fast anything is.
"""

from __future__ import annotations

import importlib
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from synco_core.testing.services import require_tool

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def runner(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), *args], capture_output=True, text=True,
                          check=False, timeout=300, cwd=cwd)


@pytest.fixture
def bench_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, ModuleType]]:
    """``common`` and ``run`` imported as the scripts import each other (from the benchmarks folder)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield importlib.import_module("common"), importlib.import_module("run")
    for name in ("common", "run"):
        sys.modules.pop(name, None)


def test_unknown_benchmark_exits_1_before_running_any(tmp_path: Path) -> None:
    result = runner("age", "nosuch", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "no benchmark named 'nosuch'"
    assert "===" not in result.stdout  # age, named first, did not start


def test_options_are_split_from_names(bench_modules: tuple[ModuleType, ModuleType]) -> None:
    _, run = bench_modules
    assert run.split_arguments(["pull", "--size", "full"]) == (["pull"], ["--size", "full"])
    assert run.split_arguments(["age", "pull", "--", "--repeat", "2"]) == (["age", "pull"], ["--repeat", "2"])
    assert run.split_arguments(["--size", "full"]) == ([], ["--size", "full"])
    assert run.split_arguments([]) == ([], [])


def test_runner_passes_options_to_the_script(tmp_path: Path) -> None:
    """``run.py age --size 1 ...`` must reach bench_age.py: its table names the size it was given."""
    require_tool("age", "age")
    result = runner("age", "--size", "1", "--repeat", "1", "--dir", str(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "=== age ===" in result.stdout
    assert "age v1, X25519, 1 MB (medians of 1, in turns)" in result.stdout
    for row in ("encrypt", "decrypt (process, no sync)", "`synco decrypt` (fsync)", "same sync"):
        assert row in result.stdout
    assert "open an X25519 artifact" in result.stdout


def test_measure_and_table(bench_modules: tuple[ModuleType, ModuleType], capsys: pytest.CaptureFixture[str]) -> None:
    common, _ = bench_modules
    synco, reference = common.measure_interleaved(
        [common.Case("synco", ["true"]), common.Case("ref", "true")], repeat=2
    )
    assert len(synco.seconds) == len(reference.seconds) == 2
    assert synco.median == statistics.median(synco.seconds)
    common.print_table("smoke", [("case one", synco, reference)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "smoke"
    assert lines[2].split()[:6] == ["case", "synco", "s", "ref", "s", "ratio"] and "ref MB" in lines[2]
    cells = lines[4].split()
    assert cells[:2] == ["case", "one"] and float(cells[4]) == pytest.approx(synco.median / reference.median, abs=0.01)
    assert cells[-1] == "ref"


def test_resync_processes_measures_every_process(tmp_path: Path) -> None:
    """bench_resync_processes.py runs both ways on a small tree and prints a CPU figure for each process."""
    result = subprocess.run([sys.executable, str(BENCHMARKS / "bench_resync_processes.py"), "--files", "600",
                             "--repeat", "1", "--dir", str(tmp_path / "data")], capture_output=True, text=True,
                            check=False, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "1 % re-sync of 600 small files: medians of 1 (wall s; the rest CPU s)" in lines
    header = next(line for line in lines if "index worker" in line)
    assert header.split() == ["wall", "serve", "head", "walker", "receive", "index", "worker"]
    for way in ("one after the other", "at once"):
        (row,) = [line for line in lines if line.startswith(way)]
        figures = [float(cell) for cell in row[len(way):].split()]
        assert len(figures) == 6 and figures[0] > 0 and figures[1] > 0 and figures[4] > 0, row
    # Its sessions and its copy are removed; the generated tree is kept for the next run.
    assert not list((tmp_path / "data" / "project" / "web").glob("synco-*"))
    assert not (tmp_path / "data" / "received").exists()
