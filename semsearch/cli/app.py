"""The ``semsearch`` application: the Typer app, the one place errors become exit codes,
the handler that prints the library's notices, and the process-wide setup.

Torch, sentence-transformers and faiss are imported only where a model or vectors are
used, so --help and error paths never pay for them.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from ..errors import ExitStatus, SemsearchError
from ..render import error, notice, stderr_console

app = typer.Typer(
    help="Search a folder of text files by meaning. Index once, then query, offline.\n\n"
    "Exit codes: 0 results, 1 nothing passed the filters, 2 error, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"semsearch {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug
    _show_notices()


class _NoticeHandler(logging.Handler):
    """Prints the library's notices (``logging`` warnings) as one line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            notice(stderr_console(), record.getMessage())
        except Exception:  # noqa: BLE001 - a notice must never break a command
            self.handleError(record)


def _show_notices() -> None:
    """Route the library's log records (logger ``semsearch``) to stderr, once per process."""
    logger = logging.getLogger("semsearch")
    if not any(isinstance(h, _NoticeHandler) for h in logger.handlers):
        logger.addHandler(_NoticeHandler(logging.WARNING))


@contextmanager
def errors_to_exit_codes() -> Iterator[None]:
    """The one place that turns exceptions into a line on stderr and an exit code."""
    try:
        yield
    except SemsearchError as exc:
        if _state["debug"]:
            raise
        error(stderr_console(), str(exc))
        raise typer.Exit(exc.exit_status) from None
    except KeyboardInterrupt:
        error(stderr_console(), "interrupted; what was committed is kept — run the same command again to resume")
        raise typer.Exit(ExitStatus.INTERRUPTED) from None


def configure_process() -> None:
    """Process-wide settings, made here at the entry point and never by the library: the
    Hugging Face libraries stay offline and quiet (they read these when first imported)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    for name, value in (("TRANSFORMERS_OFFLINE", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1"),
                        ("TOKENIZERS_PARALLELISM", "false"), ("TRANSFORMERS_VERBOSITY", "error"),
                        ("HF_HUB_DISABLE_PROGRESS_BARS", "1")):
        os.environ.setdefault(name, value)


def one_thread_search() -> None:
    """One query at a time runs faster on one thread than fanned out by OpenMP (a million
    passages: 153 ms against 215 ms on 2 cores; BENCHMARKS.md), and leaves the other
    core to the model's runtime."""
    import faiss

    faiss.omp_set_num_threads(1)


def run() -> None:
    """The console entry point: run the command, then exit at once.

    Tearing down the modules torch and sentence-transformers import costs about two
    seconds of CPU at every exit (Ctrl-C included) and does nothing for us: our files
    are closed by then. So exit handlers run and output is flushed, then the process ends.
    """
    configure_process()
    try:
        app(prog_name="semsearch")
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else ExitStatus.ERROR
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # e.g. a closed pipe: nothing more can be said
            stream.flush()
    os._exit(code)
