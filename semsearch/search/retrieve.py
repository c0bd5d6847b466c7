"""Candidates: the passages each retriever ranks highest, optionally among allowed ids.

Filters (``--path`` globs) become a set of allowed passage ids that the vector search
and the lexical query apply themselves, so a selective filter costs one search.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from ..storage import Catalog, VectorIndex
from .calibration import calibration_for
from .fuse import Legs, Ranked, complete_legs, fuse

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
) -> tuple[Ranked, Legs]:
    """Up to ``fetch`` passages per retriever as (passage id, score), best first, fused
    in hybrid mode; and each one's raw scores (cosine, BM25; None where not computed).
    ``vectors`` and ``vector`` are needed unless the mode is lexical."""
    if fetch <= 0:
        return [], {}
    if mode == "lexical":
        lexical = catalog.lexical(text, fetch, allowed)
        return lexical, {pid: (None, score) for pid, score in lexical}
    assert vectors is not None and vector is not None
    dense = vectors.search(vector, fetch, allowed)
    if mode == "dense":
        return dense, {pid: (score, None) for pid, score in dense}
    # One lexical pass: its best passages, the BM25 of the dense ones, and the query's ceiling.
    # Absolute scores (no list is scaled by its best), so a filter only removes results.
    found = catalog.lexical_pass(text, fetch, allowed, also=[pid for pid, _ in dense])
    cosine, bm25 = complete_legs(dense, found, vector, vectors)
    fused = fuse(cosine, bm25, found.ceiling, calibration_for(catalog.settings))
    return fused, {pid: (c, bm25[pid]) for pid, c in cosine.items()}
