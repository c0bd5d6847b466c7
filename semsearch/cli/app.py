"""The ``semsearch`` application: the Typer app, the one place errors become exit codes,
the handler that prints the library's notices, and the process-wide setup.

Torch, sentence-transformers and faiss are imported only where a model or vectors are
used, so --help and error paths never pay for them.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from ..errors import BadInputError, ExitStatus, SemsearchError
from ..render import error, notice, stderr_console


class _Commands(TyperGroup):
    """semsearch's commands. Whatever happens in one (a usage error, an error no command
    expected, Ctrl-C), the process ends with 0, 1 (nothing found, and only that), 2 (an
    error: one line on stderr) or 130 (interrupted): a script never reads a crash as
    "nothing found"."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        _state.update(debug=False, nothing_found=False)
        try:
            code: object = super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        except SystemExit as exc:
            code = exc.code
        except Exception as exc:  # noqa: BLE001 - escaped before a command could map it
            code = report_error(exc)
        code = _exit_code(code)
        if standalone_mode:
            sys.exit(code)
        return code


def _exit_code(code: object) -> int:
    if code is None:
        return ExitStatus.OK
    if not isinstance(code, int):  # sys.exit("message")
        print(code, file=sys.stderr)
        return ExitStatus.ERROR
    if code == ExitStatus.NO_RESULTS and not _state["nothing_found"]:
        return ExitStatus.ERROR  # click's Abort, a closed pipe...: errors, never "nothing found"
    return code


app = typer.Typer(
    cls=_Commands,
    help="Search a folder of text files by meaning. Index once, then query, offline.\n\n"
    "Exit codes: 0 results, 1 nothing passed the filters, 2 error, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False, "nothing_found": False}


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
    _exact_output()


def _exact_output() -> None:
    """A file name that is not UTF-8 is written to stdout as the bytes it is made of (the
    ``paths`` format carries exact names; tables and TSV show such bytes escaped), and
    nothing written to stderr can fail to encode."""
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        with suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors=errors)  # type: ignore[union-attr]


def nothing_found() -> typer.Exit:
    """The exit for "no result passed the filters": the only way a command exits 1."""
    _state["nothing_found"] = True
    return typer.Exit(ExitStatus.NO_RESULTS)


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
    for handler in logger.handlers:
        if isinstance(handler, _NoticeHandler):
            handler.setLevel(logging.WARNING)
            return
    logger.addHandler(_NoticeHandler(logging.WARNING))


def quiet_notices() -> None:
    """``--quiet``: the library's notices are not printed (errors still are)."""
    for handler in logging.getLogger("semsearch").handlers:
        if isinstance(handler, _NoticeHandler):
            handler.setLevel(logging.ERROR)


def progress_every() -> float:
    """Seconds between plain progress lines when stderr is not a terminal:
    ``$SEMSEARCH_PROGRESS_SECONDS``, else 10."""
    from ..render.progress import PLAIN_EVERY

    raw = os.environ.get("SEMSEARCH_PROGRESS_SECONDS", "")
    try:
        every = float(raw) if raw else PLAIN_EVERY
    except ValueError:
        every = -1.0
    if not every >= 0:
        raise BadInputError(f"SEMSEARCH_PROGRESS_SECONDS={raw!r} is not a number of seconds; unset it or give one")
    return every


@contextmanager
def errors_to_exit_codes() -> Iterator[None]:
    """The one place that turns exceptions into a line on stderr and an exit code: a
    :class:`SemsearchError` says what to do; anything else is unexpected, and says so,
    also in one line, with exit 2 (``--debug`` adds the traceback)."""
    try:
        yield
    except (typer.Exit, typer.Abort, TyperException):
        raise  # click's own: usage errors (exit 2) and exits
    except KeyboardInterrupt:
        error(stderr_console(), "interrupted; what was committed is kept — run the same command again to resume")
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    except BrokenPipeError:
        # Whoever read stdout has gone (`| head -1`): not an error, and nothing more can be said.
        raise typer.Exit(ExitStatus.PIPE_CLOSED) from None
    except Exception as exc:  # noqa: BLE001 - nothing may end a command with a traceback and exit 1
        raise typer.Exit(report_error(exc)) from None


def report_error(exc: BaseException) -> int:
    """Say what went wrong in one line on stderr (after the traceback with ``--debug``);
    return the exit code."""
    if _state["debug"]:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, SemsearchError):
        error(stderr_console(), str(exc))
        return exc.exit_status
    error(stderr_console(), f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())} (a bug in semsearch; "
          "run with --debug for the traceback and please report it)")
    return ExitStatus.ERROR


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
    if os.environ.get("_SEMSEARCH_COMPLETE"):  # a shell asks for completions (`semsearch completion SHELL`)
        from typer.completion import completion_init

        completion_init()  # Typer's completion classes, which its scripts expect
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
        with suppress(OSError, ValueError):  # e.g. a closed pipe: nothing more can be said
            stream.flush()
    os._exit(code)
