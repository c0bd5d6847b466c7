"""The HTTP server's app: the API (FastAPI) behind a guard for the token and the Host
header. ``semsearch serve`` runs it with uvicorn on a socket it binds itself."""

from __future__ import annotations

from .app import create_app
from .guard import Guard, check_bind, is_loopback

__all__ = ["Guard", "check_bind", "create_app", "is_loopback"]
