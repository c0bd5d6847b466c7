"""Shared fixtures, the fast/slow split, and the guard that keeps tests off the checkout.

Two kinds of test live here: fast unit tests of walking, chunking, storage, search and
the command line that use ``FakeEmbedder`` (a deterministic bag-of-words hasher, tests
only), and tests marked ``slow`` (the real default model, the command line in child
processes, work at scale); ``pytest -m "not slow"`` is the fast tier.

No test reads or writes the checkout: ``SAMPLE`` is only ever copied (``copy_sample``),
and the session fails if anything under the repository changed during the run.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import semsearch.embedders
from semsearch import sync

from .fakes import FakeEmbedder, FakeFactory, fake_loader  # noqa: F401 - re-exported for the tests

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_corpus"  # only ever copied, with copy_sample(): never read or indexed in place


def copy_sample(dest: Path, *parts: str) -> Path:
    """A copy of sample_corpus/ (or of its subfolder ``parts``) at ``dest``: the notes only,
    never an index that the README's demo may have left there."""
    shutil.copytree(SAMPLE.joinpath(*parts), dest, ignore=shutil.ignore_patterns(".semsearch*"))
    return dest


# ---- the checkout guard ---------------------------------------------------------------

# What may change under the repository while tests run: git's own files, caches of pytest,
# hypothesis and Python, and the editable install's metadata.
_LEFT_OUT = {".git", ".pytest_cache", ".hypothesis", "__pycache__"}
_CHECKOUT = pytest.StashKey[dict]()


def _left_out(name: str) -> bool:
    return name in _LEFT_OUT or name.endswith(".egg-info")


def checkout_state(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` (but what may change) with its kind, and size and mtime for files."""
    state: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _left_out(d))
        for name in [*dirs, *files]:
            if _left_out(name):
                continue
            path = Path(folder, name)
            st = path.lstat()
            if stat.S_ISDIR(st.st_mode):
                state[str(path.relative_to(root))] = ("folder",)  # its mtime moves with caches inside it
            elif stat.S_ISLNK(st.st_mode):
                state[str(path.relative_to(root))] = ("link", os.readlink(path))
            else:
                state[str(path.relative_to(root))] = ("file", st.st_size, st.st_mtime_ns)
    return state


def checkout_changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    """What differs between two ``checkout_state`` snapshots, one line per path."""
    return ([f"appeared: {p}" for p in sorted(after.keys() - before.keys())]
            + [f"disappeared: {p}" for p in sorted(before.keys() - after.keys())]
            + [f"changed: {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]])


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_CHECKOUT] = checkout_state(REPO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if it changed the checkout (tests must work on copies in a temporary folder)."""
    before = session.config.stash.get(_CHECKOUT, None)
    if before is None:
        return
    changes = checkout_changes(before, checkout_state(REPO))
    if not changes:
        return
    lines = [f"the test run changed the checkout {REPO} (tests must work on copies in a temporary folder):",
             *changes[:30], *([f"... and {len(changes) - 30} more"] if len(changes) > 30 else [])]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")  # end the progress line
        reporter.write_sep("=", "checkout changed", red=True, bold=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("\n".join(lines))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ---- markers ---------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``crash_long`` runs only when asked for by name (``-m crash_long``), whatever else ``-m`` says."""
    if "crash_long" in (config.getoption("markexpr") or ""):
        return
    long = [item for item in items if item.get_closest_marker("crash_long")]
    if long:
        config.hook.pytest_deselected(items=long)
        items[:] = [item for item in items if not item.get_closest_marker("crash_long")]


# ---- fixtures --------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeFactory:
    return FakeFactory()


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line loads the fake embedder (through the public registry, ``semsearch.embedders.load``)."""
    monkeypatch.setattr(semsearch.embedders, "load", fake_loader)


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """A small folder of notes on distinct subjects."""
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "logs.md").write_text("# Logs\n\nRotate log files weekly with logrotate and compress old logs.\n")
    (root / "bread.txt").write_text("Bread: flour, water, yeast, salt. Knead ten minutes, proof overnight.\n")
    (root / "sub" / "kyoto.md").write_text("Trip to Kyoto in autumn: temples, gardens, maple leaves.\n")
    return root


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private cache for ONNX copies of models: made once per test run, as a new user's would be."""
    folder = tmp_path_factory.mktemp("cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("SEMSEARCH_CACHE_DIR", str(folder))
    yield folder
    patch.undo()


@pytest.fixture(scope="session")
def sample_notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of sample_corpus/, not indexed, for tests that only read the notes (never change it)."""
    return copy_sample(tmp_path_factory.mktemp("notes") / "sample_corpus")


@pytest.fixture(scope="session")
def sample_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of sample_corpus/, indexed once with the real default model (slow tests only)."""
    root = copy_sample(tmp_path_factory.mktemp("e2e") / "sample_corpus")
    sync(root)
    return root


@pytest.fixture(scope="session")
def sample_fake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of sample_corpus/, indexed once with the fake embedder (for fast tests of the command line)."""
    root = copy_sample(tmp_path_factory.mktemp("fake") / "sample_corpus")
    sync(root, embedder_factory=FakeFactory())
    return root


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_OVERRIDES = (1 << 1) | (1 << 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH: read and search anything


@contextmanager
def permissions_bind() -> Iterator[None]:
    """File permissions bind this thread meanwhile, as they bind a user.

    Run as root (as in CI's containers), a test that chmods a file to 000 would read it
    anyway; so the thread sets aside the capabilities that override permissions (Linux
    keeps them per thread) and takes them back afterwards. A user has none to set aside.
    """
    if os.geteuid() != 0:
        yield
        return
    if not sys.platform.startswith("linux"):
        pytest.skip("denying root a read needs Linux capabilities")
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3, this thread
    if libc.capget(ctypes.byref(header), data) != 0:
        pytest.skip(f"capget failed: {os.strerror(ctypes.get_errno())}")
    saved = data[0].effective
    data[0].effective = saved & ~_OVERRIDES
    if libc.capset(ctypes.byref(header), data) != 0:
        pytest.skip(f"capset failed: {os.strerror(ctypes.get_errno())}")
    try:
        yield
    finally:
        data[0].effective = saved
        assert libc.capset(ctypes.byref(header), data) == 0, os.strerror(ctypes.get_errno())


@contextmanager
def notices() -> Iterator[list[str]]:
    """The notices the library logs meanwhile (what the CLI prints on stderr)."""
    told: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            told.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("semsearch")
    logger.addHandler(handler)
    try:
        yield told
    finally:
        logger.removeHandler(handler)


def fingerprint(root: Path) -> dict[str, object]:
    """Everything a reader sees of an index, to compare before/after a failure."""
    from semsearch import Index

    with Index(root) as idx:
        info = idx.info()
        return {"files": info.files, "passages": info.passages, "generation": idx.generation}


# ---- the shared store (PostgreSQL): a real server, tests/postgres.py -------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server with pgvector, started for this test run (or $SEMSEARCH_TEST_PG_URL)."""
    from .postgres import server

    with server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A new, empty database of that server, for one test."""
    from .postgres import new_database

    return new_database(pg_server)
