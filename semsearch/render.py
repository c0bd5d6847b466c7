"""Output for people (Rich tables, progress, summaries on a terminal) and for machines
(json, jsonl, tsv, csv, paths on stdout). The one place that knows about formats.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sys
from dataclasses import asdict
from enum import Enum
from typing import Iterator, Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .api import IndexInfo
from .evaluation import EvalReport
from .indexer import IndexReport
from .indexer import Progress as IndexProgress
from .search import Hit

# One result set: the query it answers (None when there is a single query) and its hits.
ResultSet = tuple[str | None, list[Hit]]

FIELDS = ("rank", "score", "path", "start_line", "end_line", "text")
PASSAGE_CHARS = 320


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    tsv = "tsv"
    csv = "csv"
    paths = "paths"


def choose_format(requested: Format | None, console: Console) -> Format:
    """``--format`` wins; otherwise a table on a terminal, TSV when piped."""
    if requested is not None:
        return requested
    return Format.table if console.is_terminal else Format.tsv


def stdout_console() -> Console:
    return Console(soft_wrap=False, highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def error(console: Console, message: str) -> None:
    """One line on stderr, no markup interpretation."""
    console.print(Text(f"semsearch: error: {message}", style="red"), soft_wrap=True)


def notice(console: Console, message: str) -> None:
    console.print(Text(f"semsearch: {message}", style="yellow"), soft_wrap=True)


def hit_record(hit: Hit, query: str | None = None) -> dict[str, object]:
    """A hit as a JSON-ready dict (the documented machine schema)."""
    record: dict[str, object] = {} if query is None else {"query": query}
    record.update(asdict(hit))
    record["score"] = round(hit.score, 6)
    return record


def _write_json(data: object, fmt: Format) -> None:
    """One JSON document (indented) for ``json``, one line for ``jsonl``."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2 if fmt is Format.json else None) + "\n")


def render_results(results: Sequence[ResultSet], fmt: Format, out: Console) -> None:
    """Write result sets in ``fmt``: tables for people, the rest as plain data."""
    if fmt is Format.table:
        for query, hits in results:
            out.print(_table(query, hits))
        return
    batch = len(results) > 1 or (results and results[0][0] is not None)
    write = sys.stdout.write
    if fmt is Format.json:
        if batch:
            data: object = [{"query": q, "results": [hit_record(h) for h in hits]} for q, hits in results]
        else:
            data = [hit_record(h) for h in results[0][1]] if results else []
        _write_json(data, fmt)
    elif fmt is Format.jsonl:
        for query, hits in results:
            for hit in hits:
                _write_json(hit_record(hit, query if batch else None), fmt)
    elif fmt is Format.paths:
        seen: set[str] = set()
        for _, hits in results:
            for hit in hits:
                if hit.path not in seen:
                    seen.add(hit.path)
                    write(hit.path + "\n")
    else:
        write("".join(_delimited(results, fmt, bool(batch))))
    sys.stdout.flush()


def _delimited(results: Sequence[ResultSet], fmt: Format, batch: bool) -> Iterator[str]:
    """TSV: no header, tabs and newlines in text become spaces. CSV: a header, RFC 4180 quoting."""
    columns = (("query",) if batch else ()) + FIELDS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt is Format.csv:
        writer.writerow(columns)
    for query, hits in results:
        for hit in hits:
            record = hit_record(hit, query if batch else None)
            values = [str(record[c]) for c in columns]
            if fmt is Format.tsv:
                buffer.write("\t".join(_one_line(v) for v in values) + "\n")
            else:
                writer.writerow(values)
    yield buffer.getvalue()


def _one_line(value: str) -> str:
    return re.sub(r"[\t\r\n]+", " ", value)


