"""Escaping what came from a file (names, passages, queries, error details) before it
meets a terminal or a spreadsheet. Anything from a file is hostile: an escape sequence in
a note could clear the screen or draw a hidden link, and ``[/x]`` in a file name is Rich
markup. JSON carries the exact strings (JSON-escaped); ``paths`` output carries exact names.

- :func:`visible`: control characters (C0 but tab and newline where allowed, DEL, C1),
  bidirectional overrides, line separators and the lone surrogates that stand for bytes
  that are not UTF-8 (file names) are shown as ``\\xNN`` / ``\\uNNNN`` escapes.
- :func:`for_terminal`: :func:`visible`, then markup-escaped, for strings that Rich parses.
- :func:`terminal_text`: :func:`visible` as a Rich ``Text`` (never parsed as markup).
- :func:`for_tsv`: a TSV field: tabs and newlines become spaces, the rest :func:`visible`.
- :func:`for_csv`: a CSV cell a spreadsheet will not run as a formula.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls, DEL, C1 controls; bidi embeddings/overrides/isolates and marks; line and
# paragraph separators; lone surrogates (undecodable bytes of a name, kept by surrogateescape).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, keep_lines: bool = False) -> str:
    """``text`` with every control character shown as an escape; with ``keep_lines``,
    newlines and tabs stay (a passage in a table)."""
    return (_UNSAFE_KEEP_LINES if keep_lines else _UNSAFE).sub(_escape_char, str(text))


def for_terminal(text: object) -> str:
    """A string safe inside Rich markup: control characters visible, markup escaped."""
    from rich.markup import escape

    return escape(visible(text))


def terminal_text(text: object, style: str = "", keep_lines: bool = False) -> Text:
    """``text`` as a Rich ``Text`` (no markup parsing) with control characters visible."""
    from rich.text import Text

    return Text(visible(text, keep_lines), style=style)


def for_tsv(value: object) -> str:
    """One TSV field: tabs, returns and newlines become a space, other controls visible."""
    return visible(re.sub(r"[\t\r\n]+", " ", str(value)))


def for_csv(cell: object) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula
    (``=``, ``+``, ``-``, ``@``, tab, return) gets a leading apostrophe (OWASP's advice);
    numbers such as ``-0.12`` are left alone. Control characters are made visible."""
    text = str(cell)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        text = "'" + text
    return visible(text, keep_lines=True)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
