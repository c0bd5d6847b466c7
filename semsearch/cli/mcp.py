"""``semsearch mcp``: a Model Context Protocol server over stdio, for agents and assistants."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..live import LiveIndex
from ..render import stderr_console
from ..render.watch import print_line
from .app import app, errors_to_exit_codes, one_thread_search
from .live import log_update, until_stopped
from .options import DeviceOpt
from .serve import WatchOpt
from .watch import PollOpt


@app.command()
def mcp(
    path: Annotated[Path, typer.Argument(help="The indexed folder (or a folder below it).")] = Path("."),
    watch: WatchOpt = False,
    poll: PollOpt = False,
    device: DeviceOpt = None,
) -> None:
    """Serve the index to agents: a Model Context Protocol server on stdin/stdout.

    Tools: search, context, similar, get_passage, index_status. For MCP clients such as Claude Desktop
    or an IDE; logs go to stderr."""
    with errors_to_exit_codes(), until_stopped("the MCP server"):
        from ..mcp_server import run_stdio

        one_thread_search()
        with LiveIndex(path, watch=watch, on_update=log_update, device=device, force_polling=poll or None) as live:
            live.start()
            print_line(stderr_console(), f"MCP server for {live.root} on stdio" + (" (watching)" if watch else ""))
            run_stdio(live)
