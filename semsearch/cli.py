"""The ``semsearch`` command: parse options, call the library, hand results to render."""

from __future__ import annotations

import atexit
import os
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from . import defaults, indexer
from .api import Index
from .errors import BadInputError, ExitStatus, SemsearchError
from .render import (
    EvalProgressBar,
    Format,
    IndexProgressBar,
    choose_format,
    error,
    notice,
    render_eval,
    render_info,
    render_report,
    render_results,
    stderr_console,
    stdout_console,
)
from .search import MODES

# Torch, sentence-transformers and faiss are imported only where a model or vectors are
# used, so --help and error paths never pay for them.

app = typer.Typer(
    help="Search a folder of text files by meaning. Index once, then query, offline.\n\n"
    "Exit codes: 0 results, 1 nothing passed the filters, 2 error, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}

IndexOpt = Annotated[
    Optional[Path],
    typer.Option("--index", "-i", help="The indexed folder (or its .semsearch); default: found by walking up from here.",
                 envvar="SEMSEARCH_INDEX", show_default=False),
]
FormatOpt = Annotated[
    Optional[Format],
    typer.Option("--format", "-f", help="Output format; default: table on a terminal, tsv when piped.",
                 case_sensitive=False, show_default=False),
]
TopKOpt = Annotated[int, typer.Option("--top-k", "-k", help="How many results to show.", min=1)]
MinScoreOpt = Annotated[
    Optional[float], typer.Option("--min-score", help="Hide results scoring below this (cosine similarity for "
                                  "similar and --mode dense, e.g. 0.3; see the README for the other modes).")
]
PathOpt = Annotated[
    Optional[list[str]], typer.Option("--path", help="Only files matching this glob (repeatable), e.g. 'notes/*.md'.")
]
ModelGuardOpt = Annotated[
    Optional[str], typer.Option("--model", help="Fail unless the index was built with this model.", show_default=False)
]
QueryPromptOpt = Annotated[
    Optional[str], typer.Option("--query-prompt", help="Text put before each query when embedding it, e.g. 'query: '; "
                                "default: the prompt the model declares, if any ('' for none).", show_default=False)
]
Mode = Enum("Mode", {m: m for m in MODES}, type=str)  # type: ignore[misc]
BackendOpt = Annotated[
    Optional[str],
    typer.Option("--backend", "-b", envvar="SEMSEARCH_BACKEND", show_default=False,
                 help=f"How to run the model: {', '.join(defaults.BACKENDS)} (default {defaults.DEFAULT_BACKEND}, "
                 "or the index's own). onnx gives torch's vectors without loading torch; onnx-int8 is faster "
                 "still, with vectors about 0.99 alike. Queries use the index's backend."),
]
DeviceOpt = Annotated[
    Optional[str], typer.Option("--device", help="Torch device: cpu, cuda, mps (default: auto).", envvar="SEMSEARCH_DEVICE")
]


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"semsearch {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


@contextmanager
def _errors_to_exit_codes() -> Iterator[None]:
    """The one place that turns exceptions into a line on stderr and an exit code."""
    try:
        yield
    except SemsearchError as exc:
        if _state["debug"]:
            raise
        error(stderr_console(), str(exc))
        raise typer.Exit(exc.exit_status) from None
    except KeyboardInterrupt:
        error(stderr_console(), "interrupted; what was committed is kept — run the same command again to resume")
        raise typer.Exit(ExitStatus.INTERRUPTED) from None


@app.command()
def index(
    path: Annotated[Path, typer.Argument(help="The folder of text files to index.")] = Path("."),
    model: Annotated[
        Optional[str],
        typer.Option("--model", "-m", envvar="SEMSEARCH_MODEL", show_default=False,
                     help=f"Model name (in the local Hugging Face cache) or folder; default {defaults.DEFAULT_MODEL}, "
                     "or the index's own."),
    ] = None,
    include: Annotated[
        Optional[list[str]], typer.Option("--include", help="Only files matching this glob (repeatable; remembered).")
    ] = None,
    exclude: Annotated[
        Optional[list[str]], typer.Option("--exclude", help="Leave out files matching this glob (repeatable; remembered).")
    ] = None,
    chunk_tokens: Annotated[
        Optional[int], typer.Option("--chunk-tokens", help=f"Tokens per passage (default {defaults.CHUNK_TOKENS}, "
                                    "at most the model's window).", show_default=False)
    ] = None,
    overlap: Annotated[
        Optional[int], typer.Option("--overlap", help=f"Tokens shared by consecutive passages "
                                    f"(default {defaults.OVERLAP_TOKENS}).", show_default=False)
    ] = None,
    backend: BackendOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Passages per model batch.", min=1,
                                            envvar="SEMSEARCH_BATCH_SIZE")] = defaults.BATCH_SIZE,
    device: DeviceOpt = None,
    max_file_size: Annotated[
        float, typer.Option("--max-file-size", help="Skip files larger than this many MB.", min=0.001)
    ] = defaults.MAX_FILE_SIZE / 1e6,
    follow_symlinks: Annotated[
        Optional[bool], typer.Option("--follow-symlinks/--no-follow-symlinks", show_default=False,
                                     help="Follow symbolic links, even out of PATH; each folder is walked once, "
                                     "so loops are safe (default: off; remembered).")
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-index everything from scratch (e.g. to change model); "
                                          "the old index answers until the new one is complete.")] = False,
    fmt: Annotated[
        Optional[Format], typer.Option("--format", "-f", help="Summary format: json or jsonl for scripts; "
                                       "anything else prints the text summary.", case_sensitive=False,
                                       show_default=False)
    ] = None,
) -> None:
    """Create or update the index of PATH (in PATH/.semsearch). Only changed files are re-embedded."""
    with _errors_to_exit_codes():
        with IndexProgressBar(stderr_console()) as bar:
            report = indexer.sync(
                path, model=model, include=include, exclude=exclude, chunk_tokens=chunk_tokens, overlap=overlap,
                backend=backend, max_file_size=int(max_file_size * 1e6), batch_size=batch_size, device=device,
                rebuild=rebuild, follow_symlinks=follow_symlinks, on_progress=bar.update,
            )
        render_report(report, fmt or Format.table, stdout_console())


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
) -> None:
    """Find the passages that mean what TEXT says, best first."""
    with _errors_to_exit_codes():
        queries = _queries(text, batch)
        with _open(index_path, model, device) as idx:
            results = [
                (q if batch is not None else None,
                 idx.query(q, mode=mode.value, top_k=top_k, min_score=min_score, path_glob=path_glob or (),
                           per_file=None if chunks else per_file, query_prompt=query_prompt))
                for q in queries
            ]
            _finish(results, fmt, idx.notices)


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
    with _errors_to_exit_codes():
        with _open(index_path, model, device) as idx:
            options = dict(top_k=top_k, min_score=min_score, path_glob=path_glob or ())
            if source == "-":
                hits = idx.similar(text=sys.stdin.read(), **options)
            else:
                hits = idx.similar(Path(source), **options)
            _finish([(None, hits)], fmt, idx.notices)


