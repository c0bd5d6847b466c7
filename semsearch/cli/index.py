"""``semsearch index``: create or update an index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import defaults
from ..indexing import sync
from ..render import Format, IndexProgressBar, show_report, stderr_console, stdout_console
from .app import app, errors_to_exit_codes
from .options import BackendOpt, BatchSizeOpt, ChunkTokensOpt, DeviceOpt, ModelOpt, ReportFormatOpt


@app.command()
def index(
    path: Annotated[Path, typer.Argument(help="The folder of text files to index.")] = Path("."),
    model: ModelOpt = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Only files matching this glob (repeatable; remembered).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Leave out files matching this glob (repeatable; remembered).")
    ] = None,
    chunk_tokens: ChunkTokensOpt = None,
    overlap: Annotated[
        int | None, typer.Option("--overlap", help=f"Tokens shared by consecutive passages "
                                    f"(default {defaults.OVERLAP_TOKENS}).", show_default=False)
    ] = None,
    backend: BackendOpt = None,
    batch_size: BatchSizeOpt = None,
    device: DeviceOpt = None,
    max_file_size: Annotated[
        float, typer.Option("--max-file-size", help="Skip files larger than this many MB.", min=0.001)
    ] = defaults.MAX_FILE_SIZE / 1e6,
    follow_symlinks: Annotated[
        bool | None, typer.Option("--follow-symlinks/--no-follow-symlinks", show_default=False,
                                     help="Follow symbolic links, even out of PATH; each folder is walked once, "
                                     "so loops are safe (default: off; remembered).")
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-index everything from scratch (e.g. to change model); "
                                          "the old index answers until the new one is complete.")] = False,
    fmt: ReportFormatOpt = None,
) -> None:
    """Create or update the index of PATH (in PATH/.semsearch). Only changed files are re-embedded."""
    with errors_to_exit_codes():
        with IndexProgressBar(stderr_console()) as bar:
            report = sync(
                path, model=model, include=include, exclude=exclude, chunk_tokens=chunk_tokens, overlap=overlap,
                backend=backend, max_file_size=int(max_file_size * 1e6), batch_size=batch_size, device=device,
                rebuild=rebuild, follow_symlinks=follow_symlinks, on_progress=bar.update,
            )
        show_report(report, fmt or Format.table, stdout_console())
