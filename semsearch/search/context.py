"""The context block: a query's best passages, ready to hand to a language model.

Passages come best first, each under its citation (``[n] path:start-end``). Passages of
one file that overlap or touch are merged into one. A file unchanged since it was
indexed (same content digest) is read again, so a passage is shown as whole lines and
can grow by its neighbouring lines while they fit; a changed file's passages are shown
as indexed, and their header says so. The whole block is kept within ``max_tokens``
tokens, counted with the index model's tokenizer: a passage that does not fit is cut
at a line end and a line in the block says which lines were left out; only when not
even one line fits is a line cut, and the block says that too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .. import defaults
from ..chunking import TokenSpans
from ..errors import BadInputError
from ..records import ContextBlock, ContextPassage, Hit
from ..storage import Catalog
from .spans import Span, merge, spans_of

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def build_context(
    query: str,
    hits: Sequence[Hit],
    catalog: Catalog,
    token_spans: TokenSpans,
    max_tokens: int = defaults.CONTEXT_TOKENS,
    *,
    neighbours: int = defaults.CONTEXT_LINES,
    cite: Callable[[str], str] | None = None,
) -> ContextBlock:
    """The block of ``hits`` (best first) that fits in ``max_tokens`` tokens.

    Args:
        query: what the hits answer (recorded in the block, not shown in its text).
        hits: a query's results, best first, with paths relative to ``catalog.root``.
        catalog: tells whether a file is unchanged since it was indexed.
        token_spans: the index model's tokenizer (tokens are counted with it).
        max_tokens: the most tokens the block's text may hold.
        neighbours: at most this many lines before and after a passage are added while they fit.
        cite: how a path is shown in a citation (default: as the index has it).

    Raises:
        BadInputError: ``max_tokens`` leaves no room for even part of one line.
    """
    if max_tokens < 1:
        raise BadInputError("--max-tokens must be at least 1")
    cite = cite or str
    count = _Counter(token_spans)
    spans = merge(spans_of(hits, catalog))
    shown, omitted = _fill(spans, count, max_tokens, cite)
    _grow(shown, count, max_tokens, neighbours, cite)
    shown = merge(shown)
    for span in shown:
        _trim_blank_edges(span)
    text = _render(shown, cite)
    while shown and count.text(text) > max_tokens:
        # The tokenizer counted the parts apart as fewer than together: shorten the tail.
        _drop_last_line(shown)
        shown = [s for s in shown if s.end >= s.start]
        text = _render(shown, cite)
    if not shown and hits:
        raise BadInputError(f"--max-tokens {max_tokens} leaves no room for a passage; give a larger budget")
    passages = [ContextPassage(i + 1, s.path, s.start, s.end, s.score, "\n".join(s.lines()), s.merged, s.from_file,
                               s.cut is not None or s.cut_mid_line) for i, s in enumerate(shown)]
    return ContextBlock(query, text, count.text(text), max_tokens, passages, omitted)


class _Counter:
    """Counts tokens with the model's tokenizer, remembering each line's count."""

    def __init__(self, token_spans: TokenSpans) -> None:
        self.token_spans = token_spans

    def text(self, text: str) -> int:
        return len(self.token_spans(text)) if text.strip() else 0

    def line(self, span: Span, number: int) -> int:
        if number not in span.counts:
            span.counts[number] = self.text(span.body[number - span.first])
        return span.counts[number]

    def span(self, span: Span, number: int, cite: Callable[[str], str]) -> int:
        return self.text(_header(span, number, cite)) + self.text(_note(span)) + sum(
            self.line(span, n) for n in range(span.start, span.end + 1))


def _fill(spans: list[Span], count: _Counter, budget: int, cite: Callable[[str], str]) -> tuple[list[Span], int]:
    """The windows that fit, best first; the first that does not is cut at a line end."""
    shown: list[Span] = []
    used = 0
    for span in spans:
        cost = count.span(span, len(shown) + 1, cite)
        if used + cost <= budget:
            shown.append(span)
            used += cost
            continue
        full_end = span.end
        lo, hi = span.start - 1, full_end  # the most lines that fit: bisect on the window's end
        while lo < hi:
            mid = (lo + hi + 1) // 2
            span.end, span.cut = mid, (mid + 1, full_end)
            if used + count.span(span, len(shown) + 1, cite) <= budget:
                lo = mid
            else:
                hi = mid - 1
        span.end, span.cut = lo, (lo + 1, full_end) if lo < full_end else None
        if lo >= span.start:
            shown.append(span)
        elif not shown:
            _cut_mid_line(span, count, budget, cite, full_end)
            if span.end >= span.start:
                shown.append(span)
        return shown, len(spans) - len(shown)
    return shown, 0


def _cut_mid_line(span: Span, count: _Counter, budget: int, cite: Callable[[str], str], full_end: int) -> None:
    """Show the start of the window's first line alone, cut between two tokens."""
    line = span.body[span.start - span.first]
    span.end, span.cut_mid_line = span.start, True
    span.cut = (span.start + 1, full_end) if full_end > span.start else None
    room = budget - count.text(_header(span, 1, cite)) - count.text(_note(span))
    tokens = count.token_spans(line)
    if room < 1 or not tokens:
        span.end = span.start - 1
        return
    span.body = span.body[:]  # the cut line is this window's own
    span.body[span.start - span.first] = line[: tokens[min(room, len(tokens)) - 1][1]]
    span.counts = {}


