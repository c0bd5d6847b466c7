"""Progress on stderr while indexing and evaluating: a bar on a terminal; elsewhere (cron,
CI, ``2>log``) a plain line every so often; nothing with ``--quiet``."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..records import Progress as IndexProgress

PLAIN_EVERY = 10.0  # seconds between plain progress lines


class Estimate:
    """Speed and time left, from passages embedded per second: embedding is the work, and
    files differ too much in size for a count of them to say how much is left. The passages
    still to embed are estimated from those cut so far per byte read."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._first: tuple[float, int] | None = None  # (when, passages) at the first commit: after the model loaded
        self.rate: float | None = None
        self.left: float | None = None

    def update(self, event: IndexProgress) -> None:
        now = self._clock()
        if self._first is None:
            if event.passages:
                self._first = (now, event.passages)
            return
        since, passages = self._first
        if event.passages <= passages or now <= since:
            return
        self.rate = (event.passages - passages) / (now - since)
        if event.bytes_done and event.bytes_total:
            expected = event.passages_cut * event.bytes_total / event.bytes_done
            self.left = max(0.0, expected - event.passages) / self.rate

    def describe(self) -> str:
        if self.rate is None:
            return ""
        left = f", about {_duration(self.left)} left" if self.left is not None else ""
        return f"{self.rate:.0f} passages/s{left}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


class IndexProgressBar:
    """Fed by the indexer's progress callback: a Rich bar on a terminal; otherwise one plain
    line every ``every`` seconds; nothing when ``quiet``.

    Args:
        console: stderr.
        quiet: show nothing.
        every: seconds between plain lines (when stderr is not a terminal).
        clock: the time, in seconds (tests pass their own).
    """

    def __init__(self, console: Console, quiet: bool = False, every: float = PLAIN_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._console = console
        self._quiet = quiet
        self._bar = console.is_terminal and not quiet
        self._every = every
        self._clock = clock
        self._estimate = Estimate(clock)
        self._last_line: float | None = None
        self._progress = Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} files"),
            TextColumn("{task.fields[passages]} passages"),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not self._bar,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> IndexProgressBar:
        return self  # the bar appears with the first progress event, not before

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, event: IndexProgress) -> None:
        if self._quiet:
            return
        self._estimate.update(event)
        if self._bar:
            if self._task is None:
                self._progress.start()
                self._task = self._progress.add_task("index", total=event.files_total, passages=0, speed="")
            self._progress.update(self._task, completed=event.files_done, passages=event.passages,
                                  speed=self._estimate.describe())
            return
        now = self._clock()
        if self._last_line is None:
            self._last_line = now
        elif now - self._last_line >= self._every:
            self._last_line = now
            speed = self._estimate.describe()
            self._console.print(Text(f"semsearch: indexing: {event.files_done}/{event.files_total} files, "
                                     f"{event.passages} passages embedded" + (f", {speed}" if speed else "")),
                                soft_wrap=True)


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
