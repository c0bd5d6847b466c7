"""Files like a given file or text: ``similar``.

A file is represented by the normalised mean of its passages' vectors; results are the
files whose vectors are closest (cosine), each shown with its passage closest to the source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import defaults
from ..chunking import chunk_text
from ..corpus import FileEntry, compile_globs, read_document
from ..embedders import Embedder, mean_vector
from ..errors import BadInputError
from ..records import Hit, Skipped
from ..storage import Catalog
from .pipeline import check_limits


def similar_to_file(
    path: Path,
    catalog: Catalog,
    embedder: Callable[[], Embedder],
    *,
    top_k: int = defaults.TOP_K,
    min_score: float | None = None,
    path_glob: Sequence[str] = (),
) -> list[Hit]:
    """Files most like the file at ``path`` (itself excluded).

    An indexed, unchanged file uses its stored vectors; any other text file is embedded now.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(f"{path} is not a file; give a text file, or - to read text from stdin")
    absolute = path.resolve()
    try:
        rel: str | None = absolute.relative_to(catalog.root).as_posix()
    except ValueError:
        rel = None
    paths, centroids = catalog.centroids()
    stat = absolute.stat()
    record = catalog.file(rel) if rel in paths else None
    if rel is not None and record is not None and record.same_stat(stat.st_size, stat.st_mtime_ns):
        vector = centroids[paths.index(rel)]
    else:
        doc = read_document(FileEntry(rel or str(absolute), absolute, stat.st_size, stat.st_mtime_ns))
        if isinstance(doc, Skipped):
            raise BadInputError(f"{path} cannot be compared: {doc.reason}")
        vector = text_vector(doc.text, catalog, embedder(), str(path))
    return rank_files(vector, catalog, paths, centroids, exclude=rel, top_k=top_k, min_score=min_score,
                      path_glob=path_glob)


def similar_to_text(
    text: str,
    catalog: Catalog,
    embedder: Callable[[], Embedder],
    *,
    top_k: int = defaults.TOP_K,
    min_score: float | None = None,
    path_glob: Sequence[str] = (),
) -> list[Hit]:
    """Files most like a piece of text."""
    vector = text_vector(text, catalog, embedder(), "the text")
    return rank_files(vector, catalog, *catalog.centroids(), exclude=None, top_k=top_k, min_score=min_score,
                      path_glob=path_glob)


def text_vector(text: str, catalog: Catalog, embedder: Embedder, what: str) -> np.ndarray:
    """The mean vector of ``text``'s passages, chunked as the index chunks."""
    settings = catalog.settings
    chunks = chunk_text(text, embedder.token_spans, settings.chunk_tokens or defaults.CHUNK_TOKENS, settings.overlap)
    if not chunks:
        raise BadInputError(f"{what} is empty; there is nothing to compare")
    return mean_vector(embedder.embed_documents([c.text for c in chunks]))


def rank_files(
    vector: np.ndarray,
    catalog: Catalog,
    paths: list[str],
    centroids: np.ndarray,
    *,
    exclude: str | None,
    top_k: int = defaults.TOP_K,
    min_score: float | None = None,
    path_glob: Sequence[str] = (),
) -> list[Hit]:
    """Files by the cosine of their vector to ``vector``, best first, each with its closest passage."""
    check_limits(top_k, 1)
    keep = compile_globs(path_glob)
    scores = centroids @ vector if len(paths) else np.zeros(0, np.float32)
    hits: list[Hit] = []
    for i in np.argsort(-scores, kind="stable"):
        path, score = paths[i], float(scores[i])
        if path == exclude or (keep is not None and not keep.match_file(path)):
            continue
        if (min_score is not None and score < min_score) or len(hits) == top_k:
            break
        hits.append(_best_passage(catalog, len(hits) + 1, score, path, vector))
    return hits


def _best_passage(catalog: Catalog, rank: int, score: float, path: str, vector: np.ndarray) -> Hit:
    """The passage of ``path`` that is closest to ``vector``, to show with the file."""
    ids, vectors = catalog.file_vectors(path)
    best = ids[int(np.argmax(vectors @ vector))]
    row = catalog.passages([best])[best]
    return Hit(rank, score, path, row.start_line, row.end_line, row.text)
