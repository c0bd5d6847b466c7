"""A small deterministic embedder for fast tests of storage logic (tests only, never the product).

Kept apart from conftest so the crash harness's child process can use it without importing pytest.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence

import numpy as np

from semsearch.embedders import ModelRef
from semsearch.embedders.parallel import ForwardPool, Pending

_TOKEN = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Words hashed into a small unit vector: similar word bags, similar vectors.

    Good enough to test storage and incremental logic quickly; never the product.
    """

    dimension = 64
    max_tokens = 254

    def __init__(self, ref: ModelRef, backend: str = "torch") -> None:
        self.model_id = ref.model_id
        self.backend = backend
        self.calls: list[int] = []  # passages per embed_documents call

    exact_at_spaces = False  # chunking always checks a passage's length alone

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _TOKEN.finditer(text)]

    def token_spans_batch(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return [self.token_spans(t) for t in texts]

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


class QueuingFake(FakeEmbedder):
    """The fake with the ONNX backends' queued, multi-threaded ``submit_documents`` (the
    real :class:`~semsearch.embedders.parallel.ForwardPool`, two worker threads, four
    passages a batch), so the indexing pipeline runs as it does with the default backend.
    ``fail_at`` makes the n-th forward pass (counted from 1) raise RuntimeError."""

    def __init__(self, ref: ModelRef, backend: str = "torch", fail_at: int = 0) -> None:
        super().__init__(ref, backend)
        self.forwards, self.fail_at, self._count = 0, fail_at, threading.Lock()
        self._pool = ForwardPool(self._forward, 2)

    def _forward(self, texts: list[str]) -> np.ndarray:
        with self._count:
            self.forwards += 1
            nth = self.forwards
        if nth == self.fail_at:
            raise RuntimeError("forward pass failed")
        return np.stack([self._vector(t) for t in texts])

    def submit_documents(self, texts: Sequence[str]) -> Pending:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), np.float32)
        rows = list(range(len(texts)))
        return self._pool.submit(out, [(rows[i : i + 4], list(texts[i : i + 4])) for i in range(0, len(texts), 4)])


def queuing_loader(ref: ModelRef, backend: str = "torch", **_options: object) -> QueuingFake:
    """A stand-in for :func:`semsearch.embedders.load` that queues work as the ONNX backends do."""
    return QueuingFake(ref, backend)


def fake_loader(ref: ModelRef, backend: str = "torch", **_options: object) -> FakeEmbedder:
    """A stand-in for :func:`semsearch.embedders.load`, for tests that drive the CLI."""
    return FakeEmbedder(ref, backend)


class FakeFactory:
    """An embedder factory that remembers the embedders it made (to count work).

    It also stands in for :func:`semsearch.embedders.load` (it takes the loader's options).
    """

    def __init__(self) -> None:
        self.made: list[FakeEmbedder] = []

    def __call__(self, ref: ModelRef, backend: str = "torch", **_options: object) -> FakeEmbedder:
        self.made.append(FakeEmbedder(ref, backend))
        return self.made[-1]

    @property
    def passages_embedded(self) -> int:
        return sum(sum(e.calls) for e in self.made)


class Interrupting(FakeFactory):
    """Raises KeyboardInterrupt (as Ctrl-C would) on the n-th embedding call, over all the embedders it made."""

    def __init__(self, at_call: int) -> None:
        super().__init__()
        self.at_call = at_call

    def __call__(self, ref: ModelRef, backend: str = "torch", **_options: object) -> FakeEmbedder:
        embedder = super().__call__(ref, backend)
        real, factory = embedder.embed_documents, self

        def embed(texts: Sequence[str]) -> np.ndarray:
            if sum(len(e.calls) for e in factory.made) + 1 == factory.at_call:
                raise KeyboardInterrupt
            return real(texts)

        embedder.embed_documents = embed  # type: ignore[method-assign]
        return embedder
