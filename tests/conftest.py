"""Shared fixtures.

Two kinds of test live here: fast unit tests of walking, chunking and storage that
use ``FakeEmbedder`` (a deterministic bag-of-words hasher, tests only), and
end-to-end tests that use the real default model on ``sample_corpus/``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from semsearch import sync

from .fakes import FakeEmbedder, FakeFactory  # noqa: F401 - re-exported for the tests

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_corpus"


@pytest.fixture
def fake() -> FakeFactory:
    return FakeFactory()


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
def sample_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of sample_corpus/, indexed once with the real default model."""
    root = tmp_path_factory.mktemp("e2e") / "sample_corpus"
    shutil.copytree(SAMPLE, root)
    sync(root)
    return root


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
