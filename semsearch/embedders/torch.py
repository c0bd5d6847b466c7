"""The torch backend: a sentence-transformers model, loaded offline from local files.

Loading imports torch, so it happens only when a model is needed. Process-wide
settings (Hugging Face offline flags, log verbosity) belong to the entry point
(``semsearch.cli``), not here: this module loads with ``local_files_only``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..defaults import BATCH_SIZE
from ..errors import ModelUnavailableError
from .base import ModelRef, TokenizerSpans

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def load_sentence_transformer(ref: ModelRef, device: str | None = None) -> SentenceTransformer:
    """The model, loaded offline and quietly (imports torch).

    Raises:
        ModelUnavailableError: it cannot be loaded from ``ref.path``.
    """
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(ref.path), device=device, local_files_only=True)
    except Exception as exc:  # surface as a user-facing error
        raise ModelUnavailableError(f"cannot load model {ref.model_id!r} from {ref.path}: {exc}") from exc


def model_shape(ref: ModelRef, model: SentenceTransformer) -> tuple[int, int]:
    """The model's embedding dimension and window (``max_seq_length``, in tokens).

    Raises:
        ModelUnavailableError: it declares either not (vectors and passages need both).
    """
    dimension, window = model.get_embedding_dimension(), model.max_seq_length
    if dimension is None or window is None:
        missing = "an embedding dimension" if dimension is None else "a maximum sequence length"
        raise ModelUnavailableError(f"model {ref.model_id!r} declares no {missing}; semsearch needs a model that does")
    return int(dimension), int(window)


class TorchEmbedder(TokenizerSpans):
    """A sentence-transformers model: tokenizes for chunking and encodes, normalised.

    Args:
        ref: the resolved model.
        device: torch device (``cpu``, ``cuda``, ``mps``); None picks automatically.
        batch_size: passages per forward pass.
    """

    def __init__(self, ref: ModelRef, device: str | None = None, batch_size: int = BATCH_SIZE) -> None:
        from tokenizers import Tokenizer

        self._model = load_sentence_transformer(ref, device)
        self.model_id = ref.model_id
        self.backend = "torch"
        self.batch_size = batch_size
        self.dimension, window = model_shape(ref, self._model)
        hf_tokenizer = self._model.tokenizer
        # The passage budget: the model's window less its special tokens ([CLS], [SEP]).
        self.max_tokens: int = window - hf_tokenizer.num_special_tokens_to_add()
        # A private copy with truncation and padding off: we want every token's span.
        self._span_tokenizer = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        self._span_tokenizer.no_truncation()
        self._span_tokenizer.no_padding()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Passages -> float32 array (n, dimension), rows of unit length."""
        return self._encode(texts, "document")

    def embed_query(self, text: str, prompt: str | None = None) -> np.ndarray:
        """A query -> float32 vector (dimension,), unit length.

        Args:
            prompt: put before the query; None for the model's own query prompt
                (as its sentence-transformers config declares), "" for none.
        """
        vector: np.ndarray = self._encode([text], "query", prompt)[0]
        return vector

    def _encode(self, texts: Sequence[str], kind: str, prompt: str | None = None) -> np.ndarray:
        # encode_query / encode_document apply the prompts the model's config declares.
        encode = self._model.encode_query if kind == "query" else self._model.encode_document
        vectors = encode(
            list(texts),
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        out: np.ndarray = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)
        return out
