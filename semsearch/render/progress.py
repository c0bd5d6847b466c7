"""Progress on stderr while indexing and evaluating (only on a terminal)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..records import Progress as IndexProgress


class IndexProgressBar:
    """A Rich progress bar on stderr fed by the indexer's progress callback."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} files"),
            TextColumn("{task.fields[passages]} passages"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # a log file wants no bar, just the summary
        )
        self._task: TaskID | None = None
        self._started: float | None = None

    def __enter__(self) -> IndexProgressBar:
        return self  # the bar appears with the first progress event, not before

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, event: IndexProgress) -> None:
        now = time.perf_counter()
        if self._task is None:
            self._progress.start()
            self._started = now
            self._task = self._progress.add_task("index", total=event.files_total, passages=0, rate="")
        elapsed = now - (self._started or now)
        rate = f"{event.passages / elapsed:.0f} passages/s" if elapsed > 0.5 and event.passages else ""
        self._progress.update(self._task, completed=event.files_done, passages=event.passages, rate=rate)


class EvalProgressBar:
    """Queries run per mode, on stderr (only on a terminal)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} queries"),
            TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> EvalProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, mode: str, done: int, total: int) -> None:
        if mode not in self._tasks:
            self._progress.start()
            self._tasks[mode] = self._progress.add_task(mode, total=total)
        self._progress.update(self._tasks[mode], completed=done)