@app.command()
def info(index_path: IndexOpt = None, fmt: FormatOpt = None) -> None:
    """Show what is indexed: root, model, files, passages, size, and how many files are stale."""
    with _errors_to_exit_codes():
        with _open(index_path, None, None) as idx:
            render_info(idx.info(), fmt or Format.table, stdout_console())


app.command("status", help="The same as info.")(info)


@app.command("eval")
def eval_(
    dataset: Annotated[Path, typer.Argument(help="A BEIR-layout folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv.")],
    split: Annotated[str, typer.Option("--split", help="Which qrels/SPLIT.tsv judges the queries.")] = "test",
    model: Annotated[
        Optional[str], typer.Option("--model", "-m", envvar="SEMSEARCH_MODEL", show_default=False,
                                    help=f"Model name or folder (default {defaults.DEFAULT_MODEL}).")
    ] = None,
    modes: Annotated[
        Optional[list[Mode]], typer.Option("--mode", help="Evaluate only this mode (repeatable; default: all).",
                                           case_sensitive=False, show_default=False)
    ] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Only the first N queries, for a quick look.",
                                                 min=1, show_default=False)] = None,
    ignore_identical_ids: Annotated[
        bool, typer.Option("--ignore-identical-ids", help="Drop a retrieved document whose id is the query's "
                           "(ArguAna-style datasets, where each query is also a document).")
    ] = False,
    chunk_tokens: Annotated[
        Optional[int], typer.Option("--chunk-tokens", help="Tokens per passage (default as for index).", show_default=False)
    ] = None,
    query_prompt: QueryPromptOpt = None,
    backend: BackendOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Passages per model batch.", min=1,
                                            envvar="SEMSEARCH_BATCH_SIZE")] = defaults.BATCH_SIZE,
    device: DeviceOpt = None,
    cache: Annotated[
        Optional[Path], typer.Option("--cache-dir", show_default=False, help="Where evaluation indexes are kept "
                                     "(default: $SEMSEARCH_CACHE_DIR, else $XDG_CACHE_HOME/semsearch).")
    ] = None,
    fmt: Annotated[
        Optional[Format], typer.Option("--format", "-f", help="json or jsonl for scripts; anything else prints a table.",
                                       case_sensitive=False, show_default=False)
    ] = None,
) -> None:
    """Measure search quality on a BEIR dataset: nDCG@10, Recall@100 and MRR@10 per mode.

    The corpus is indexed once (cached by dataset, model and settings) and reused.
    """
    from .evaluation import run_eval

    with _errors_to_exit_codes():
        settings: dict[str, object] = {"backend": backend or defaults.DEFAULT_BACKEND}
        if chunk_tokens is not None:
            settings["chunk_tokens"] = chunk_tokens
        with IndexProgressBar(stderr_console()) as bar, EvalProgressBar(stderr_console()) as queries:
            report = run_eval(
                dataset, split=split, model=model, settings=settings, modes=[m.value for m in modes or Mode],
                limit=limit, ignore_identical_ids=ignore_identical_ids, query_prompt=query_prompt, cache=cache,
                on_index_progress=bar.update, on_query=queries.update, batch_size=batch_size, device=device,
            )
        render_eval(report, fmt or Format.table, stdout_console())


@contextmanager
def _open(index_path: Optional[Path], model: Optional[str], device: Optional[str]) -> Iterator[Index]:
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
    return [sys.stdin.read().strip() if text == "-" else text]  # type: ignore[list-item]


def _finish(results: list, fmt: Optional[Format], notices: list[str]) -> None:
    """Render, tell notices on stderr, and exit 1 when no query found anything."""
    err = stderr_console()
    for message in notices:
        notice(err, message)
    out = stdout_console()
    render_results(results, choose_format(fmt, out), out)
    if not any(hits for _, hits in results):
        raise typer.Exit(ExitStatus.NO_RESULTS)


def run() -> None:
    """The console entry point: run the command, then exit at once.

    Tearing down the modules torch and sentence-transformers import costs about two
    seconds of CPU at every exit (Ctrl-C included) and does nothing for us: our files
    are closed by then. So exit handlers run and output is flushed, then the process ends.
    """
    try:
        app(prog_name="semsearch")
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else ExitStatus.ERROR
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # e.g. a closed pipe: nothing more can be said
            pass
    os._exit(code)
