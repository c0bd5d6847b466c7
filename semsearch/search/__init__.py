"""Search: retrieve (dense and lexical candidates, filtered by allowed ids), fuse,
the query pipeline (candidates → rerank → group → threshold → top-k), ``similar``,
the context block for a language model, and ``similarity``."""

from __future__ import annotations

from .context import build_context
from .fuse import fuse
from .pipeline import QueryOptions, Reranker, check_limits, check_mode, check_query, run_query
from .rerank import CrossEncoderReranker
from .retrieve import MODES
from .similar import similar_to_file, similar_to_text
from .similarity import similarity

__all__ = [
    "MODES", "CrossEncoderReranker", "QueryOptions", "Reranker", "build_context", "check_limits", "check_mode",
    "check_query", "fuse", "run_query", "similar_to_file", "similar_to_text", "similarity",
]
