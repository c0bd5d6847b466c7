"""Shared fixtures.

Two kinds of test live here: fast unit tests of walking, chunking and storage that
use ``FakeEmbedder`` (a deterministic bag-of-words hasher, tests only), and
end-to-end tests that use the real default model on ``sample_corpus/``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

from semsearch import sync
from semsearch.embedding import ModelRef

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_corpus"
_TOKEN = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Words hashed into a small unit vector: similar word bags, similar vectors.

    Good enough to test storage and incremental logic quickly; never the product.
    """

    dimension = 64
    max_tokens = 254

    def __init__(self, ref: ModelRef) -> None:
        self.model_id = ref.model_id
        self.calls: list[int] = []  # passages per embed_documents call

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _TOKEN.finditer(text)]

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, np.float32)
        for word in re.findall(r"\w+", text.lower()):
            v[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_query(self, text: str, prompt: str | None = None) -> np.ndarray:
        return self._vector((prompt or "") + text)


class FakeFactory:
    """An embedder factory that remembers the embedders it made (to count work)."""

    def __init__(self) -> None:
        self.made: list[FakeEmbedder] = []

    def __call__(self, ref: ModelRef) -> FakeEmbedder:
        self.made.append(FakeEmbedder(ref))
        return self.made[-1]

    @property
    def passages_embedded(self) -> int:
        return sum(sum(e.calls) for e in self.made)


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


@pytest.fixture(scope="session")
def sample_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of sample_corpus/, indexed once with the real default model."""
    root = tmp_path_factory.mktemp("e2e") / "sample_corpus"
    shutil.copytree(SAMPLE, root)
    sync(root)
    return root


def fingerprint(root: Path) -> dict[str, object]:
    """Everything a reader sees of an index, to compare before/after a failure."""
    from semsearch import Index

    with Index(root) as idx:
        info = idx.info()
        return {"files": info.files, "passages": info.passages, "generation": idx.store.generation}
