"""What a passage is about, from its file: the context measured in front of it for
embedding and for the lexical index (issue 16 item 4; ``benchmarks/fusion_choices.py``).
Not in the product: on SciFact train it did not help the default (hybrid) mode
(BENCHMARKS.md, "Fusion choices and context in passages").

A passage deep in a file has lost the file's title and the section it sits in; its
context gives them back: in a markdown file, the heading path at the passage
(``Setup > Linux``); else the file's title, its first line if that stands alone as a title
(a short line followed by a blank one); else the file's name. A passage that holds the
title itself (the file's first lines) needs none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from semsearch.chunking import Chunk

MAX_CONTEXT_CHARS = 200  # about 40 tokens: with a passage of 200, within a 256-token window
MAX_TITLE_CHARS = 300  # a longer first line is a paragraph, not a title
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def embedding_text(context: str, text: str) -> str:
    """What the model embeds for a passage: its context, a blank line, its text."""
    return f"{context}\n\n{text}" if context else text


def contexts(path: str, text: str, chunks: Sequence[Chunk]) -> list[str]:
    """The context of each of ``chunks`` of the file ``path`` whose text is ``text``."""
    headings = _headings(text) if path.lower().endswith(MARKDOWN_SUFFIXES) else []
    title, title_end = _title(text)
    name = PurePosixPath(path).name
    found = []
    for chunk in chunks:
        trail = _trail(headings, chunk.start_char)
        if trail:
            found.append(_cap(" > ".join(trail)))
        elif chunk.start_char < title_end:  # the passage holds the title
            found.append("")
        else:
            found.append(_cap(title or name))
    return found


def _title(text: str) -> tuple[str, int]:
    """The file's title (its first line, when it stands alone and is short) and where that
    line ends; ("", end of the first line) when the first line is no title."""
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    line = text[start:end].strip()
    heading = _HEADING.match(line)
    line = heading.group(2).strip() if heading else line
    rest = text[end + 1 :]
    alone = heading is not None or not rest.strip() or rest.lstrip(" \t").startswith(("\n", "\r\n"))
    return (line if alone and 0 < len(line) <= MAX_TITLE_CHARS else ""), end


def _headings(text: str) -> list[tuple[int, int, str]]:
    """The markdown headings of ``text`` as (offset, level, title), outside fenced code."""
    found: list[tuple[int, int, str]] = []
    fence = None
    offset = 0
    for line in text.splitlines(keepends=True):
        marker = _FENCE.match(line)
        if marker:
            fence = None if fence == marker.group(1) else fence or marker.group(1)
        elif fence is None:
            heading = _HEADING.match(line.rstrip("\r\n"))
            if heading and heading.group(2).strip():
                found.append((offset, len(heading.group(1)), heading.group(2).strip()))
        offset += len(line)
    return found


def _trail(headings: list[tuple[int, int, str]], before: int) -> list[str]:
    """The heading path in force at offset ``before``: each level's latest heading above it."""
    trail: list[tuple[int, str]] = []
    for offset, level, title in headings:
        if offset >= before:
            break
        while trail and trail[-1][0] >= level:
            trail.pop()
        trail.append((level, title))
    return [title for _, title in trail]


def _cap(context: str) -> str:
    """At most :data:`MAX_CONTEXT_CHARS`, cut between words."""
    if len(context) <= MAX_CONTEXT_CHARS:
        return context
    cut = context[:MAX_CONTEXT_CHARS]
    return cut[: cut.rfind(" ")] if " " in cut else cut
