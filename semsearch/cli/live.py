"""What the long-lived commands (``watch``, ``serve``, ``mcp``) share: stopping cleanly on
Ctrl-C or SIGTERM, and their log lines on stderr."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from ..errors import ExitStatus, IndexLockedError
from ..render import stderr_console
from ..render.watch import print_line, print_update
from ..watching import Update


@contextmanager
def until_stopped(what: str) -> Iterator[None]:
    """Run until Ctrl-C or SIGTERM, then say so and exit 130 (what was committed is kept)."""
    def terminated(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    except KeyboardInterrupt:
        print_line(stderr_console(), f"stopped {what}")
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def log_update(update: Update) -> None:
    print_update(update, stderr_console())


def log_wait(exc: IndexLockedError) -> None:
    print_line(stderr_console(), f"{exc}; trying again shortly")
