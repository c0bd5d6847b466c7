"""Log lines for a process that keeps an index fresh (``watch``, ``serve --watch``):
plain lines on stderr saying what changed. Paths came from the disk: shown as Text,
never as markup, control characters stripped."""

from __future__ import annotations

import time

from rich.console import Console
from rich.text import Text

from ..watching import Update

LISTED = 20  # paths listed per update; a longer burst is summed up


def print_update(update: Update, console: Console) -> None:
    """What one catch-up did: each added, updated and removed file, then a summary line."""
    report, first = update.report, update.first
    stamp = time.strftime("%H:%M:%S")
    changes = [("added", p) for p in report.added] + [("updated", p) for p in report.updated] + \
              [("removed", p) for p in report.removed]
    for verb, path in changes[:LISTED]:
        console.print(Text(f"{stamp} {verb} {path}"), soft_wrap=True, highlight=False)
    if len(changes) > LISTED:
        console.print(Text(f"{stamp} … and {len(changes) - LISTED} more"), soft_wrap=True, highlight=False)
    if first or changes:
        what = "indexed" if first else "updated"
        console.print(Text(f"{stamp} {what} {report.root}: {report.files} files, {report.passages} passages "
                           f"({report.passages_embedded} embedded in {report.seconds:.2f}s)", style="dim"),
                      soft_wrap=True, highlight=False)


def print_line(console: Console, message: str) -> None:
    """One plain line, with the time."""
    console.print(Text(f"{time.strftime('%H:%M:%S')} {message}"), soft_wrap=True, highlight=False)
