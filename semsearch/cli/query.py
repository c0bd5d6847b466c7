"""``semsearch query`` and ``semsearch similar``: ranked results, rendered."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, Optional, Sequence

import typer

from .. import defaults
from ..errors import BadInputError, ExitStatus
from ..index import Index
from ..render import (
    Format,
    ResultSet,
    choose_format,
    show_results,
    stderr_console,
    stdout_console,
    write_context,
)
from .app import app, errors_to_exit_codes, one_thread_search
from .options import (
    DeviceOpt,
    FormatOpt,
    IndexOpt,
    MinScoreOpt,
    Mode,
    ModelGuardOpt,
    PathOpt,
    QueryPromptOpt,
    TopKOpt,
)


@app.command()
def query(
    text: Annotated[Optional[str], typer.Argument(help="What to look for, in plain words; - reads it from stdin.",
                                                  show_default=False)] = None,
    batch: Annotated[
        Optional[Path], typer.Option("--batch", help="Run one query per line of this file (- for stdin); "
                                     "the model is loaded once.", show_default=False)
    ] = None,
    top_k: TopKOpt = defaults.TOP_K,
    min_score: MinScoreOpt = None,
    path_glob: PathOpt = None,
    per_file: Annotated[int, typer.Option("--per-file", help="Passages shown per file.", min=1)] = defaults.PER_FILE,
    chunks: Annotated[bool, typer.Option("--chunks", help="Show every matching passage, not the best per file.")] = False,
    mode: Annotated[Mode, typer.Option("--mode", help="dense: by meaning (embeddings); lexical: by words (BM25); "
                                       "hybrid: both, fused.", case_sensitive=False)] = Mode(defaults.MODE),
    query_prompt: QueryPromptOpt = None,
    index_path: IndexOpt = None,
    model: ModelGuardOpt = None,
    device: DeviceOpt = None,
    fmt: FormatOpt = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, show_default=False,
                                    help=f"With --format context: the block's budget in tokens, counted with the "
                                    f"index model's tokenizer (default {defaults.CONTEXT_TOKENS}).")
    ] = None,
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
                   "per_file": None if chunks else per_file, "query_prompt": query_prompt}
        with open_index(index_path, model, device) as idx:
            if fmt is Format.context:
                block = idx.context(queries[0], max_tokens=max_tokens or defaults.CONTEXT_TOKENS, **options)
                write_context(block, stdout_console(), stderr_console())
                if not block.passages:
                    raise typer.Exit(ExitStatus.NO_RESULTS)
                return
            results = [(q if batch is not None else None, idx.query(q, **options)) for q in queries]  # type: ignore[arg-type]
            finish(results, fmt)


@app.command()
def similar(
    source: Annotated[str, typer.Argument(help="A file (indexed or not), or - to compare text read from stdin.")],
    top_k: TopKOpt = defaults.TOP_K,
    min_score: MinScoreOpt = None,
    path_glob: PathOpt = None,
    index_path: IndexOpt = None,
    model: ModelGuardOpt = None,
    device: DeviceOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Find the indexed files most similar to SOURCE (SOURCE itself excluded)."""
    with errors_to_exit_codes():
        with open_index(index_path, model, device) as idx:
            options = dict(top_k=top_k, min_score=min_score, path_glob=path_glob or ())
            if source == "-":
                hits = idx.similar(text=sys.stdin.read(), **options)  # type: ignore[arg-type]
            else:
                hits = idx.similar(Path(source), **options)  # type: ignore[arg-type]
            finish([(None, hits)], fmt)


@contextmanager
def open_index(index_path: Optional[Path], model: Optional[str], device: Optional[str]) -> Iterator[Index]:
    """The index named by ``--index``, else the one at or above the current folder."""
    with Index(index_path or Path.cwd(), model=model, device=device) as idx:
        yield idx


def _queries(text: Optional[str], batch: Optional[Path]) -> list[str]:
    if (text is None) == (batch is None):
        raise BadInputError("give one query as TEXT (or - for stdin), or a file of queries with --batch")
    if batch is not None:
        try:
            content = sys.stdin.read() if str(batch) == "-" else batch.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"cannot read queries from {batch}: {exc}") from exc
        queries = [line.strip() for line in content.splitlines() if line.strip()]
        if not queries:
            raise BadInputError(f"{batch} holds no queries; put one query per line")
        return queries
    return [sys.stdin.read().strip() if text == "-" else str(text)]


def _check_context(fmt: Format | None, max_tokens: int | None, batch: Path | None) -> None:
    if max_tokens is not None and fmt is not Format.context:
        raise BadInputError("--max-tokens sets the budget of --format context; add --format context")
    if fmt is Format.context and batch is not None:
        raise BadInputError("--format context answers one query; give it as TEXT instead of --batch")


def finish(results: Sequence[ResultSet], fmt: Optional[Format]) -> None:
    """Render, and exit 1 when no query found anything."""
    if fmt is Format.context:
        raise BadInputError("--format context is for `semsearch query`; choose another format")
    out = stdout_console()
    show_results(results, choose_format(fmt, out), out)
    if not any(hits for _, hits in results):
        raise typer.Exit(ExitStatus.NO_RESULTS)
