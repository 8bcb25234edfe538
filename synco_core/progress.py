"""Progress output for serve, receive and pull: rich bars on stderr in a terminal, nothing otherwise.

The transfer code only calls the three context managers of :class:`Reporter`; when output is not a
terminal (CI, a pipe, tests) they do nothing, so the code paths are the same either way.

All bars live in one display, so several can run at once: ``synco pull`` streams the dump while the
files arrive, and each has its bar (rich allows one live display at a time). ``serve`` shows its dump
(the table, rows and bytes written, and the time left from the server's row estimates) and its packing.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from synco_core.sizes import human_size

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress, TaskID

    class _Display(Progress):
        #: Called before every drawing of the display (in rich's drawing thread), to take counts kept aside.
        before_draw: list[Callable[[], None]]


class Reporter:
    """Progress bars per artifact and per public set, on stderr."""

    def __init__(self, enabled: bool | None = None, console: Console | None = None) -> None:
        # rich is imported only when bars are shown: a receive in a pipe or a script starts faster.
        self.enabled = sys.stderr.isatty() if enabled is None and console is None else bool(enabled)
        if console is not None and enabled is None:
            self.enabled = console.is_terminal
        self._console = console
        self._lock = threading.Lock()
        self._display: Progress | None = None
        self._tasks = 0

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return self._console

    @contextlib.contextmanager
    def _task(self, description: str, total: float | None, *, keep: bool = True,
              **fields: Any) -> Iterator[tuple[Progress, TaskID]]:
        """A task in the shared display, which starts with the first task and stops after the last."""
        with self._lock:
            if self._display is None:
                self._display = _display(self.console)
                self._display.start()
            display = self._display
            self._tasks += 1
            task = display.add_task(description, total=total, **fields)
        try:
            yield display, task
        finally:
            with self._lock:
                if not keep:
                    display.remove_task(task)
                self._tasks -= 1
                if not self._tasks:
                    display.stop()
                    self._display = None

    @contextlib.contextmanager
    def spinner(self, text: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self._task(text, None, keep=False, kind=""):
            yield

    @contextlib.contextmanager
    def bytes_task(self, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A bar for one artifact (``total`` None: its size is not known yet); yields ``advance(n)``."""
        if not self.enabled:
            yield lambda _n: None
            return
        with self._task(label, total or None, kind="bytes") as (display, task):
            yield lambda n: display.advance(task, n)
            if not total:
                # Done: what arrived was all of it, so the bar ends full.
                done = next(item.completed for item in display.tasks if item.id == task)
                display.update(task, total=done or 1)

    @contextlib.contextmanager
    def files_task(self, label: str, files: int,
                   total_bytes: int | None) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
        """A bar for a public set; yields ``(on_bytes(n), on_file(skipped_bytes))``, both safe from threads.

        ``on_file`` is called once per file, with the file's size when it was skipped as current (0 when it
        was downloaded or failed): the time left is the bytes still to come at the rate they arrive.

        ``on_file`` only counts: the bar takes the counts when it is drawn (:func:`_display`'s ``before_draw``,
        ten times a second) and once more when the set ends. A re-sync's merge calls it for every current file,
        and telling rich each time (two updates under its lock, a speed sample) cost 3 µs a file, a third of
        the merge's own CPU, in every receive run in a terminal.
        """
        if not self.enabled:
            yield (lambda _n: None), (lambda _skipped: None)
            return
        with self._task(f"{label} (files)", files, kind="files", received=0, skipped=0,
                        total_bytes=total_bytes or 0) as (display, task):
            counted = [0, 0]
            # Files done and the bytes of those skipped, under a lock of their own that is never held while
            # rich is called (the drawing thread holds rich's lock when it takes them).
            done = [0, 0]
            done_lock = threading.Lock()

            def on_bytes(n: int) -> None:
                with self._lock:
                    counted[0] += n
                    received = counted[0]
                display.update(task, received=received)

            def on_file(skipped_bytes: int) -> None:
                with done_lock:
                    done[0] += 1
                    done[1] += skipped_bytes

            def draw() -> None:
                with done_lock:
                    files_done, skipped = done
                display.update(task, completed=files_done, skipped=skipped)

            draws = cast("_Display", display).before_draw
            draws.append(draw)
            try:
                yield on_bytes, on_file
            finally:
                draws.remove(draw)
                draw()

    @contextlib.contextmanager
    def dump_task(self, label: str, tables: int, rows_estimate: int,
                  written: Callable[[], int]) -> Iterator[DumpBar]:
        """A bar for a dump of ``tables`` tables, full at ``rows_estimate`` rows (0: not known, no time left).

        Yields a :class:`DumpBar` for the engines' reports (:mod:`synco_core.dumpprogress`); ``written()``
        tells the bytes the dump has written so far, read whenever the bar is drawn.
        """
        if not self.enabled:
            yield DumpBar(None, None, tables)
            return
        with self._task(label, rows_estimate or None, kind="dump", table="", tables_done=0, tables=tables,
                        written=written) as (display, task):
            bar = DumpBar(display, task, tables)
            yield bar
            # Done: the estimate was only an estimate, so the bar ends full at what was really dumped.
            display.update(task, total=max(1, bar.rows_done), completed=max(1, bar.rows_done))


