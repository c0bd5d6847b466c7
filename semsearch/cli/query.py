"""``semsearch query`` and ``semsearch similar``: ranked results, rendered."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from .. import defaults
from ..errors import BadInputError, ExitStatus
from ..index import Index
from ..render import Format, ResultSet, choose_format, show_results, stdout_console
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
    text: Annotated[str | None, typer.Argument(help="What to look for, in plain words; - reads it from stdin.",
                                                  show_default=False)] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="Run one query per line of this file (- for stdin); "
                                     "the model is loaded once.", show_default=False)
    ] = None,
    top_k: TopKOpt = defaults.TOP_K,
    min_score: MinScoreOpt = None,
    path_glob: PathOpt = None,
    per_file: Annotated[int, typer.Option("--per-file", help="Passages shown per file.", min=1)] = defaults.PER_FILE,
    chunks: Annotated[bool, typer.Option("--chunks", help="Show every matching passage, not the best per "
                                         "file.")] = False,
    mode: Annotated[Mode, typer.Option("--mode", help="dense: by meaning (embeddings); lexical: by words (BM25); "
                                       "hybrid: both, fused.", case_sensitive=False)] = Mode(defaults.MODE),
    query_prompt: QueryPromptOpt = None,
    index_path: IndexOpt = None,
    model: ModelGuardOpt = None,
    device: DeviceOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Find the passages that mean what TEXT says, best first."""
    with errors_to_exit_codes():
        queries = _queries(text, batch)
        if mode.value != "lexical":
            one_thread_search()
        with open_index(index_path, model, device) as idx:
            results = [
                (q if batch is not None else None,
                 idx.query(q, mode=mode.value, top_k=top_k, min_score=min_score, path_glob=path_glob or (),
                           per_file=None if chunks else per_file, query_prompt=query_prompt))
                for q in queries
            ]
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
    with errors_to_exit_codes(), open_index(index_path, model, device) as idx:
        path, text = (None, sys.stdin.read()) if source == "-" else (Path(source), None)
        hits = idx.similar(path, text=text, top_k=top_k, min_score=min_score, path_glob=path_glob or ())
        finish([(None, hits)], fmt)


@contextmanager
def open_index(index_path: Path | None, model: str | None, device: str | None) -> Iterator[Index]:
    """The index named by ``--index``, else the one at or above the current folder."""
    with Index(index_path or Path.cwd(), model=model, device=device) as idx:
        yield idx


def _queries(text: str | None, batch: Path | None) -> list[str]:
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


def finish(results: Sequence[ResultSet], fmt: Format | None) -> None:
    """Render, and exit 1 when no query found anything."""
    out = stdout_console()
    show_results(results, choose_format(fmt, out), out)
    if not any(hits for _, hits in results):
        raise typer.Exit(ExitStatus.NO_RESULTS)
