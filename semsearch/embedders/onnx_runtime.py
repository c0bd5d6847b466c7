"""Encode with the ONNX copy of a model: tokenizers + onnxruntime, no torch.

Reproduces what sentence-transformers does around the transformer: the same
tokenizer truncated at the model's window (``tokenizer.json`` files often ship fixed
at 128 tokens; the window is set here from the model's own ``max_seq_length``), the
model's prompts, its pooling (mean, cls or max over real tokens) and L2
normalisation. Texts are sorted by length before batching, so little is padded. The
session runs on one intra-op thread and the batches of a call are spread over the
physical cores (:mod:`~semsearch.embedders.parallel`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..defaults import BATCH_SIZE
from .base import TokenizerSpans
from .onnx_export import CONFIG_NAME, import_onnxruntime, model_file
from .parallel import ForwardPool, Pending, physical_cores

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

# Tokens per forward pass at most (rows × padded width; at least one row): activation memory
# grows with it, and with one forward pass per core at once, 32 rows of 256 tokens peaked at
# 1.6 GB; 8 rows of 256 tokens, 0.67 GB, at a little less CPU time (BENCHMARKS.md, #17 item 2).
FORWARD_TOKENS = 2048

# sentence-transformers' names for a model's document prompt, in its order of preference.
_DOCUMENT_PROMPTS = ("document", "passage", "corpus")


class OnnxEmbedder(TokenizerSpans):
    """An :class:`~semsearch.embedders.Embedder` over an ONNX copy made by
    :func:`~semsearch.embedders.onnx_export.ensure_copy`.

    Args:
        folder: the copy's folder.
        quantized: run the int8 model rather than the fp32 one.
        batch_size: passages per forward pass.
        workers: forward passes run at once, each on one thread (default: one per
            physical core).
    """

    def __init__(self, folder: Path, quantized: bool = False, batch_size: int = BATCH_SIZE,
                 workers: int | None = None) -> None:
        from tokenizers import Tokenizer

        ort = import_onnxruntime()
        config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
        self.model_id: str = config["model_id"]
        self.backend = "onnx-int8" if quantized else "onnx"
        self.dimension: int = config["dimension"]
        self.max_tokens: int = config["max_seq_length"] - config["special_tokens"]
        self.batch_size = batch_size
        self._config = config
        prompts = config["prompts"]
        self._query_prompt = prompts.get("query", "")
        self._document_prompt = next((prompts[k] for k in _DOCUMENT_PROMPTS if k in prompts), "")
        self._folder = folder
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(config["max_seq_length"])
        self._tokenizer.no_padding()  # each batch is padded to its own longest text below
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # optimised when made
        options.intra_op_num_threads = 1  # parallel across batches instead: self._pool
        options.enable_mem_pattern = False  # widths vary batch to batch; measured: less memory, same speed
        self._session = ort.InferenceSession(
            str(model_file(folder, quantized)), options, providers=["CPUExecutionProvider"]
        )
        self._pool = ForwardPool(self._forward, workers or physical_cores())

    @cached_property
    def _span_tokenizer(self) -> Tokenizer:  # type: ignore[override]  # made on first use, not in __init__
        """A second tokenizer with no window, for chunking (a query never needs it)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._folder / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Passages -> float32 array (n, dimension), rows of unit length."""
        return self.submit_documents(texts).result()

    def submit_documents(self, texts: Sequence[str]) -> Pending:
        """Queue the passages' forward passes and return at once; ``.result()`` is what
        :meth:`embed_documents` returns. Lets a caller store one call's vectors while the
        next call runs."""
        return self._submit([self._document_prompt + t for t in texts])

    def embed_query(self, text: str, prompt: str | None = None) -> np.ndarray:
        """A query -> float32 vector (dimension,), unit length.

        Args:
            prompt: put before the query; None for the model's own query prompt.
        """
        vector: np.ndarray = self._submit([(self._query_prompt if prompt is None else prompt) + text]).result()[0]
        return vector

    def _case(self, text: str) -> str:
        return text.lower() if self._config["do_lower_case"] else text

    def _submit(self, texts: list[str]) -> Pending:
        out = np.zeros((len(texts), self.dimension), np.float32)
        if not texts:
            return Pending(out, ())
        encodings = self._tokenizer.encode_batch([self._case(t) for t in texts])
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        batches, start = [], 0
        while start < len(order):  # longest first: each batch as many rows as FORWARD_TOKENS allows
            rows = max(1, min(self.batch_size, FORWARD_TOKENS // len(encodings[order[start]].ids)))
            batches.append(order[start : start + rows])
            start += rows
        return self._pool.submit(out, [(rows, [encodings[i] for i in rows]) for rows in batches])

    def _forward(self, encodings: list[Encoding]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        feed = {name: np.zeros((len(encodings), width), np.int64) for name in self._config["inputs"]}
        mask = np.zeros((len(encodings), width), np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            mask[row, :n] = 1
            feed["input_ids"][row, :n] = e.ids
            if "token_type_ids" in feed:
                feed["token_type_ids"][row, :n] = e.type_ids
        if "attention_mask" in feed:
            feed["attention_mask"] = mask
        hidden = self._session.run(None, feed)[0]
        pooled = _pool(hidden, mask, self._config["pooling"])
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = pooled / np.maximum(norms, 1e-12)
        return unit


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """sentence-transformers' pooling over the real (unpadded) tokens."""
    pooled: np.ndarray
    if mode == "cls":
        pooled = hidden[:, 0]
        return pooled
    weights = mask[..., None].astype(np.float32)
    if mode == "max":
        pooled = np.where(weights > 0, hidden, -1e9).max(axis=1)
    else:
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return pooled
