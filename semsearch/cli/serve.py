"""``semsearch serve``: the HTTP JSON API over one index, the model loaded once."""

from __future__ import annotations

import socket
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import BadInputError
from ..live import LiveIndex
from ..render import stderr_console
from ..render.watch import print_line
from .app import app, errors_to_exit_codes, one_thread_search
from .live import log_update, until_stopped
from .options import DeviceOpt
from .watch import PollOpt

if TYPE_CHECKING:
    from ..server.guard import Guard

DEFAULT_PORT = 8731

WatchOpt = Annotated[bool, typer.Option("--watch", help="Also keep the index fresh as files change (as "
                                        "`semsearch watch` does); an index is made first if there is none.")]


@app.command()
def serve(
    path: Annotated[Path, typer.Argument(help="The indexed folder (or a folder below it).")] = Path("."),
    host: Annotated[str, typer.Option("--host", help="Where to listen: 127.0.0.1 by default; any other address "
                                      "needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="The port (0: any free one).", min=0,
                                      max=65535)] = DEFAULT_PORT,
    token: Annotated[str | None, typer.Option("--token", envvar="SEMSEARCH_TOKEN", show_default=False,
                                                 help="Ask every request for 'Authorization: Bearer TOKEN' "
                                                 "(at least 16 characters).")] = None,
    watch: WatchOpt = False,
    poll: PollOpt = False,
    device: DeviceOpt = None,
) -> None:
    """Answer queries over HTTP (JSON), with the model loaded once.

    Endpoints: /query, /context, /similar, /passage, /info, /health; the OpenAPI schema at /openapi.json.
    Ctrl-C stops it."""
    with errors_to_exit_codes(), until_stopped("serving"):
        from ..server import check_bind, create_app, is_loopback
        from ..server.endpoint import new_token

        check_bind(host, token)
        one_thread_search()
        with LiveIndex(path, watch=watch, on_update=log_update, device=device, force_polling=poll or None) as live:
            live.start()
            sock = _listen(host, port)
            where = sock.getsockname()
            url = f"http://{f'[{where[0]}]' if ':' in where[0] else where[0]}:{where[1]}"
            local_token = new_token()
            with _advertised(live, where, local_token):  # before the line that says it serves
                print_line(stderr_console(), f"serving {live.root} at {url}"
                           + (" (watching for changes)" if watch else ""))
                _run(create_app(live, token, loopback=is_loopback(host), local_token=local_token), sock)


def _advertised(live: LiveIndex, where: tuple[str, int], local_token: str) -> AbstractContextManager[None]:
    """The endpoint file for `semsearch query`, when this server listens on the loopback."""
    from ..server import is_loopback
    from ..server.endpoint import advertised

    if not is_loopback(where[0]) or isinstance(live.index.index_dir, str):
        return nullcontext()
    return advertised(live.index.index_dir, where[0], where[1], local_token)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound here so that a busy port is one clear line, and port 0 gets a real port."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise BadInputError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port, "
                            "or --port 0 for any free one") from None
    return sock


def _run(asgi: Guard, sock: socket.socket) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn shuts down, then raises the signal again)."""
    import uvicorn

    config = uvicorn.Config(asgi, log_config=None, access_log=False, lifespan="off", server_header=False,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
