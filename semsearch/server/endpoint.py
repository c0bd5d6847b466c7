"""The endpoint file: how ``semsearch query`` finds a ``serve`` process for its index.

While it listens on the loopback, ``serve`` keeps ``.semsearch/server.json`` (owner-only,
written through :func:`~semsearch.storage.safety.open_private`, so never through a link)
holding its pid, address, port and a random token made for this run, which the server
accepts as well as the user's own (that one is never written down). A clean exit removes
the file; one left by a killed process names a dead pid or a closed port, and the client
ignores it (:mod:`semsearch.cli.remote` reads it, refusing anything but the user's own
regular file with mode 0600).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..defaults import ENDPOINT_NAME
from ..errors import UnsafeFolderError
from ..storage.safety import open_private

log = logging.getLogger(__name__)


def new_token() -> str:
    return secrets.token_urlsafe(32)


@contextmanager
def advertised(index_dir: Path, host: str, port: int, token: str) -> Iterator[None]:
    """``index_dir/server.json`` names this server while the block runs, then is removed
    (if it still names this server: a later ``serve`` of the same index may have taken it over)."""
    path = Path(index_dir) / ENDPOINT_NAME
    data = json.dumps({"pid": os.getpid(), "host": host, "port": port, "token": token}).encode()
    try:
        fd = open_private(path)
    except (OSError, UnsafeFolderError) as exc:
        log.warning("cannot write %s (%s); `semsearch query` will not use this server", path, exc)
        yield
        return
    try:
        os.pwrite(fd, data, 0)  # over what a killed server left, then cut what is left of it
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                ours = json.loads(os.read(fd, 4096)).get("token") == token
            finally:
                os.close(fd)
            if ours:
                os.unlink(path)
