"""Output for people: Rich tables and summaries. Everything that came from a file is
shown as Text (never parsed as markup)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..records import EvalReport, Hit, IndexInfo, IndexReport

PASSAGE_CHARS = 320


def print_results(results: Sequence[tuple[str | None, list[Hit]]], out: Console) -> None:
    """One table per query."""
    for query, hits in results:
        out.print(_table(query, hits))


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


def print_report(report: IndexReport, out: Console) -> None:
    """The summary at the end of ``index``."""
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


def print_info(info: IndexInfo, out: Console) -> None:
    """``semsearch info``: a key/value table."""
    data = info.to_dict()
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key in ("root", "model", "backend", "dimension", "files", "passages"):
        table.add_row(key, str(data[key]))
    table.add_row("chunking", f"{info.settings.chunk_tokens} tokens, {info.settings.overlap} overlap")
    table.add_row("size", f"{info.size_bytes / 1e6:.1f} MB")
    table.add_row("updated", str(data["updated"]))
    stale = (f"{info.stale} ({len(info.stale_new)} new, {len(info.stale_changed)} changed, "
             f"{len(info.stale_removed)} removed)")
    table.add_row("stale", stale + (f" — run `semsearch index {info.root}`" if info.stale else ""))
    out.print(table)


def print_eval(report: EvalReport, out: Console) -> None:
    """``semsearch eval``: one row per mode."""
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
