"""BENCHMARKS.md is written in marked sections, each replaced whole by the script that measured it."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def write_section(name: str, section: str) -> None:
    """Replace the section between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` (both in
    ``section``) in BENCHMARKS.md, or add it at the end."""
    text = BENCHMARKS.read_text(encoding="utf-8")
    start_mark, end_mark = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start_mark not in text:
        text += f"\n{start_mark}\n{end_mark}\n"
    start, end = text.index(start_mark), text.index(end_mark) + len(end_mark)
    BENCHMARKS.write_text(text[:start] + section + text[end:], encoding="utf-8")
