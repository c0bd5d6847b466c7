"""The command line: ``app`` (Typer) with one module per command, and ``run``, the entry point.

The command modules are imported when ``app`` is first used: ``run`` first offers the
command to a running server (:mod:`.remote`), which needs none of them.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import app

__all__ = ["app", "run"]


def _commands() -> Any:
    # Each module registers its commands on app, in the order --help lists them.
    from . import index, query, similarity, info, eval, watch, serve, mcp, completion  # noqa: F401  # isort: skip
    from .app import app

    return app


class _Package(ModuleType):
    """This package, whose ``app`` is always the Typer app with its commands: importing the
    submodule of the same name (cli/app.py) binds the submodule here, and is ignored."""

    @property
    def app(self) -> Any:
        return _commands()

    @app.setter
    def app(self, _value: object) -> None:
        pass


sys.modules[__name__].__class__ = _Package


def run() -> None:
    """The console entry point: a query a running server can answer is answered there
    (stdlib only, so the answer comes before Typer or the model could load); anything else runs here."""
    from .remote import answered_by_server

    answered_by_server()  # exits when it answered
    _commands()
    from .app import run as run_here

    run_here()
