"""``semsearch index``: create or update an index."""

from __future__ import annotations

import math
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import defaults
from ..errors import BadInputError
from ..indexing import check_folder, sync
from ..indexing.shared import sync_shared
from ..render import (
    Format,
    IndexProgressBar,
    show_report,
    stderr_console,
    stdout_console,
)
from ..storage import enclosing_root
from .app import app, errors_to_exit_codes, progress_every, quiet_notices
from .options import (  # the shared store (cli/shared.py)
    FILES_PANEL,
    MODEL_PANEL,
    BackendOpt,
    BatchSizeOpt,
    ChunkTokensOpt,
    CollectionOpt,
    DeviceOpt,
    ModelOpt,
    ReportFormatOpt,
    StoreOpt,
)
from .shared import check_no_collection, store_url

VectorIndexKind = Enum("VectorIndexKind", {k: k for k in defaults.VECTOR_INDEXES}, type=str)  # type: ignore[misc]


@app.command()
def index(
    path: Annotated[Path, typer.Argument(help="The folder of text files to index.")] = Path("."),
    model: ModelOpt = None,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", metavar="GLOB", help="Only files matching this glob (repeatable; remembered)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", metavar="GLOB", help="Leave out files matching this glob (repeatable; remembered)."),
    ] = None,
    chunk_tokens: ChunkTokensOpt = None,
    overlap: Annotated[
        int | None, typer.Option("--overlap", metavar="N", help=f"Tokens shared by consecutive passages "
                                    f"(default {defaults.OVERLAP_TOKENS}).", show_default=False,
                                    rich_help_panel=FILES_PANEL)
    ] = None,
    backend: BackendOpt = None,
    batch_size: BatchSizeOpt = None,
    device: DeviceOpt = None,
    max_file_size: Annotated[
        float, typer.Option("--max-file-size", help="Skip files larger than this many MB.", min=0.001, metavar="MB",
                            rich_help_panel=FILES_PANEL)
    ] = defaults.MAX_FILE_SIZE / 1e6,
    follow_symlinks: Annotated[
        bool | None, typer.Option("--follow-symlinks/--no-follow-symlinks", show_default=False,
                                     help="Follow symbolic links, even out of PATH; each folder is walked once, "
                                     "so loops are safe (default: off; remembered).", rich_help_panel=FILES_PANEL)
    ] = None,
    vector_index: Annotated[
        VectorIndexKind | None, typer.Option(
            "--vector-index", case_sensitive=False, show_default=False, metavar="KIND", rich_help_panel=MODEL_PANEL,
            help="auto (exact up to 100,000 passages, then ivf), flat, ivf or hnsw; remembered "
                 "(README). \\[env: SEMSEARCH_VECTOR_INDEX]")
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-index everything from scratch (e.g. to change model); "
                                          "the old index answers until the new one is complete.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no notices on stderr "
                                        "(errors still).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Go ahead even if changed filters would remove most "
                                      "of the index (otherwise asked at a terminal, refused elsewhere).")] = False,
    reset_filters: Annotated[bool, typer.Option("--reset-filters", help="Forget the remembered --include/--exclude "
                                                "globs and --follow-symlinks (new ones given here apply).",
                                                rich_help_panel=FILES_PANEL)] = False,
    nested: Annotated[bool, typer.Option("--nested", help="Make a separate index in PATH even when a folder above "
                                         "it is indexed (default: update that index, walking only PATH).")] = False,
    fmt: ReportFormatOpt = None,
    store: StoreOpt = None,
    collection: CollectionOpt = None,
) -> None:
    """Create or update the index of PATH (in PATH/.semsearch). Only changed files are re-embedded.

    Inside an indexed folder (like git), PATH updates the index above it, walking only PATH."""
    with errors_to_exit_codes():
        url = store_url(store)
        if url is None:
            check_no_collection(collection)
        root, within = (check_folder(path), None) if url is not None else _target(path, nested)
        if quiet:
            quiet_notices()
        if reset_filters:
            include, exclude = include or [], exclude or []
            follow_symlinks = bool(follow_symlinks)
        with IndexProgressBar(stderr_console(), quiet, progress_every()) as bar:
            where = {"within": within} if url is None else {"store": url, "collection": collection}
            report = (sync if url is None else sync_shared)(
                root, **where, model=model, include=include, exclude=exclude, chunk_tokens=chunk_tokens,
                overlap=overlap,
                backend=backend, max_file_size=_bytes(max_file_size), batch_size=batch_size, device=device,
                rebuild=rebuild, follow_symlinks=follow_symlinks, on_progress=bar.update,
                confirm=lambda question: yes or _ask(question),
                vector_index=vector_index.value if vector_index else None,
            )
        show_report(report, fmt or Format.table, stdout_console())


def _target(path: Path, nested: bool) -> tuple[Path, Path | None]:
    """The index to update, and the only folder to walk in it: PATH's own index, else the
    nearest indexed folder above PATH (unless --nested), else a new index in PATH."""
    folder = check_folder(path)
    if nested or (folder / defaults.INDEX_DIR_NAME).exists():
        return folder, None
    root = enclosing_root(folder)
    return (folder, None) if root is None else (root, folder)


def _ask(question: str) -> bool:
    """Ask at a terminal (stdin and stderr both); elsewhere the answer is no."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    try:
        return typer.confirm(f"semsearch: {question}", default=False, err=True)
    except typer.Abort:  # Ctrl-D or Ctrl-C at the prompt
        return False


def _bytes(megabytes: float) -> int:
    """--max-file-size in bytes (inf and nan are floats too, but no size)."""
    if not math.isfinite(megabytes) or megabytes * 1e6 >= 2**62:
        raise BadInputError(f"--max-file-size {megabytes} is not a size; give a number of MB, e.g. 5")
    return int(megabytes * 1e6)
