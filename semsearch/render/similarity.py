"""``semsearch similarity``: the score as a number, the record as JSON, and the passage pairs."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..records import Compared, Passage, Similarity
from .console import MACHINE_FORMATS, Format
from .machine import write_json


def show_similarity(result: Similarity, fmt: Format, out: Console) -> None:
    """json/jsonl: the record. Otherwise the score on the first line, then (with pairs) a table on
    a terminal, or one tab-separated line per pair: score, A's lines, B's lines, A's text, B's text."""
    if fmt in MACHINE_FORMATS:
        write_json(result.to_dict(), fmt)
        return
    sys.stdout.write(f"{result.score:.6f}\n")
    if not result.pairs:
        sys.stdout.flush()
        return
    if fmt is Format.table:
        sys.stdout.flush()
        out.print(_table(result))
        return
    for pair in result.pairs:
        cells = [f"{pair.score:.6f}", _where(result.a, pair.a), _where(result.b, pair.b), pair.a.text, pair.b.text]
        sys.stdout.write("\t".join(" ".join(c.split()) for c in cells) + "\n")
    sys.stdout.flush()


def _table(result: Similarity) -> Table:
    table = Table(title="best-matching passages", title_justify="left")
    table.add_column("score", justify="right", style="cyan")
    for side in ("A", "B"):
        table.add_column(side, style="green", no_wrap=True, overflow="fold")
        table.add_column(f"passage of {side}", overflow="fold")
    for pair in result.pairs:
        table.add_row(f"{pair.score:.3f}", Text(_where(result.a, pair.a)), Text(trim(pair.a.text)),
                      Text(_where(result.b, pair.b)), Text(trim(pair.b.text)))
    return table


def _where(side: Compared, passage: Passage) -> str:
    name = "stdin" if side.source == "-" else side.source
    return f"{name}:{passage.start_line}-{passage.end_line}"


def trim(text: str, limit: int = 320) -> str:
    """A passage on one line, cut at a word near ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"
