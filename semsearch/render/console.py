"""Formats, consoles and one-line messages: what every renderer shares."""

from __future__ import annotations

import os

from rich.console import Console

from .escape import terminal_text, visible
from .formats import MACHINE_FORMATS, Format

__all__ = ["MACHINE_FORMATS", "Format", "choose_format", "error", "notice", "safe", "stderr_console",
           "stdout_console"]


def safe(text: str) -> str:
    """``text`` with every control character (but newline and tab) shown as an escape, ``\\x1b``."""
    return visible(text, keep_lines=True)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Rich exits 1 here, which means "nothing found"; the command line ends quietly instead.
        raise BrokenPipeError


def choose_format(requested: Format | None, console: Console) -> Format:
    """``--format`` wins; otherwise a table on a terminal, TSV when piped."""
    if requested is not None:
        return requested
    return Format.table if console.is_terminal else Format.tsv


def _colour() -> dict[str, object]:
    """NO_COLOR (https://no-color.org) set to anything: no escape codes at all, not even bold."""
    return {"color_system": None} if os.environ.get("NO_COLOR") else {}


def stdout_console() -> Console:
    return _Console(soft_wrap=False, highlight=False, **_colour())  # type: ignore[arg-type]


def stderr_console() -> Console:
    return _Console(stderr=True, highlight=False, **_colour())  # type: ignore[arg-type]


def error(console: Console, message: str) -> None:
    """One line on stderr, no markup interpretation, control characters (newlines too) visible."""
    console.print(terminal_text(f"semsearch: error: {message}", style="red"), soft_wrap=True)


def notice(console: Console, message: str) -> None:
    """A notice (not an error): one line on stderr, no markup interpretation, control characters visible."""
    console.print(terminal_text(f"semsearch: {message}", style="yellow"), soft_wrap=True)
