"""Cut a document into passages that fit the model, measured by its own tokenizer.

The text is tokenized once; passages are windows of at most ``max_tokens`` tokens,
cut preferably at a blank line, else at a line end, else after a sentence, else
between words, and consecutive passages share about ``overlap`` tokens. Each
passage is a verbatim slice of the document and knows its 1-based line range.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# A tokenizer, reduced to what chunking needs: the character span of every token.
TokenSpans = Callable[[str], Sequence[tuple[int, int]]]

_SENTENCE_END = re.compile(r"[.!?;:][\"')\]]*$")
_SENTENCE_CLOSERS = frozenset(".!?;:\"')]")  # what a sentence's end can end with
# Whitespace every tokenizer splits at (Unicode's other kinds differ: Python calls \x1c a
# space, BERT's normalizer deletes it and joins the words beside it).
_SPACES = " \t\n\r"
# Normalizers that change each character on its own (never across a space), and
# pre-tokenizers that split at whitespace before anything else.
_PER_CHARACTER = {"BertNormalizer", "Lowercase", "StripAccents", "NFD", "NFKD", "NFC", "NFKC"}
_SPLIT_AT_SPACES = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit"}


@dataclass(frozen=True)
class Chunk:
    """A passage of a document."""

    text: str
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    n_tokens: int


def _break_quality(text: str, end: int, next_start: int) -> int:
    """How good a place to cut is the gap between two tokens (higher is better)."""
    if next_start <= end:
        return 0  # no gap: inside a word, or beside punctuation
    gap = text[end:next_start]
    if "\n" in gap:
        # A paragraph break, or just before a markdown heading; else a line end.
        return 4 if gap.count("\n") >= 2 or text.startswith("#", next_start) else 3
    if text[end - 1 : end] in _SENTENCE_CLOSERS and _SENTENCE_END.search(text[max(0, end - 4) : end]):
        return 2
    return 1


def exact_at_spaces(tokenizer_json: str) -> bool:
    """Whether a text cut beside a space tokenizes alone exactly as it did in context: true
    of a WordPiece tokenizer (BERT's) that splits words at whitespace first and normalizes
    each character on its own; ``tokenizer_json`` is a Hugging Face tokenizer's ``to_str()``."""
    spec = json.loads(tokenizer_json)
    normalizer, pre = spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}
    normalizers = normalizer.get("normalizers", []) if normalizer.get("type") == "Sequence" else [normalizer]
    return ((spec.get("model") or {}).get("type") == "WordPiece" and pre.get("type") in _SPLIT_AT_SPACES
            and all(n.get("type") in _PER_CHARACTER for n in normalizers if n))


def chunk_text(text: str, token_spans: TokenSpans, max_tokens: int, overlap: int, *,
               exact_at_spaces: bool = False, spans: Sequence[tuple[int, int]] | None = None) -> list[Chunk]:
    """Split ``text`` into passages of at most ``max_tokens`` tokens.

    Args:
        text: the document.
        token_spans: returns the (start, end) character span of each token of a text,
            without special tokens (the model's tokenizer).
        max_tokens: the most tokens one passage may hold.
        overlap: about how many tokens consecutive passages share; less than half
            of ``max_tokens``.
        exact_at_spaces: the tokenizer is one :func:`exact_at_spaces` accepts, so a
            passage with a space on both sides needs no second tokenizing to know it fits
            (the same passages, in half the tokenizing).
        spans: ``token_spans(text)``, where the caller has it already (tokenized with
            other texts in one call); the same passages either way.

    Returns:
        The passages in document order; empty for a blank document.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    overlap = max(0, min(overlap, max_tokens // 2))
    spans = list(token_spans(text) if spans is None else spans)
    n = len(spans)
    if n == 0:
        return []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(pos: int) -> int:
        return bisect.bisect_right(line_starts, pos)

    nexts = [start for start, _ in spans[1:]] + [len(text)]
    quality = [  # cutting right after token i; the commonest gaps (none, one space inside a sentence) inline
        0 if nxt <= end else 1 if nxt == end + 1 and text[end] == " " and text[end - 1 : end] not in _SENTENCE_CLOSERS
        else _break_quality(text, end, nxt) for (_, end), nxt in zip(spans, nexts, strict=True)
    ]

    chunks: list[Chunk] = []
    start = 0
    while True:
        stop = min(start + max_tokens, n)  # exclusive token index
        if stop < n:
            # Cut at the best break in the last half of the window; latest wins ties.
            window = quality[start + max(1, max_tokens // 2) - 1 : stop]
            stop -= window[::-1].index(max(window))
        s, e = spans[start][0], spans[stop - 1][1]
        # Cut inside a word, a passage can tokenize into more tokens alone than it held in
        # context ("##ber" becomes "be", "##r"): shrink it until it fits on its own.
        while stop - start > 1 and not (exact_at_spaces and _beside_spaces(text, s, e)) \
                and len(token_spans(text[s:e])) > max_tokens:
            stop -= 1
            e = spans[stop - 1][1]
        chunks.append(Chunk(text[s:e], line_of(s), line_of(max(s, e - 1)), s, e, stop - start))
        if stop >= n:
            return chunks
        # Start the next passage ~overlap tokens back, at the best break there.
        lo = max(start + 1, stop - overlap)
        window = quality[lo - 1 : stop - 1]
        start = lo + window.index(max(window)) if window else stop


def _beside_spaces(text: str, start: int, end: int) -> bool:
    return (start == 0 or text[start - 1] in _SPACES) and (end == len(text) or text[end] in _SPACES)
