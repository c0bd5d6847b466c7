"""Windows of lines for the context block: one per hit, whole lines from unchanged files,
and the windows of one file that overlap or touch merged into one."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..corpus import FileEntry, read_document
from ..records import Hit, Skipped
from ..storage import Catalog

_MIN_SHARED = 16  # characters two passages as indexed must share to be joined (less could be chance)


@dataclass
class Span:
    """A window of lines of one file, as the block will show it."""

    path: str
    body: list[str]  # the lines the window may show: the whole file, or a passage as indexed
    first: int  # the line number of body[0]
    start: int
    end: int
    rank: int
    score: float
    from_file: bool
    merged: int = 1
    cut: tuple[int, int] | None = None  # lines of the window left out to fit
    cut_mid_line: bool = False
    counts: dict[int, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return self.body[self.start - self.first : self.end - self.first + 1]


def spans_of(hits: Sequence[Hit], catalog: Catalog) -> list[Span]:
    """One window per hit: its whole lines from the file when the file is unchanged."""
    files: dict[str, list[str] | None] = {}
    spans = []
    for order, hit in enumerate(hits):
        if hit.path not in files:
            files[hit.path] = _unchanged_lines(hit.path, catalog)
        lines = files[hit.path]
        if lines is not None and 1 <= hit.start_line <= hit.end_line <= len(lines):
            spans.append(Span(hit.path, lines, 1, hit.start_line, hit.end_line, order, hit.score, True))
        else:
            body = hit.text.split("\n")
            start = hit.start_line
            spans.append(Span(hit.path, body, start, start, start + len(body) - 1, order, hit.score, False))
    return spans


def _unchanged_lines(path: str, catalog: Catalog) -> list[str] | None:
    """The file's lines if it is a regular file with the content that was indexed, else None."""
    record = catalog.file(path)
    where = Path(catalog.root) / path
    try:
        st = os.stat(where)
    except OSError:
        return None
    if record is None or not stat.S_ISREG(st.st_mode) or st.st_size != record.size:
        return None
    doc = read_document(FileEntry(path, where, st.st_size, st.st_mtime_ns))
    if isinstance(doc, Skipped) or doc.digest != record.digest:
        return None
    return doc.text.split("\n")


def merge(spans: list[Span]) -> list[Span]:
    """Windows of one file that overlap or touch, merged; kept in order of their best rank."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: s.rank):
        for other in out:
            joined = _join(other, span)
            if joined is not None:
                out[out.index(other)] = joined
                break
        else:
            out.append(span)
    if len(out) < len(spans):
        return merge(out)  # a merged window may now reach another
    return out


def _join(a: Span, b: Span) -> Span | None:
    """One window covering ``a`` and ``b`` (a ranks first), or None if they do not meet."""
    if a.path != b.path or a.start > b.end + 1 or b.start > a.end + 1 or a.cut or b.cut or a.cut_mid_line:
        return None
    start, end = min(a.start, b.start), max(a.end, b.end)
    rank, score, merged = a.rank, max(a.score, b.score), a.merged + b.merged
    if a.from_file and b.from_file:
        return Span(a.path, a.body, 1, start, end, rank, score, from_file=True, merged=merged, counts=a.counts)
    if a.from_file or b.from_file:
        return None  # cannot happen within one run: a file is read once
    # Two passages as indexed: join their texts where they overlap.
    lo, hi = (a, b) if (a.start, a.end) <= (b.start, b.end) else (b, a)
    text = _overlap_join("\n".join(lo.lines()), "\n".join(hi.lines()))
    if text is None or text.count("\n") != end - start:
        return None
    return Span(a.path, text.split("\n"), start, start, end, rank, score, from_file=False, merged=merged)


def _overlap_join(first: str, second: str) -> str | None:
    """``first`` then ``second``, their shared part once; None if they share none."""
    if second in first:
        return first
    if first in second:
        return second
    for k in range(min(len(first), len(second)), _MIN_SHARED - 1, -1):
        if first.endswith(second[:k]):
            return first + second[k:]
    return None
