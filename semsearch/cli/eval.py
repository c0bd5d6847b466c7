"""``semsearch eval``: search quality on a BEIR dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..render import EvalProgressBar, Format, IndexProgressBar, show_eval, stderr_console, stdout_console
from ..search import CrossEncoderReranker
from .app import app, errors_to_exit_codes
from .options import (
    BackendOpt,
    BatchSizeOpt,
    ChunkTokensOpt,
    DeviceOpt,
    Mode,
    ModelOpt,
    QueryPromptOpt,
    ReportFormatOpt,
    StoreOpt,  # the shared store (cli/shared.py)
)
from .shared import store_url


@app.command("eval")
def eval_(
    dataset: Annotated[Path, typer.Argument(help="A BEIR-layout folder: corpus.jsonl, queries.jsonl, "
                                                 "qrels/SPLIT.tsv.")],
    split: Annotated[str, typer.Option("--split", help="Which qrels/SPLIT.tsv judges the queries.")] = "test",
    model: ModelOpt = None,
    modes: Annotated[
        list[Mode] | None, typer.Option("--mode", help="Evaluate only this mode (repeatable; default: all).",
                                           case_sensitive=False, show_default=False)
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N queries, for a quick look.",
                                                 min=1, show_default=False)] = None,
    ignore_identical_ids: Annotated[
        bool, typer.Option("--ignore-identical-ids", help="Drop a retrieved document whose id is the query's "
                           "(ArguAna-style datasets, where each query is also a document).")
    ] = False,
    chunk_tokens: ChunkTokensOpt = None,
    query_prompt: QueryPromptOpt = None,
    backend: BackendOpt = None,
    batch_size: BatchSizeOpt = None,
    device: DeviceOpt = None,
    cache: Annotated[
        Path | None, typer.Option("--cache-dir", show_default=False, help="Where evaluation indexes are kept "
                                     "(default: $SEMSEARCH_CACHE_DIR, else $XDG_CACHE_HOME/semsearch).")
    ] = None,
    fmt: ReportFormatOpt = None,
    store: StoreOpt = None,
    rerank: Annotated[
        Path | None, typer.Option("--rerank", metavar="MODEL", show_default=False,
                                  help="Re-order each query's candidates with this local sentence-transformers "
                                  "CrossEncoder folder (as query --rerank).")
    ] = None,
) -> None:
    """Measure search quality on a BEIR dataset: nDCG@10, Recall@100 and MRR@10 per mode.

    The corpus is indexed once (cached by dataset, model and settings) and reused.
    """
    from ..evaluation import run_eval

    with errors_to_exit_codes():
        url = store_url(store)
        reranker = None if rerank is None else CrossEncoderReranker.load(rerank, device)
        with IndexProgressBar(stderr_console()) as bar, EvalProgressBar(stderr_console()) as queries:
            report = run_eval(
                dataset, split=split, modes=[m.value for m in modes or Mode], limit=limit,
                ignore_identical_ids=ignore_identical_ids, query_prompt=query_prompt, cache=cache,
                on_index_progress=bar.update, on_query=queries.update, store=url, rerank=reranker,
                model=model, backend=backend, chunk_tokens=chunk_tokens, batch_size=batch_size, device=device,
            )
        show_eval(report, fmt or Format.table, stdout_console())
