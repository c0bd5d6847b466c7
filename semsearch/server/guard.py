"""Who may talk to the server: where it listens, the token, and the Host header.

By default the server listens on the loopback interface only. Listening anywhere else
is refused unless a token is set: anyone who can reach the port could otherwise read
every indexed note. With a token, each request must carry ``Authorization: Bearer
TOKEN`` (compared in constant time), else 401; the per-run token a server writes in its
endpoint file (for ``semsearch query`` to use it) is accepted too. On loopback, the ``Host`` header must
name the loopback too: a web page that points its own domain at 127.0.0.1 (DNS
rebinding) cannot make the browser read your notes through the server.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..errors import BadInputError

# ASGI's types, as the spec (and Starlette, and so FastAPI) write them.
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address to listen on) is this machine's loopback only."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond the loopback without a token.

    Raises:
        BadInputError: ``host`` is not loopback and no token is set, or the token is too short.
    """
    if token is not None and len(token) < 16:
        raise BadInputError("the token is too short; use at least 16 characters, e.g. `openssl rand -hex 16`")
    if not is_loopback(host) and not token:
        raise BadInputError(
            f"refusing to listen on {host} without a token: anyone who can reach it could read your notes; "
            "set --token (or SEMSEARCH_TOKEN), or listen on 127.0.0.1"
        )


def _host_name(header: str) -> str:
    """The name in a Host header, without its port (``[::1]:8000`` -> ``::1``)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware that checks the Host header (on loopback) and the token (if set)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], token: str | None,
                 loopback: bool, local_token: str | None = None) -> None:
        self.app = app
        tokens = [token, local_token] if token else []
        self._expected = [f"Bearer {t}".encode() for t in tokens if t]
        self._loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            host = _host_name(headers.get(b"host", b"").decode("latin-1"))
            if self._loopback and not is_loopback(host):
                await _deny(send, 403, "this server answers requests to localhost only")
                return
            if self._expected:
                given = headers.get(b"authorization", b"")
                matches = [hmac.compare_digest(given, expected) for expected in self._expected]  # each compared
                if not any(matches):
                    await _deny(send, 401, "a valid token is needed: send the header 'Authorization: Bearer TOKEN'")
                    return
        await self.app(scope, receive, send)


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
