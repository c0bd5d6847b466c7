"""Run the real ``semsearch`` command line in this process, with the fast fake
embedder (the one that queues its batches on worker threads, as the ONNX backends do),
and optionally kill itself at a named point (test code, never the product).

    python tests/crash_child.py [--kill POINT:N | --interrupt POINT:N | --pause POINT:N:FILE] -- ARGS...

``--kill`` sends this process SIGKILL just as POINT is reached for the N-th time;
``--interrupt`` sends SIGINT instead (as Ctrl-C would); ``--pause`` creates FILE there
and waits until it is deleted (to run other commands against a writer mid-run). The product has no hooks for
this: the points are functions of semsearch and of the standard library, patched here
from the outside. ``SEMSEARCH_TEST_COMMIT_EVERY`` shrinks the commit batches (text and
vectors) so a small corpus commits several of each. With ``--real-model`` the real default model is used.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import semsearch.embedders
import semsearch.indexing.steps
import semsearch.indexing.writer
from semsearch import cli, defaults
from semsearch.embedders.onnx_runtime import OnnxEmbedder
from semsearch.embedders.torch import TorchEmbedder
from semsearch.storage import SqliteCatalog as Store
from tests.fakes import FakeEmbedder, QueuingFake, queuing_loader

# Where a run can be killed. Each names what has just happened, or is about to.
POINTS = {
    "walk": "a folder is about to be listed",
    "read": "a file has been read, before it is decoded",
    "chunk": "a file is about to be cut into passages",
    "embed": "a batch of passages is about to be embedded",
    "insert": "a file's passages are being inserted, text only (transaction open): the text phase",
    "vectors": "a batch's vectors are being stored (transaction open): the embedding phase",
    "commit": "SQLite is about to run COMMIT",
    "committed": "a batch has just been committed",
    "fsync": "vectors.faiss's temp file is written, about to be flushed and renamed",
    "replace": "a temp file (new catalog, vectors.faiss) is about to be renamed into place",
    "swap": "--rebuild is about to swap the new index in",
    "swapped": "--rebuild has swapped the new index in, the old one not yet deleted",
}


class _Trigger:
    def __init__(self, point: str, nth: int, action) -> None:
        if point not in POINTS:
            raise SystemExit(f"unknown kill point {point!r}; one of {', '.join(POINTS)}")
        self.point, self.nth, self.action, self.seen = point, nth, action, 0

    def hit(self, point: str) -> None:
        if point == self.point:
            self.seen += 1
            if self.seen == self.nth:
                self.action()


def _pause(flag: Path) -> None:
    flag.touch()
    deadline = time.monotonic() + 120
    while flag.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _install(trigger: _Trigger) -> None:
    hit = trigger.hit

    def before(point: str, func):
        def wrapper(*args, **kwargs):
            hit(point)
            return func(*args, **kwargs)

        return wrapper

    def after(point: str, func):
        def wrapper(*args, **kwargs):
            result = func(*args, **kwargs)
            hit(point)
            return result

        return wrapper

    os.scandir = before("walk", os.scandir)
    os.fsync = before("fsync", os.fsync)
    os.replace = before("replace", os.replace)
    writer, sync = semsearch.indexing.writer, semsearch.indexing.steps
    writer.read_document = before("read", writer.read_document)
    writer.chunk_text = before("chunk", writer.chunk_text)
    sync.exchange_folders = after("swapped", before("swap", sync.exchange_folders))

    connect = Store._connect

    def traced_connect(path: Path, **options: bool):
        conn = connect(path, **options)

        def trace(statement: str) -> None:
            if statement.startswith("INSERT INTO chunks"):
                hit("insert")
            elif statement.startswith("UPDATE chunks SET vector"):
                hit("vectors")
            elif statement == "COMMIT":
                hit("commit")

        conn.set_trace_callback(trace)
        return conn

    Store._connect = staticmethod(traced_connect)
    transaction = Store.transaction

    @contextmanager
    def watched_transaction(self):
        with transaction(self):
            yield
        hit("committed")

    Store.transaction = watched_transaction
    for cls in (FakeEmbedder, TorchEmbedder):
        cls.embed_documents = before("embed", cls.embed_documents)
    for cls in (QueuingFake, OnnxEmbedder):  # indexing queues its batches through these
        cls.submit_documents = before("embed", cls.submit_documents)


def run(argv: list[str]) -> None:
    if "--" not in argv:
        raise SystemExit(__doc__)
    options, args = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    if "--real-model" not in options:
        semsearch.embedders.load = queuing_loader
    if os.environ.get("SEMSEARCH_TEST_COMMIT_EVERY"):
        defaults.COMMIT_EVERY = int(os.environ["SEMSEARCH_TEST_COMMIT_EVERY"])
        defaults.TEXT_COMMIT_EVERY = 4 * defaults.COMMIT_EVERY  # the text phase commits in several batches too
        defaults.SORT_WINDOW = 2 * defaults.COMMIT_EVERY
        defaults.TOKENIZE_BYTES = 1  # each file tokenized alone: text commits as small as the batches ask
    actions = {
        "--kill": lambda: os.kill(os.getpid(), signal.SIGKILL),
        "--interrupt": lambda: os.kill(os.getpid(), signal.SIGINT),
    }
    for flag in (*actions, "--pause"):
        if flag in options:
            point, nth, *rest = options[options.index(flag) + 1].split(":", 2)
            action = actions[flag] if flag in actions else functools.partial(_pause, Path(rest[0]))
            _install(_Trigger(point, int(nth), action))
    sys.argv = ["semsearch", *args]
    cli.run()


if __name__ == "__main__":
    run(sys.argv[1:])
