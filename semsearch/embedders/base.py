"""What every embedder is: the protocol indexing and search use, and the model it runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..chunking import exact_at_spaces

if TYPE_CHECKING:
    from tokenizers import Tokenizer


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


class TokenizerSpans:
    """What chunking asks of an embedder (``token_spans``, ``token_spans_batch``,
    ``exact_at_spaces``), read off ``_span_tokenizer``: the model's Hugging Face tokenizer
    with no window and no padding, which a backend provides."""

    _span_tokenizer: Tokenizer

    @cached_property
    def exact_at_spaces(self) -> bool:
        """Whether a passage cut beside a space tokenizes alone as in context (chunking's shortcut)."""
        return exact_at_spaces(self._span_tokenizer.to_str())

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the text's tokens (no special tokens)."""
        return self._span_tokenizer.encode(text, add_special_tokens=False).offsets

    def token_spans_batch(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """``token_spans`` of each text, tokenized in one call (on every core, without the GIL)."""
        return [e.offsets for e in self._span_tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def mean_vector(vectors: np.ndarray) -> np.ndarray:
    """The unit-length mean of unit vectors: how a file is represented by its passages."""
    mean: np.ndarray = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)
