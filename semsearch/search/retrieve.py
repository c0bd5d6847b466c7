"""Candidates: the passages each retriever ranks highest, optionally among allowed ids.

Filters (``--path`` globs) become a set of allowed passage ids that the vector search
and the lexical query apply themselves, so a selective filter costs one search.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from ..storage import Catalog, VectorIndex
from .fuse import Ranked, fuse

MODES = ("dense", "lexical", "hybrid")


def allowed_ids(catalog: Catalog, path_globs: Sequence[str]) -> set[int] | None:
    """The passages of the files matching any of ``path_globs``; None when there is no filter."""
    return catalog.ids_matching(path_globs)


def candidates(
    mode: str,
    text: str,
    vector: np.ndarray | None,
    catalog: Catalog,
    vectors: VectorIndex | None,
    fetch: int,
    allowed: Collection[int] | None = None,
) -> Ranked:
    """Up to ``fetch`` passages per retriever as (passage id, score), best first, fused
    in hybrid mode. ``vectors`` and ``vector`` are needed unless the mode is lexical."""
    if fetch <= 0:
        return []
    lexical = catalog.lexical(text, fetch, allowed) if mode != "dense" else []
    if mode == "lexical":
        return lexical
    assert vectors is not None and vector is not None
    dense = vectors.search(vector, fetch, allowed)
    if mode == "dense":
        return dense
    if allowed is None:
        return fuse(dense, lexical)
    # Scaled by each retriever's best over the whole index, as an unfiltered query is,
    # so a filter only removes results and never changes a score.
    best_dense = vectors.search(vector, 1)
    best_lexical = catalog.lexical(text, 1)
    return fuse(dense, lexical, best_dense[0][1] if best_dense else None,
                best_lexical[0][1] if best_lexical else None)
