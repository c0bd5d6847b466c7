"""Output: for people (Rich tables, summaries, progress on a terminal) and for machines
(json, jsonl, tsv, csv, paths on stdout, from the records' ``to_dict()``). Each ``show_*``
takes a record and a format: the commands never choose between renderers themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from ..records import EvalReport, IndexInfo, IndexReport
from . import human, machine
from .console import MACHINE_FORMATS, Format, choose_format, error, notice, stderr_console, stdout_console
from .machine import ResultSet
from .progress import EvalProgressBar, IndexProgressBar

__all__ = ["EvalProgressBar", "Format", "IndexProgressBar", "ResultSet", "choose_format", "error", "notice",
           "show_eval", "show_info", "show_report", "show_results", "stderr_console", "stdout_console"]


def show_results(results: Sequence[ResultSet], fmt: Format, out: Console) -> None:
    """Result sets: tables for people, the rest as plain data."""
    if fmt is Format.table:
        human.print_results(results, out)
    else:
        machine.write_results(results, fmt)


def show_report(report: IndexReport, fmt: Format, out: Console) -> None:
    """The summary at the end of ``index``: json/jsonl for scripts, else text."""
    if fmt in MACHINE_FORMATS:
        machine.write_json(report.to_dict(), fmt)
    else:
        human.print_report(report, out)


def show_info(info: IndexInfo, fmt: Format, out: Console) -> None:
    """``semsearch info``: a key/value table, one JSON object, or key-TAB-value lines."""
    if fmt in MACHINE_FORMATS:
        machine.write_json(info.to_dict(), fmt)
    elif fmt is Format.table:
        human.print_info(info, out)
    else:
        machine.write_pairs(info.to_dict())


def show_eval(report: EvalReport, fmt: Format, out: Console) -> None:
    """``semsearch eval``: one row per mode, or one JSON object."""
    if fmt in MACHINE_FORMATS:
        machine.write_json(report.to_dict(), fmt)
    else:
        human.print_eval(report, out)
