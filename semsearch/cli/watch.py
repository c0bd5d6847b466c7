"""``semsearch watch``: index a folder, then keep the index fresh as files change."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..watching import Watcher
from .app import app, errors_to_exit_codes
from .live import log_update, log_wait, until_stopped
from .options import BackendOpt, BatchSizeOpt, DeviceOpt, ModelOpt

PollOpt = Annotated[bool, typer.Option("--poll", help="Poll the folder for changes instead of using the OS's "
                                       "notifications (network drives, or past the OS's limit on watched folders).")]


@app.command()
def watch(
    path: Annotated[Path, typer.Argument(help="The folder of text files to index and watch.")] = Path("."),
    model: ModelOpt = None,
    backend: BackendOpt = None,
    batch_size: BatchSizeOpt = None,
    device: DeviceOpt = None,
    poll: PollOpt = False,
) -> None:
    """Index PATH, then keep its index fresh as files change (until Ctrl-C).

    Added, edited, renamed and deleted files are applied within moments; only changed content is re-embedded;
    one line per change on stderr."""
    with errors_to_exit_codes(), until_stopped("watching"):
        watcher = Watcher(path, on_update=log_update, on_wait=log_wait, force_polling=poll or None, model=model,
                          backend=backend, batch_size=batch_size, device=device)
        watcher.run()
