"""``semsearch info`` (also ``status``): what is indexed, and what is stale."""

from __future__ import annotations

from typing import Annotated

import typer

from ..render import choose_format, show_info, stdout_console
from .app import app, errors_to_exit_codes
from .options import CollectionsOpt, FormatOpt, IndexOpt, StoreOpt
from .query import open_index


@app.command()
def info(
    index_path: IndexOpt = None,
    fmt: FormatOpt = None,
    check: Annotated[bool, typer.Option("--check", help="Also read the whole index and verify it (the catalog's "
                                        "pages, vectors.faiss's checksum); exit 2 if it is damaged.")] = False,
    store: StoreOpt = None,
    collection: CollectionsOpt = None,
) -> None:
    """Show what is indexed: root, model, files, passages, size, and how many files are stale.

    A table on a terminal, key-TAB-value lines when piped; --format json, jsonl, csv or tsv."""
    with errors_to_exit_codes(), open_index(index_path, None, None, store, collection) as idx:
        if check:
            idx.check()
        out = stdout_console()
        show_info(idx.info(), choose_format(fmt, out), out)


app.command("status", help="The same as info.")(info)
