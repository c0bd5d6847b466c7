"""The command line: ``app`` (Typer) with one module per command, and ``run``, the entry point."""

from __future__ import annotations

# Each module registers its commands on app, in the order --help lists them.
from . import index, query, similarity, info, eval, watch, serve, mcp, completion  # noqa: F401  # isort: skip
from .app import app, run

__all__ = ["app", "run"]
