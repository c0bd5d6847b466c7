"""Output: for people (Rich tables, summaries, progress on a terminal) and for machines
(json, jsonl, tsv, csv, paths, vimgrep on stdout, from the records' ``to_dict()``). Each
``show_*`` takes a record and a format: the commands never choose between renderers themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import BadInputError
from ..lazy import lazy_names
from .formats import MACHINE_FORMATS, Format

if TYPE_CHECKING:
    from rich.console import Console

    from ..records import EvalReport, IndexInfo, IndexReport
    from .console import choose_format, error, notice, safe, stderr_console, stdout_console
    from .context import write_context
    from .machine import PathShown, ResultSet
    from .progress import EvalProgressBar, IndexProgressBar
    from .table import Around

__all__ = ["Around", "EvalProgressBar", "Format", "IndexProgressBar", "PathShown", "ResultSet", "choose_format",
           "error", "notice", "safe", "show_eval", "show_info", "show_report", "show_results", "stderr_console",
           "stdout_console", "write_context"]


# Where the other names live: imported when first used, so that a machine format can be
# written (``semsearch query`` through a server) without loading Rich or the search code.
_HOMES = {"Around": ".table", "EvalProgressBar": ".progress", "IndexProgressBar": ".progress",
          "PathShown": ".machine", "ResultSet": ".machine", "choose_format": ".console", "error": ".console",
          "notice": ".console", "safe": ".console", "stderr_console": ".console", "stdout_console": ".console",
          "write_context": ".context"}

__getattr__ = lazy_names(__name__, _HOMES)

def show_results(results: Sequence[ResultSet], fmt: Format, out: Console, *, paths: PathShown | None = None,
                 null: bool = False, query: str | None = None, around: Around | None = None) -> None:
    """Result sets: tables for people, the rest as plain data.

    Args:
        paths: how paths are shown (default: relative to the index root, as the library gives them).
        null: end each path with NUL instead of a newline (``--format paths``).
        query: the single query's text, to highlight its words in the table.
        around: the lines before and after a hit in its file (``-C``; the table only).
    """
    from . import machine, table

    if fmt is Format.table:
        shown = [(q, paths.shown(hits) if paths is not None else hits) for q, hits in results]
        table.print_results(shown, out, query=query, around=around)
    else:
        machine.write_results(results, fmt, paths, null)


def show_report(report: IndexReport, fmt: Format, out: Console) -> None:
    """The summary at the end of ``index``: json/jsonl for scripts, else text."""
    from . import human, machine

    if fmt in MACHINE_FORMATS:
        machine.write_json(report.to_dict(), fmt)
    else:
        human.print_report(report, out)


def show_info(info: IndexInfo, fmt: Format, out: Console) -> None:
    """``semsearch info``: a key/value table, one JSON object, or key/value lines (TSV, CSV)."""
    from . import human, machine

    if fmt in MACHINE_FORMATS:
        machine.write_json(info.to_dict(), fmt)
    elif fmt is Format.table:
        human.print_info(info, out)
    elif fmt in (Format.tsv, Format.csv):
        machine.write_pairs(info.to_dict(), fmt)
    else:
        raise BadInputError(f"info has no {fmt.value} format; use table, json, jsonl, tsv or csv")


def show_eval(report: EvalReport, fmt: Format, out: Console) -> None:
    """``semsearch eval``: one row per mode, or one JSON object."""
    from . import human, machine

    if fmt in MACHINE_FORMATS:
        machine.write_json(report.to_dict(), fmt)
    else:
        human.print_eval(report, out)
