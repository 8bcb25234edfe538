"""Progress output for receive: rich bars on stderr in a terminal, nothing otherwise.

The transfer code only calls the three context managers of :class:`Reporter`; when output is not a
terminal (CI, a pipe, tests) they do nothing, so the code paths are the same either way.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


class Reporter:
    """Progress bars per artifact and per public set, on stderr."""

    def __init__(self, enabled: bool | None = None, console: Console | None = None) -> None:
        # rich is imported only when bars are shown: a receive in a pipe or a script starts faster.
        self.enabled = sys.stderr.isatty() if enabled is None and console is None else bool(enabled)
        if console is not None and enabled is None:
            self.enabled = console.is_terminal
        self._console = console
        self._lock = threading.Lock()

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return self._console

    @contextlib.contextmanager
    def spinner(self, text: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self.console.status(text):
            yield

    def _progress(self, *columns: Any) -> Progress:
        from rich.progress import Progress

        return Progress(*columns, console=self.console, transient=False)

    @contextlib.contextmanager
    def bytes_task(self, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A bar for one artifact; yields ``advance(n)``."""
        if not self.enabled:
            yield lambda _n: None
            return
        from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn

        progress = self._progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), TimeRemainingColumn())
        with progress:
            task = progress.add_task(label, total=total or None)
            yield lambda n: progress.advance(task, n)

    @contextlib.contextmanager
    def files_task(self, label: str, files: int,
                   total_bytes: int | None) -> Iterator[tuple[Callable[[int], None], Callable[[], None]]]:
        """A bar for a public set; yields ``(on_bytes(n), on_file())``, both safe to call from threads."""
        if not self.enabled:
            yield (lambda _n: None), (lambda: None)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeRemainingColumn

        progress = self._progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[received]}"), TimeRemainingColumn(), SpinnerColumn())
        with progress:
            task = progress.add_task(f"{label} (files)", total=files, received="")
            counted = [0]

            def on_bytes(n: int) -> None:
                with self._lock:
                    counted[0] += n
                    received = counted[0]
                progress.update(task, received=f"{received / 1e6:,.1f} MB")

            def on_file() -> None:
                progress.advance(task, 1)

            yield on_bytes, on_file
