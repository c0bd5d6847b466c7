"""``semsearch query`` and ``semsearch similar``: ranked results, rendered."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from .. import defaults
from ..errors import BadInputError
from ..index import Index
from ..render import (
    Format,
    ResultSet,
    choose_format,
    notice,
    show_results,
    stderr_console,
    stdout_console,
    write_context,
)
from ..search import CrossEncoderReranker
from .app import app, errors_to_exit_codes, nothing_found, one_thread_search
from .options import (  # the shared store (cli/shared.py)
    INDEX_PANEL,
    RANKING_PANEL,
    AbsoluteOpt,
    CollectionsOpt,
    ContextOpt,
    DeviceOpt,
    FormatOpt,
    IndexOpt,
    MinScoreOpt,
    Mode,
    ModelGuardOpt,
    NullOpt,
    PathOpt,
    QueryPromptOpt,
    StoreOpt,
    TopKOpt,
    WholeIndexOpt,
)
from .paths import PathView
from .shared import check_no_collection, open_shared, store_url, view_for


@app.command()
def query(
    text: Annotated[list[str] | None, typer.Argument(
        help="What to look for, in plain words (quotes optional); - reads it from stdin.", show_default=False)] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", metavar="FILE", help="Run one query per line of this file (- for "
                                     "stdin); the model is loaded once.", show_default=False)
    ] = None,
    top_k: TopKOpt = defaults.TOP_K,
    min_score: MinScoreOpt = None,
    path_glob: PathOpt = None,
    whole: WholeIndexOpt = False,
    per_file: Annotated[int, typer.Option("--per-file", help="Passages shown per file.", min=1, metavar="N",
                                          rich_help_panel=RANKING_PANEL)] = defaults.PER_FILE,
    chunks: Annotated[bool, typer.Option("--chunks", help="Show every matching passage, not the best per file.",
                                         rich_help_panel=RANKING_PANEL)] = False,
    mode: Annotated[Mode, typer.Option("--mode", help="dense: by meaning (embeddings); lexical: by words (BM25); "
                                       "hybrid: both, fused.", case_sensitive=False,
                                       rich_help_panel=RANKING_PANEL)] = Mode(defaults.MODE),
    query_prompt: QueryPromptOpt = None,
    index_path: IndexOpt = None,
    model: ModelGuardOpt = None,
    device: DeviceOpt = None,
    fmt: FormatOpt = None,
    null: NullOpt = False,
    context: ContextOpt = 0,
    absolute: AbsoluteOpt = False,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, show_default=False,
                                    help=f"With --format context: the block's budget in tokens, counted with the "
                                    f"index model's tokenizer (default {defaults.CONTEXT_TOKENS}).")
    ] = None,
    store: StoreOpt = None,
    collection: CollectionsOpt = None,
    rerank: Annotated[
        Path | None, typer.Option("--rerank", metavar="MODEL", show_default=False, rich_help_panel=RANKING_PANEL,
                                  help="Re-order the candidates with this local sentence-transformers CrossEncoder "
                                  "folder (none ships with semsearch); --min-score then applies to its scores.")
    ] = None,
    no_server: Annotated[bool, typer.Option(
        "--no-server", help="Answer here even while `semsearch serve` runs on this index (which a query uses "
        "when it can; also SEMSEARCH_NO_SERVER=1).", rich_help_panel=INDEX_PANEL)] = False,
) -> None:
    """Find the passages that mean what TEXT says, best first.

    --format context prints them as one block for a language model, each under its citation.
    """
    with errors_to_exit_codes():
        _check_context(fmt, max_tokens, batch)
        queries = _queries(text, batch)
        if mode.value != "lexical":
            one_thread_search()
        options = {"mode": mode.value, "top_k": top_k, "min_score": min_score, "path_glob": path_glob or (),
                   "per_file": None if chunks else per_file, "query_prompt": query_prompt,
                   "rerank": None if rerank is None else CrossEncoderReranker.load(rerank, device)}
        with open_index(index_path, model, device, store, collection) as idx:
            view = view_for(idx, absolute=absolute, whole=whole)
            options["path_glob"] = view.globs(path_glob or ())
            if fmt is Format.context:
                block = idx.context(queries[0], max_tokens=max_tokens or defaults.CONTEXT_TOKENS, **options)
                write_context(block, stdout_console(), stderr_console())
                if not block.passages:
                    raise nothing_found()
                return
            results = [(q if batch is not None else None, idx.query(q, **options)) for q in queries]
            finish(results, fmt, view, idx, null=null, context=context, query=queries[0] if batch is None else None)


@app.command()
def similar(
    source: Annotated[str, typer.Argument(help="A file (indexed or not), or - to compare text read from stdin.")],
    top_k: TopKOpt = defaults.TOP_K,
    min_score: MinScoreOpt = None,
    path_glob: PathOpt = None,
    whole: WholeIndexOpt = False,
    index_path: IndexOpt = None,
    model: ModelGuardOpt = None,
    device: DeviceOpt = None,
    fmt: FormatOpt = None,
    null: NullOpt = False,
    context: ContextOpt = 0,
    absolute: AbsoluteOpt = False,
    store: StoreOpt = None,
    collection: CollectionsOpt = None,
) -> None:
    """Find the indexed files most similar to SOURCE (SOURCE itself excluded)."""
    with errors_to_exit_codes(), open_index(index_path, model, device, store, collection) as idx:
        view = view_for(idx, absolute=absolute, whole=whole)
        path, text = (None, read_stdin()) if source == "-" else (Path(source), None)
        hits = idx.similar(path, text=text, top_k=top_k, min_score=min_score, path_glob=view.globs(path_glob or ()))
        finish([(None, hits)], fmt, view, idx, null=null, context=context)


@contextmanager
def open_index(index_path: Path | None, model: str | None, device: str | None, store: str | None = None,
               collections: Sequence[str] | None = None) -> Iterator[Index]:
    """The index named by ``--index``, else the one at or above the current folder; with
    ``--store``, the collections of the shared index."""
    url = store_url(store)
    if url is not None:
        with open_shared(url, collections, model, device) as idx:
            yield idx
        return
    check_no_collection(collections)
    with Index(index_path or Path.cwd(), model=model, device=device) as idx:
        yield idx


def _queries(text: list[str] | None, batch: Path | None) -> list[str]:
    if bool(text) == (batch is not None):
        raise BadInputError("give one query as TEXT (or - for stdin), or a file of queries with --batch")
    if batch is not None:
        try:
            content = read_stdin() if str(batch) == "-" else batch.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"cannot read queries from {batch}: {exc}") from exc
        queries = [line.strip() for line in content.splitlines() if line.strip()]
        if not queries:
            raise BadInputError(f"{batch} holds no queries; put one query per line")
        return queries
    words = " ".join(text or ())  # several words are one query, quoted or not
    return [read_stdin().strip() if words == "-" else words]


def read_stdin() -> str:
    """All of stdin as text; bytes that are not UTF-8 are a bad input, not a crash."""
    try:
        text = sys.stdin.read()
        text.encode("utf-8")  # where stdin decodes with surrogate escapes (a C locale)
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise BadInputError("stdin is not valid UTF-8 text; give the text in UTF-8") from None
    return text


def _check_context(fmt: Format | None, max_tokens: int | None, batch: Path | None) -> None:
    if max_tokens is not None and fmt is not Format.context:
        raise BadInputError("--max-tokens sets the budget of --format context; add --format context")
    if fmt is Format.context and batch is not None:
        raise BadInputError("--format context answers one query; give it as TEXT instead of --batch")


def finish(results: Sequence[ResultSet], fmt: Format | None, view: PathView, idx: Index | None = None, *,
           null: bool = False, context: int = 0, query: str | None = None) -> None:
    """Render, and exit 1 when no query found anything (saying so on a terminal)."""
    if fmt is Format.context:
        raise BadInputError("--format context is for `semsearch query`; choose another format")
    out = stdout_console()
    fmt = Format.paths if null and fmt is None else choose_format(fmt, out)
    if null and fmt is not Format.paths:
        raise BadInputError("-0/--null separates paths: use it with --format paths (or without --format)")
    if context and fmt is not Format.table:
        raise BadInputError("-C/--context adds lines around passages in the table; add --format table to see them "
                            "through a pipe")
    told: set[str] = set()
    results = [(q, view.drop_deleted(hits, told)) for q, hits in results]
    around = (lambda hit: idx.lines_around(hit, context)) if context and idx is not None else None
    show_results(results, fmt, out, paths=view, null=null, query=query, around=around)
    if not any(hits for _, hits in results):
        if fmt is Format.table:
            where = " in this folder (--all searches the whole index)" if view.scope else ""
            notice(stderr_console(), f"no results{where}")
        raise nothing_found()