def _grow(spans: list[Span], count: _Counter, budget: int, neighbours: int, cite: Callable[[str], str]) -> None:
    """Add the lines around each whole window, nearest first and best window first, while they fit."""
    used = sum(count.span(s, i, cite) for i, s in enumerate(spans, 1))
    for _ in range(neighbours):
        for i, span in enumerate(spans, 1):
            if not span.from_file or span.cut or span.cut_mid_line:
                continue
            for number in (span.start - 1, span.end + 1):
                if not 1 <= number <= len(span.body) or any(
                        s.path == span.path and s.start <= number <= s.end for s in spans):
                    continue  # past the file's ends, or shown already: touching windows are merged later
                before = count.text(_header(span, i, cite))
                grown = (number, span.end) if number < span.start else (span.start, number)
                old = span.start, span.end
                span.start, span.end = grown
                extra = count.line(span, number) + count.text(_header(span, i, cite)) - before
                if used + extra <= budget:
                    used += extra
                else:
                    span.start, span.end = old


def _trim_blank_edges(span: Span) -> None:
    while span.end > span.start and not span.body[span.start - span.first].strip():
        span.start += 1
    while span.end > span.start and not span.body[span.end - span.first].strip():
        span.end -= 1
    if span.cut is not None:
        span.cut = (span.end + 1, span.cut[1])  # what was trimmed is left out too


def _drop_last_line(spans: list[Span]) -> None:
    last = spans[-1]
    full_end = last.cut[1] if last.cut else last.end
    last.end -= 1
    last.cut = (last.end + 1, full_end)


def _header(span: Span, number: int, cite: Callable[[str], str]) -> str:
    where = f"[{number}] {printable(cite(span.path))}:{span.start}-{span.end}"
    return where if span.from_file else f"{where} (as indexed; the file has changed since)"


def _note(span: Span) -> str:
    notes = []
    if span.cut_mid_line:
        notes.append(f"[… line {span.start} cut short: token budget]")
    if span.cut is not None and span.cut[0] < span.cut[1]:
        notes.append(f"[… lines {span.cut[0]}-{span.cut[1]} left out: token budget]")
    elif span.cut is not None and span.cut[0] == span.cut[1]:
        notes.append(f"[… line {span.cut[0]} left out: token budget]")
    return "\n".join(notes)


def _render(spans: list[Span], cite: Callable[[str], str]) -> str:
    blocks = []
    for i, span in enumerate(spans, 1):
        parts = [_header(span, i, cite), *span.lines()]
        if _note(span):
            parts.append(_note(span))
        blocks.append("\n".join(parts))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def printable(text: str, keep: str = "") -> str:
    """Control characters (a newline in a file name, a terminal escape code) written as escapes
    such as ``\\n`` or ``\\x1b``, except those in ``keep``."""
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else m.group().encode("unicode_escape").decode(), text)