def _table(query: str | None, hits: list[Hit]) -> Table:
    table = Table(title=f"“{query}”" if query is not None else None, title_justify="left", expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("score", justify="right", style="cyan")
    table.add_column("location", style="green", no_wrap=True, overflow="fold")
    table.add_column("passage", overflow="fold")
    words = re.findall(r"\w{3,}", query or "")
    for hit in hits:
        passage = Text(_trim(hit.text))
        if words:
            passage.highlight_words(words, style="bold yellow", case_sensitive=False)
        table.add_row(str(hit.rank), f"{hit.score:.3f}", f"{hit.path}:{hit.start_line}-{hit.end_line}", passage)
    return table


def _trim(text: str, limit: int = PASSAGE_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def render_report(report: IndexReport, fmt: Format, out: Console) -> None:
    """The summary at the end of ``index``."""
    if fmt in (Format.json, Format.jsonl):
        _write_json({**asdict(report), "root": str(report.root)}, fmt)
        return
    verb = "created" if report.created else "updated"
    lines = [
        f"[bold]{verb}[/] index of {report.root} ({report.model_id}, {report.backend})",
        f"  files:    {len(report.added)} added, {len(report.updated)} updated, {report.unchanged} unchanged, "
        f"{len(report.removed)} removed, {len(report.skipped)} skipped",
        f"  passages: {report.passages_embedded} embedded"
        + ("" if report.changed else " — nothing changed, nothing to embed"),
        f"  total:    {report.files} files, {report.passages} passages in {report.seconds:.1f}s",
    ]
    for line in lines:
        out.print(line, highlight=False, soft_wrap=True)
    reasons: dict[str, list[str]] = {}
    for s in report.skipped:
        reasons.setdefault(s.reason, []).append(s.path)
    for reason, paths in sorted(reasons.items()):
        shown = ", ".join(Text(p).plain for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        out.print(Text(f"  skipped ({reason}): {shown}", style="dim"), soft_wrap=True)


def render_info(info: IndexInfo, fmt: Format, out: Console) -> None:
    """``semsearch info``: a key/value table, or one JSON object."""
    data: dict[str, object] = {
        "root": str(info.root),
        "index": str(info.index_dir),
        "model": info.model_id,
        "backend": info.backend,
        "dimension": info.dimension,
        "chunk_tokens": info.chunk_tokens,
        "overlap": info.overlap,
        "include": info.include,
        "exclude": info.exclude,
        "files": info.files,
        "passages": info.passages,
        "size_bytes": info.size_bytes,
        "created": _when(info.created),
        "updated": _when(info.updated),
        "stale": info.stale,
        "stale_new": info.stale_new,
        "stale_changed": info.stale_changed,
        "stale_removed": info.stale_removed,
    }
    if fmt in (Format.json, Format.jsonl):
        _write_json(data, fmt)
        return
    if fmt is not Format.table:
        for key, value in data.items():
            sys.stdout.write(f"{key}\t{json.dumps(value) if isinstance(value, list) else value}\n")
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key in ("root", "model", "backend", "dimension", "files", "passages"):
        table.add_row(key, str(data[key]))
    table.add_row("chunking", f"{info.chunk_tokens} tokens, {info.overlap} overlap")
    table.add_row("size", f"{info.size_bytes / 1e6:.1f} MB")
    table.add_row("updated", str(data["updated"]))
    stale = f"{info.stale} ({len(info.stale_new)} new, {len(info.stale_changed)} changed, {len(info.stale_removed)} removed)"
    table.add_row("stale", stale + (f" — run `semsearch index {info.root}`" if info.stale else ""))
    out.print(table)


def render_eval(report: EvalReport, fmt: Format, out: Console) -> None:
    """``semsearch eval``: one row per mode, or one JSON object."""
    if fmt in (Format.json, Format.jsonl):
        data = asdict(report)
        data["index_dir"] = str(report.index_dir)
        _write_json(data, fmt)
        return
    how = "reused" if report.index_reused else "built"
    table = Table(title=f"{report.dataset} ({report.split}, {report.documents} documents) · {report.model_id} · "
                        f"{report.backend}",
                  title_justify="left", caption=f"index {how} in {report.index_seconds:.1f}s: {report.index_dir}",
                  caption_justify="left")
    for name in ("mode", "nDCG@10", "Recall@100", "MRR@10", "queries", "seconds"):
        table.add_column(name, justify="left" if name == "mode" else "right")
    for r in report.results:
        s = r.scores
        table.add_row(r.mode, f"{s.ndcg_at_10:.4f}", f"{s.recall_at_100:.4f}", f"{s.mrr_at_10:.4f}", str(r.queries),
                      f"{r.seconds:.1f}")
    out.print(table)


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


class IndexProgressBar:
    """A Rich progress bar on stderr fed by the indexer's progress callback."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} files"),
            TextColumn("{task.fields[passages]} passages"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # a log file wants no bar, just the summary
        )
        self._task = None
        self._started: float | None = None

    def __enter__(self) -> "IndexProgressBar":
        return self  # the bar appears with the first progress event, not before

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, event: IndexProgress) -> None:
        import time

        now = time.perf_counter()
        if self._task is None:
            self._progress.start()
            self._started = now
            self._task = self._progress.add_task("index", total=event.files_total, passages=0, rate="")
        elapsed = now - (self._started or now)
        rate = f"{event.passages / elapsed:.0f} passages/s" if elapsed > 0.5 and event.passages else ""
        self._progress.update(self._task, completed=event.files_done, passages=event.passages, rate=rate)


class EvalProgressBar:
    """Queries run per mode, on stderr (only on a terminal)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} queries"),
            TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
        )
        self._tasks: dict[str, object] = {}

    def __enter__(self) -> "EvalProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, mode: str, done: int, total: int) -> None:
        if mode not in self._tasks:
            self._progress.start()
            self._tasks[mode] = self._progress.add_task(mode, total=total)
        self._progress.update(self._tasks[mode], completed=done)  # type: ignore[arg-type]
