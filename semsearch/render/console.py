"""Formats, consoles and one-line messages: what every renderer shares."""

from __future__ import annotations

from enum import Enum

from rich.console import Console

from .escape import terminal_text


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    tsv = "tsv"
    csv = "csv"
    paths = "paths"


MACHINE_FORMATS = (Format.json, Format.jsonl)


def choose_format(requested: Format | None, console: Console) -> Format:
    """``--format`` wins; otherwise a table on a terminal, TSV when piped."""
    if requested is not None:
        return requested
    return Format.table if console.is_terminal else Format.tsv


def stdout_console() -> Console:
    return Console(soft_wrap=False, highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def error(console: Console, message: str) -> None:
    """One line on stderr, no markup interpretation, control characters (newlines too) visible."""
    console.print(terminal_text(f"semsearch: error: {message}", style="red"), soft_wrap=True)


def notice(console: Console, message: str) -> None:
    """A notice (not an error): one line on stderr, no markup interpretation, control characters visible."""
    console.print(terminal_text(f"semsearch: {message}", style="yellow"), soft_wrap=True)
