"""The progress reporter: silent without a terminal, rich bars with one, safe to call from threads."""

from __future__ import annotations

import io
import re
import threading
from typing import Any

from rich.console import Console

from synco_core.progress import Reporter


def test_disabled_reporter_prints_nothing(capsys: object) -> None:
    reporter = Reporter(enabled=False)
    with reporter.spinner("waiting"), reporter.bytes_task("dump", 10) as advance:
        advance(10)
    with reporter.files_task("files", 2, 20) as (on_bytes, on_file):
        on_bytes(20)
        on_file(0)
    assert capsys.readouterr().err == ""  # type: ignore[attr-defined]


def test_enabled_reporter_draws_bars_from_threads() -> None:
    buffer = io.StringIO()
    reporter = Reporter(console=Console(file=buffer, force_terminal=True, width=120))
    assert reporter.enabled
    with reporter.bytes_task("dbDump", 1000) as advance:
        advance(400)
        advance(600)
    with reporter.files_task("uploads", 40, 4000) as (on_bytes, on_file):
        def work() -> None:
            for _ in range(10):
                on_bytes(100)
                on_file(0)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    output = buffer.getvalue()
    assert "dbDump" in output and "uploads (files)" in output and "40/40" in output


def test_bars_run_at_once_in_one_display() -> None:
    # synco pull: the dump streams (size unknown) while the session is awaited and the files arrive.
    buffer = io.StringIO()
    reporter = Reporter(console=Console(file=buffer, force_terminal=True, width=120))
    with reporter.bytes_task("dbDump (as it is dumped)", None) as advance:
        advance(3_000_000)
        with reporter.spinner("waiting for the session"):
            pass
        with reporter.files_task("uploads", 2, 20) as (on_bytes, on_file):
            on_bytes(20)
            on_file(0)
            on_file(0)
        advance(2_000_000)
    output = buffer.getvalue()
    assert "uploads (files)" in output and "2/2" in output
    # The bar of unknown size ends full, with what arrived.
    assert "5.0 MB / 5.0 MB" in output
    assert reporter._display is None, "the display stops with its last bar"


def test_public_files_bar_shows_bytes_rate_and_time_left() -> None:
    buffer = io.StringIO()
    reporter = Reporter(console=Console(file=buffer, force_terminal=True, width=120))
    with reporter.files_task("uploads", 4, 4_000_000) as (on_bytes, on_file):
        on_file(1_000_000)  # current already: skipped
        on_bytes(1_500_000)
        on_file(0)
        assert reporter._display is not None
        reporter._display.refresh()
        # Half way: files done / total, the bytes received and their rate, and an estimate of the time left.
        line = buffer.getvalue().rsplit("uploads (files)", 1)[1].splitlines()[0]
        on_bytes(1_500_000)
        for _ in range(2):
            on_file(0)
    assert "2/4" in line and "1.5 MB" in line
    assert re.search(r"1\.5 MB  \d+(\.\d+)? [kMG]?B/s", line), line
    assert re.search(r"\d+:\d\d:\d\d", line), line


def test_a_file_counted_costs_no_call_into_rich_and_the_bar_ends_exact() -> None:
    """A re-sync's merge calls ``on_file`` for every current file: it only counts (rich is told when it draws,
    ten times a second, and when the set ends), so a set of many files costs no update of the display per
    file; the bar still ends with every file and every skipped byte, counted from several threads."""
    buffer = io.StringIO()
    reporter = Reporter(console=Console(file=buffer, force_terminal=True, width=120))
    calls: list[str] = []
    files, threads_count = 5_000, 4
    with reporter.files_task("uploads", files * threads_count, 0) as (_on_bytes, on_file):
        display = reporter._display
        assert display is not None
        for name in ("update", "advance"):
            original = getattr(display, name)

            def counted(*args: object, _original: Any = original, _name: str = name, **kwargs: object) -> None:
                calls.append(_name)
                _original(*args, **kwargs)

            setattr(display, name, counted)

        def work() -> None:
            for _ in range(files):
                on_file(7)

        threads = [threading.Thread(target=work) for _ in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        task = display.tasks[-1]
        counted_calls = len(calls)
    # A few draws at most while the threads counted, never one per file.
    assert counted_calls < 100, counted_calls
    assert task.completed == files * threads_count and task.fields["skipped"] == 7 * files * threads_count
    assert f"{files * threads_count}/{files * threads_count}" in buffer.getvalue()
