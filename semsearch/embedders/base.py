"""What every embedder is: the protocol indexing and search use, and the model it runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ModelRef:
    """A model as the index records it (``model_id``) and where its files are."""

    model_id: str
    path: Path


class Embedder(Protocol):
    """What indexing and search need of an embedder (tests may pass a small fake)."""

    model_id: str
    backend: str  # what actually runs: torch, onnx or onnx-int8
    dimension: int
    max_tokens: int

    def token_spans(self, text: str) -> Sequence[tuple[int, int]]: ...
    def token_spans_batch(self, texts: Sequence[str]) -> Sequence[Sequence[tuple[int, int]]]: ...  # many texts at once
    @property
    def exact_at_spaces(self) -> bool: ...  # see semsearch.chunking.exact_at_spaces
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...
    def embed_query(self, text: str, prompt: str | None = None) -> np.ndarray: ...


EmbedderFactory = Callable[[ModelRef, str], Embedder]  # (model, backend) -> embedder


def mean_vector(vectors: np.ndarray) -> np.ndarray:
    """The unit-length mean of unit vectors: how a file is represented by its passages."""
    mean: np.ndarray = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)
