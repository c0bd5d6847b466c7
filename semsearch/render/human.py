"""Output for people: summaries and key/value tables (results are in :mod:`.table`). Everything that came from a file is
shown as Text (never parsed as markup)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..records import EvalReport, IndexInfo, IndexReport
from .console import safe
from .escape import terminal_text


def print_report(report: IndexReport, out: Console) -> None:
    """The summary at the end of ``index``."""
    verb = "created" if report.created else "updated"
    within = f", walking only {report.within}" if report.within else ""
    out.print(Text.assemble((verb, "bold"), safe(f" index of {report.root} ({report.model_id}, {report.backend}"
                                                 f"{within})")), soft_wrap=True)
    lines = [
        f"  files:    {len(report.added)} added, {len(report.updated)} updated, {report.unchanged} unchanged, "
        f"{len(report.removed)} removed, {len(report.skipped)} skipped",
        f"  passages: {report.passages_embedded} embedded"
        + (f", {report.passages_reused} reused" if report.passages_reused else "")
        + ("" if report.changed else " — nothing changed, nothing to embed"),
        f"  total:    {report.files} files, {report.passages} passages in {report.seconds:.1f}s",
    ]
    if report.removed_by:
        lines.insert(1, f"  removed:  {len(report.removed)} left out by the new filters: {report.removed_by}")
    for line in lines:
        out.print(terminal_text(line), soft_wrap=True)
    reasons: dict[str, list[str]] = {}
    for s in report.skipped:
        reasons.setdefault(s.reason, []).append(s.path)
    for reason, paths in sorted(reasons.items()):
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        out.print(terminal_text(f"  skipped ({reason}): {shown}", style="dim"), soft_wrap=True)


def print_info(info: IndexInfo, out: Console) -> None:
    """``semsearch info``: a key/value table."""
    data = info.to_dict()
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key in ("root", "model", "backend", "dimension", "files", "passages"):
        table.add_row(key, terminal_text(data[key]))
    table.add_row("chunking", f"{info.settings.chunk_tokens} tokens, {info.settings.overlap} overlap")
    filters = [f"--{k} {' '.join(data[k])}" for k in ("include", "exclude") if data[k]]
    filters += ["--follow-symlinks"] if data["follow_symlinks"] else []
    shown = ", ".join(filters) + " (remembered; `semsearch index --reset-filters` clears them)" if filters else "none"
    table.add_row("filters", terminal_text(shown))
    table.add_row("vector index", info.vector_index)
    if info.unembedded:
        table.add_row("dense", f"{info.passages - info.unembedded:,} of {info.passages:,} passages embedded "
                               f"(`semsearch index {terminal_text(str(info.root))}` embeds the rest)")
    if info.calibrated_on is not None:
        floor = f"default --min-score {info.default_floor}" if info.default_floor is not None else "no default floor"
        if info.default_floor_standout is not None:
            floor += (f", or the nearest file by meaning when its cosine stands {info.default_floor_standout} above "
                      "the next ones'; --min-score 0 turns it off")
        score = (f"calibrated: hybrid scores estimate the probability of relevance (fitted on {info.calibrated_on}); "
                 f"{floor}")
    else:
        score = "uncalibrated: no calibration for this model (hybrid scores are a raw mix), no default floor"
    table.add_row("score", terminal_text(score))
    table.add_row("size", f"{info.size_bytes / 1e6:.1f} MB")
    table.add_row("updated", str(data["updated"]))
    stale = (f"{info.stale} ({len(info.stale_new)} new, {len(info.stale_changed)} changed, "
             f"{len(info.stale_removed)} removed)")
    table.add_row("stale", terminal_text(stale + (f" — run `semsearch index {info.root}`" if info.stale else "")))
    out.print(table)


def print_eval(report: EvalReport, out: Console) -> None:
    """``semsearch eval``: one row per mode."""
    how = "reused" if report.index_reused else "built"
    table = Table(title=terminal_text(f"{report.dataset} ({report.split}, {report.documents} documents) · "
                                      f"{report.model_id} · {report.backend}"),
                  title_justify="left",
                  caption=terminal_text(f"index {how} in {report.index_seconds:.1f}s: {report.index_dir}"),
                  caption_justify="left")
    for name in ("mode", "nDCG@10", "Recall@100", "MRR@10", "queries", "seconds"):
        table.add_column(name, justify="left" if name == "mode" else "right")
    for r in report.results:
        s = r.scores
        table.add_row(r.mode, f"{s.ndcg_at_10:.4f}", f"{s.recall_at_100:.4f}", f"{s.mrr_at_10:.4f}", str(r.queries),
                      f"{r.seconds:.1f}")
    out.print(table)
