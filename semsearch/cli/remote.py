"""``semsearch query`` answered by a running ``semsearch serve`` of the same index.

Before the command line loads anything heavy, :func:`answered_by_server` looks for the
endpoint file a server keeps in the index folder (:mod:`semsearch.server.endpoint`), asks
that server over the loopback, and writes the answer exactly as the local path would (same
hits, formats, paths and exit codes). Only the standard library and the light parts of
semsearch are loaded, so the answer comes in a fraction of the cold start. Anything it is
not sure of falls back, silently, to the local path: an option it does not handle (or
``--no-server``, or ``SEMSEARCH_NO_SERVER=1``), no endpoint file, a file that is not the
user's own regular file with mode 0600 (a link is never followed), a dead pid, a closed
port, a server for another folder, any error. Errors are never reported from here: the
local path reports them as it always does.
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
from pathlib import Path
from typing import Any

from ..defaults import ENDPOINT_NAME, INDEX_DIR_NAME, PER_FILE, TOP_K
from ..errors import ExitStatus

CONNECT_TIMEOUT = 0.5  # seconds; a server on this machine accepts at once, or is not there
ANSWER_TIMEOUT = 60.0  # a busy server is still faster than a cold start
FORMATS = ("table", "json", "jsonl", "tsv", "csv", "paths", "vimgrep")
MODES = ("dense", "lexical", "hybrid")
_VALUED = {"--top-k": "top_k", "-k": "top_k", "--min-score": "min_score", "--path": "path",
           "--per-file": "per_file", "--mode": "mode", "--query-prompt": "query_prompt", "--format": "format",
           "-f": "format", "--index": "index", "-i": "index"}
_FLAGS = {"--all": "all", "-a": "all", "--chunks": "chunks", "--absolute": "absolute", "--null": "null",
          "-0": "null", "--no-server": "no_server"}


class _DeclinedError(Exception):
    """This query is for the local path."""


def answered_by_server(argv: list[str] | None = None) -> None:
    """Answer ``semsearch query ARGS`` through a running server and exit with the
    command's exit code; return (having written nothing) when the local path should."""
    if os.environ.get("SEMSEARCH_NO_SERVER") or os.environ.get("_SEMSEARCH_COMPLETE"):
        return
    try:
        hits, opts, view = _answer(sys.argv[1:] if argv is None else argv)
    except (_DeclinedError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return
    # From here on the query is answered: nothing falls back and writes a second time.
    try:
        code = _show(hits, opts, view)
        sys.stdout.flush()
    except BrokenPipeError:
        code = ExitStatus.PIPE_CLOSED  # whoever read stdout has gone (`| head -1`)
    os._exit(code)


def parse(argv: list[str]) -> dict[str, Any]:
    """The options of a ``query`` this module can answer, as click would read them.

    Raises:
        _DeclinedError: anything else (another command, an option not handled here, a value
            the local path would refuse or read differently).
    """
    if not argv or argv[0] != "query":
        raise _DeclinedError
    opts: dict[str, Any] = {"words": [], "path": []}
    args = iter(argv[1:])
    for arg in args:
        if arg == "--":
            opts["words"].extend(args)
            break
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _VALUED:
            key = _VALUED[name]
            value = value if eq else next(args, None)  # type: ignore[assignment]
            if value is None:
                raise _DeclinedError
            if key == "path":
                opts["path"].append(value)
            elif key in opts:
                raise _DeclinedError  # given twice: click keeps the last; rare enough to leave to it
            else:
                opts[key] = value
        elif name in _FLAGS and not eq:
            opts[_FLAGS[name]] = True
        elif arg.startswith("-") and arg != "-":
            raise _DeclinedError
        else:
            opts["words"].append(arg)
    return _checked(opts)


def _checked(opts: dict[str, Any]) -> dict[str, Any]:
    text = " ".join(opts["words"])
    if not opts["words"] or text == "-" or opts.get("no_server"):
        raise _DeclinedError
    top_k, per_file = _count(opts.get("top_k"), TOP_K), _count(opts.get("per_file"), PER_FILE)
    min_score = opts.get("min_score")
    if min_score is not None:
        min_score = float(min_score)
        if not math.isfinite(min_score):
            raise _DeclinedError
    mode = opts.get("mode", "hybrid").lower()
    fmt = opts.get("format")
    fmt = fmt.lower() if fmt is not None else None
    if mode not in MODES or (fmt is not None and fmt not in FORMATS) or (opts.get("null") and fmt not in (None,
                                                                                                         "paths")):
        raise _DeclinedError
    if os.environ.get("SEMSEARCH_STORE") or os.environ.get("SEMSEARCH_DEVICE"):
        raise _DeclinedError
    return {"query": text, "top_k": top_k, "per_file": per_file, "min_score": min_score, "mode": mode,
            "path": opts["path"], "chunks": bool(opts.get("chunks")), "query_prompt": opts.get("query_prompt"),
            "format": fmt, "null": bool(opts.get("null")), "all": bool(opts.get("all")),
            "absolute": bool(opts.get("absolute")), "index": opts.get("index") or os.environ.get("SEMSEARCH_INDEX")}


def _count(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise _DeclinedError
    return int(value)


def index_dir_for(start: Path) -> Path:
    """The index folder the local path would open for ``start`` (see
    :func:`semsearch.storage.layout.find_index_dir`, which this must agree with)."""
    start = start.expanduser().resolve()
    if start.name == INDEX_DIR_NAME and start.is_dir():
        return start
    for folder in [start, *start.parents]:
        if (folder / INDEX_DIR_NAME).is_dir():
            return folder / INDEX_DIR_NAME
    raise _DeclinedError


def read_endpoint(index_dir: Path) -> dict[str, Any]:
    """The endpoint a live server wrote in ``index_dir``: only from the user's own regular
    file with mode 0600 and one name, opened without following a link.

    Raises:
        _DeclinedError: no such file, not one to trust, or its server is gone.
    """
    try:
        fd = os.open(index_dir / ENDPOINT_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        raise _DeclinedError from None
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) != 0o600
                or st.st_nlink != 1):
            raise _DeclinedError
        data: dict[str, Any] = json.loads(os.read(fd, 4096))
    finally:
        os.close(fd)
    pid, port, host, token = data["pid"], data["port"], data["host"], data["token"]
    if not (isinstance(pid, int) and isinstance(port, int) and host in ("127.0.0.1", "::1")
            and isinstance(token, str) and token.isascii() and token.isprintable()):
        raise _DeclinedError
    os.kill(pid, 0)  # ProcessLookupError (an OSError): a server killed without cleaning up
    return data


def ask(endpoint: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to the server's /query; its JSON answer.

    HTTP/1.1 over a plain socket, one request per connection: ``http.client`` would load
    the email package, a tenth of the time this path has.

    Raises:
        _DeclinedError: anything but a 200 with a body of the length announced.
    """
    import socket

    payload = json.dumps(body).encode()
    host = endpoint["host"]
    request = (f"POST /query HTTP/1.1\r\nHost: {f'[{host}]' if ':' in host else host}:{endpoint['port']}\r\n"
               f"Authorization: Bearer {endpoint['token']}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode() + payload
    with socket.create_connection((host, endpoint["port"]), timeout=CONNECT_TIMEOUT) as sock:
        sock.settimeout(ANSWER_TIMEOUT)
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    head, _, content = b"".join(chunks).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    if status.split(" ")[1:2] != ["200"] or int(headers["content-length"]) != len(content):
        raise _DeclinedError
    answer: dict[str, Any] = json.loads(content)
    return answer


def _answer(argv: list[str]) -> tuple[list[Any], dict[str, Any], Any]:
    """The hits a server gives for this query, the options, and the view of paths."""
    opts = parse(argv)
    index_dir = index_dir_for(Path(opts["index"]) if opts["index"] else Path.cwd())
    root = index_dir.parent
    endpoint = read_endpoint(index_dir)

    from .paths import PathView  # light: no model, no vectors, no Rich

    view = PathView.of(root, absolute=opts["absolute"], whole=opts["all"])
    try:
        globs = view.globs(opts["path"])
    except Exception:  # noqa: BLE001 - a bad glob: the local path says what is wrong
        raise _DeclinedError from None
    body = {"query": opts["query"], "mode": opts["mode"], "top_k": opts["top_k"], "min_score": opts["min_score"],
            "path": globs, "per_file": opts["per_file"], "chunks": opts["chunks"],
            "query_prompt": opts["query_prompt"]}
    answer = ask(endpoint, body)
    if Path(answer["root"]) != root:
        raise _DeclinedError  # a server of another folder on that port

    from ..records import Hit

    fields = ("rank", "score", "path", "start_line", "end_line", "text", "dense", "lexical")
    hits = [Hit(**{f: r.get(f) for f in fields}) for r in answer["results"]]
    if any(not os.path.lexists(os.path.join(root, h.path)) for h in hits):
        raise _DeclinedError  # deleted since indexed: the local path says so, and leaves it out
    return hits, opts, view


def _show(hits: list[Any], opts: dict[str, Any], view: Any) -> int:
    """Write the hits as :func:`semsearch.cli.query.finish` does; the exit code."""
    from ..render.formats import Format
    fmt = Format(opts["format"]) if opts["format"] else None
    if opts["null"] and fmt is None:
        fmt = Format.paths
    if fmt is None and (os.isatty(1) or any(os.environ.get(v) for v in ("FORCE_COLOR", "TTY_COMPATIBLE",
                                                                          "FORCE_TERMINAL", "JUPYTER_COLUMNS"))):
        from ..render.console import choose_format, stdout_console

        fmt = choose_format(None, stdout_console())
    fmt = fmt or Format.tsv
    if fmt is Format.table:
        from ..render import notice, show_results, stderr_console, stdout_console

        show_results([(None, hits)], fmt, stdout_console(), paths=view, query=opts["query"])
        if not hits:
            where = " in this folder (--all searches the whole index)" if view.scope else ""
            notice(stderr_console(), f"no results{where}")
    else:
        from ..render.machine import write_results

        write_results([(None, hits)], fmt, view, opts["null"])
    return ExitStatus.OK if hits else ExitStatus.NO_RESULTS
