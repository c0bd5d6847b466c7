"""``query --format context``: the context block on stdout, as plain text in a pipe."""

from __future__ import annotations

import sys

from rich.console import Console

from ..records import ContextBlock
from ..search.context import printable
from .console import notice


def write_context(block: ContextBlock, out: Console, err: Console) -> None:
    """The block verbatim when piped (to a language model); on a terminal, control
    characters from the files are shown as escapes. How much was left out goes to stderr."""
    text = block.text
    if out.is_terminal:
        text = printable(text, keep="\t\n")
    sys.stdout.write(text)
    sys.stdout.flush()
    if block.omitted:
        more = "result" if block.omitted == 1 else "results"
        notice(err, f"{block.omitted} more {more} left out to fit --max-tokens {block.max_tokens} "
                    f"({block.tokens} tokens shown)")
