"""Results for people, on a terminal: a table when it has room, else stacked like ripgrep's
heading mode (rank, score and ``path:lines`` on one line, the passage indented below).

A passage keeps its line structure (its first few lines; with ``-C N``, all of it and N lines
around it), the query's words are highlighted, and everything from a file is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..records import Hit
from .console import safe

PASSAGE_LINES = 6  # lines of a passage shown (without -C)
LINE_CHARS = 240  # a longer line is cut (without -C)
MIN_PASSAGE = 48  # columns a passage needs beside the location for the table layout
WIDE = 100  # from this width on, a long location is shortened rather than stacked
MIN_LOCATION = 30
INDENT = 4  # of a passage in the stacked layout
TABLE_CHROME = 13  # what a table row spends besides its location and passage: rank, score, padding

Around = Callable[[Hit], tuple[list[str], list[str]]]  # a hit's lines before and after, from its file

_STOP = frozenset({
    "the", "and", "for", "are", "but", "not", "you", "your", "with", "this", "that", "from", "have", "has", "how",
    "can", "does", "did", "into", "when", "where", "which", "who", "why", "will", "about", "what", "was", "were",
    "its", "our", "out",
})


def print_results(results: Sequence[tuple[str | None, list[Hit]]], out: Console, *, query: str | None = None,
                  around: Around | None = None) -> None:
    """One table (or stack) per query; ``query`` is the text to highlight when there is one query."""
    for title, hits in results:
        terms = _terms(title if title is not None else query or "")
        if title is not None:
            out.print(Text(f"“{safe(title)}”", style="bold"), soft_wrap=True)
        if not hits:
            continue
        rows = [(hit, _location(hit), _passage(hit, terms, around)) for hit in hits]
        width = out.width
        longest = max((len(loc) for _, loc, _ in rows), default=0)
        if longest + TABLE_CHROME + MIN_PASSAGE <= width:
            out.print(_table(rows, None))
        elif width >= WIDE:
            out.print(_table(rows, max(MIN_LOCATION, width - TABLE_CHROME - MIN_PASSAGE)))
        else:
            _stack(rows, out)


def _location(hit: Hit) -> str:
    return safe(f"{hit.path}:{hit.start_line}-{hit.end_line}")


def _table(rows: list[tuple[Hit, str, Text]], location_width: int | None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=True)  # a blank line between rows
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("score", justify="right", style="cyan", no_wrap=True)
    table.add_column("location", style="green", no_wrap=True)
    table.add_column("passage", overflow="fold", ratio=1)
    for hit, location, passage in rows:
        shown = location if location_width is None else shorten(location, location_width)
        table.add_row(str(hit.rank), _score(hit.score), shown, passage)
    return table


def _stack(rows: list[tuple[Hit, str, Text]], out: Console) -> None:
    for i, (hit, location, passage) in enumerate(rows):
        if i:
            out.print()
        heading = Text.assemble((f"{hit.rank:>2}", "dim"), "  ", (_score(hit.score), "cyan"), "  ", (location, "green"))
        out.print(heading, soft_wrap=True)  # the whole path, wrapped by the terminal, never cut
        for line in passage.wrap(out, max(20, out.width - INDENT), overflow="fold"):
            out.print(Text(" " * INDENT) + line, soft_wrap=True)


def _score(score: float) -> str:
    return f"{score:.3f}"


def shorten(text: str, width: int) -> str:
    """``text`` (``dir/…/name:lines``) cut in the middle to ``width`` characters: the folders
    give way first, the file name and line range are kept whole where they fit."""
    if len(text) <= width:
        return text
    cut = text.rfind("/")
    tail = text[cut:] if cut > 0 else ""
    if not tail or len(tail) + 4 > width:
        tail = text[len(text) - (width - 1 - (width - 1) // 3):]
    return text[: width - 1 - len(tail)] + "…" + tail


def _passage(hit: Hit, terms: re.Pattern[str] | None, around: Around | None) -> Text:
    lines = _lines(hit.text)
    before: list[str] = []
    after: list[str] = []
    if around is not None:
        before, after = around(hit)
    else:
        lines = [line for line in lines if line]  # a few lines to show: blank ones would waste them
        cut = len(lines) > PASSAGE_LINES
        lines = [line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…" for line in lines[:PASSAGE_LINES]]
        if cut:
            lines.append("…")
    text = Text()
    for line in before:
        text.append(safe(line.rstrip()) + "\n", style="dim")
    body = Text(safe("\n".join(lines)))
    if terms is not None:
        body.highlight_regex(terms, style="bold yellow")
    text.append_text(body)
    for line in after:
        text.append("\n" + safe(line.rstrip()), style="dim")
    return text


def _lines(text: str) -> list[str]:
    """The passage's lines, without trailing spaces, runs of blank lines, or blank ends."""
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _terms(query: str) -> re.Pattern[str] | None:
    """The query's words (and their other forms: ``rotating`` finds ``rotate``) as one pattern."""
    words = {w.lower() for w in re.findall(r"\w{3,}", query)} - _STOP
    stems = sorted({_stem(w) for w in words}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, stems)) + r")\w*", re.IGNORECASE) if stems else None


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
