"""Files like a given file or text: ``similar``.

A file or text is represented by the normalised mean of its passages' vectors (see
:mod:`.sources`: stored ones for a file indexed unchanged, else embedded now); results are the
files whose vectors are closest (cosine), found in the index of files' mean vectors (by file
id, see :mod:`semsearch.storage.local`), each shown with its passage closest to the source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import defaults
from ..embedders import Embedder
from ..records import Hit
from ..storage import Catalog, VectorIndex
from .pipeline import check_limits
from .sources import file_source, text_source


def similar_to_file(
    path: Path,
    catalog: Catalog,
    files: Callable[[], VectorIndex],
    embedder: Callable[[], Embedder],
    *,
    top_k: int = defaults.TOP_K,
    min_score: float | None = None,
    path_glob: Sequence[str] = (),
) -> list[Hit]:
    """Files most like the file at ``path`` (itself excluded).

    An indexed, unchanged file uses its stored vectors; any other text file is embedded now.
    """
    source = file_source(Path(path), embedder, catalog.settings, catalog)
    return rank_files(source.vector, catalog, files(), exclude=source.rel, top_k=top_k, min_score=min_score,
                      path_glob=path_glob)


def similar_to_text(
    text: str,
    catalog: Catalog,
    files: Callable[[], VectorIndex],
    embedder: Callable[[], Embedder],
    *,
    top_k: int = defaults.TOP_K,
    min_score: float | None = None,
    path_glob: Sequence[str] = (),
) -> list[Hit]:
    """Files most like a piece of text."""
    vector = text_source(text, embedder(), catalog.settings).vector
    return rank_files(vector, catalog, files(), exclude=None, top_k=top_k, min_score=min_score, path_glob=path_glob)


def rank_files(
    vector: np.ndarray,
    catalog: Catalog,
    files: VectorIndex,
    *,
    exclude: str | None,
    top_k: int = defaults.TOP_K,
    min_score: float | None = None,
    path_glob: Sequence[str] = (),
) -> list[Hit]:
    """Files by the cosine of their vector to ``vector``, best first, each with its closest passage."""
    check_limits(top_k, 1)
    allowed = catalog.ids_matching(path_glob, "files")
    skip = catalog.file_ids([exclude]).get(exclude) if exclude is not None else None
    found = files.search(vector, top_k + (skip is not None), allowed)
    paths = catalog.file_paths([fid for fid, _ in found])
    hits: list[Hit] = []
    for fid, score in found:
        if fid == skip or fid not in paths:
            continue
        if (min_score is not None and score < min_score) or len(hits) == top_k:
            break
        hits.append(_best_passage(catalog, len(hits) + 1, score, paths[fid], vector))
    return hits


def _best_passage(catalog: Catalog, rank: int, score: float, path: str, vector: np.ndarray) -> Hit:
    """The passage of ``path`` that is closest to ``vector``, to show with the file."""
    ids, vectors = catalog.file_vectors(path)
    best = ids[int(np.argmax(vectors @ vector))]
    row = catalog.passages([best])[best]
    return Hit(rank, score, path, row.start_line, row.end_line, row.text)
