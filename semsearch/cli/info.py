"""``semsearch info`` (also ``status``): what is indexed, and what is stale."""

from __future__ import annotations

from ..render import Format, show_info, stdout_console
from .app import app, errors_to_exit_codes
from .options import FormatOpt, IndexOpt
from .query import open_index


@app.command()
def info(index_path: IndexOpt = None, fmt: FormatOpt = None) -> None:
    """Show what is indexed: root, model, files, passages, size, and how many files are stale."""
    with errors_to_exit_codes(), open_index(index_path, None, None) as idx:
        show_info(idx.info(), fmt or Format.table, stdout_console())


app.command("status", help="The same as info.")(info)