class DumpBar:
    """One dump's bar: told the table, the rows and the bytes by the dumping thread(s)."""

    def __init__(self, display: Progress | None, task: TaskID | None, tables: int) -> None:
        self._display = display
        self._task = task
        self._tables = tables
        self._started = 0
        self._lock = threading.Lock()
        self.rows_done = 0

    def table(self, name: str) -> None:
        self._started += 1
        if self._display is not None and self._task is not None:
            self._display.update(self._task, table=name, tables_done=self._started)

    def rows(self, count: int) -> None:
        with self._lock:
            self.rows_done += count
        if self._display is not None and self._task is not None:
            self._display.advance(self._task, count)


def _display(console: Console) -> Progress:
    """One display for every kind of bar: the detail column shows bytes or files, as the task is."""
    from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
    from rich.text import Text

    def files_rate(task: Task) -> float:
        """Bytes per second a public set has been arriving at since it started (0 before the first byte)."""
        received = int(task.fields.get("received") or 0)
        elapsed = task.elapsed or 0.0
        return received / elapsed if received and elapsed > 0 else 0.0

    class TimeLeft(TimeRemainingColumn):
        def render(self, task: Task) -> Text:
            total = int(task.fields.get("total_bytes") or 0)
            rate = files_rate(task)
            if task.fields.get("kind") != "files" or not total or not rate or task.finished:
                return super().render(task)
            # By bytes, not files: one large file takes longer than many small ones.
            left = max(0, total - int(task.fields.get("received") or 0) - int(task.fields.get("skipped") or 0))
            minutes, seconds = divmod(int(left / rate), 60)
            hours, minutes = divmod(minutes, 60)
            return Text(f"{hours}:{minutes:02d}:{seconds:02d}", style="progress.remaining")

    class Detail(ProgressColumn):
        def render(self, task: Task) -> Text:
            kind = task.fields.get("kind")
            if kind == "files":
                # The bar counts files; bytes and their rate (since the set started) are what a user waits on.
                received = int(task.fields.get("received") or 0)
                rate = f"  {human_size(int(files_rate(task)))}/s" if files_rate(task) else ""
                return Text(f"{int(task.completed)}/{int(task.total or 0)}  {human_size(received)}{rate}")
            if kind == "bytes":
                total = f" / {human_size(int(task.total))}" if task.total else ""
                speed = f"  {human_size(int(task.speed))}/s" if task.speed else ""
                return Text(f"{human_size(int(task.completed))}{total}{speed}")
            if kind == "dump":
                # The bar counts rows against the server's estimate; the table and the bytes are what a user
                # recognises.
                table = task.fields.get("table") or ""
                done, tables = int(task.fields.get("tables_done") or 0), int(task.fields.get("tables") or 0)
                position = f"table {done}/{tables} {table}  " if table else ""
                written = task.fields.get("written")
                size = human_size(int(written())) if callable(written) else ""
                return Text(f"{position}{int(task.completed):,} rows  {size}")
            return Text("")

    class Display(Progress):
        """The display, which asks the bars that count aside (:meth:`Reporter.files_task`) for their counts
        before it draws."""

        def __init__(self, *columns: ProgressColumn, **options: Any) -> None:
            self.before_draw: list[Callable[[], None]] = []
            super().__init__(*columns, **options)

        def get_renderables(self) -> Iterable[RenderableType]:
            for draw in list(self.before_draw):
                draw()
            return super().get_renderables()

    return Display(TextColumn("{task.description}"), BarColumn(), Detail(), TimeLeft(), console=console,
                   transient=False)
