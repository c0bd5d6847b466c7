"""How alike two texts or files are: ``semsearch similarity A B``.

Each side is represented as the index represents a file: the unit-length mean of its
passages' vectors (see :mod:`.sources`), so a long file is compared as a whole; the
score is the cosine of the two. The best-matching passage pairs show where they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..embedders import Embedder
from ..records import Compared, PassagePair, Similarity
from ..settings import Settings
from ..storage import Catalog
from .sources import Source, file_source, text_source

HINT = "give a text file, - to read text from stdin, or the text itself with --text"


def similarity(
    a: Path | str,
    b: Path | str,
    embedder: Callable[[], Embedder],
    settings: Settings,
    catalog: Catalog | None = None,
    *,
    pairs: int = 0,
    names: Sequence[str | None] = (None, None),
) -> Similarity:
    """The cosine similarity of ``a`` and ``b``, each a file (a ``Path``) or a text (a ``str``).

    Args:
        a, b: what to compare.
        embedder: gives the model (asked only when something must be embedded).
        settings: how passages are cut: the index's, or the defaults.
        catalog: the index, if any: a file it holds unchanged uses its stored vectors.
        pairs: also find up to this many best-matching passage pairs.
        names: how to call each side in the result (default: the path, or "text").

    Raises:
        BadInputError: a side is missing, a folder, binary, undecodable or empty.
    """
    sides = [_source(side, embedder, settings, catalog, pairs > 0, name)
             for side, name in zip((a, b), names, strict=False)]
    first, second = sides
    score = float(np.clip(first.vector @ second.vector, -1.0, 1.0))
    model = settings.model if catalog is not None else embedder().model_id
    return Similarity(score, _compared(first), _compared(second), model, best_pairs(first, second, pairs))


def best_pairs(a: Source, b: Source, limit: int) -> list[PassagePair]:
    """Up to ``limit`` pairs of passages (one of each side), best first, each passage used once."""
    if limit < 1 or a.passages is None or b.passages is None:
        return []
    scores = a.vectors @ b.vectors.T
    used_a: set[int] = set()
    used_b: set[int] = set()
    out: list[PassagePair] = []
    for flat in np.argsort(-scores, axis=None, kind="stable"):
        i, j = divmod(int(flat), scores.shape[1])
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        out.append(PassagePair(float(np.clip(scores[i, j], -1.0, 1.0)), a.passages[i], b.passages[j]))
        if len(out) == limit or len(used_a) == len(a.passages) or len(used_b) == len(b.passages):
            break
    return out


def _source(side: Path | str, embedder: Callable[[], Embedder], settings: Settings, catalog: Catalog | None,
            passages: bool, name: str | None) -> Source:
    if isinstance(side, Path):
        source = file_source(side, embedder, settings, catalog, passages=passages, hint=HINT)
    elif isinstance(side, str):
        source = text_source(side, embedder(), settings, name=name or "text", passages=passages)
    else:
        raise TypeError(f"compare a Path (a file) or a str (a text), not {type(side).__name__}")
    if name is not None and source.name != name:
        source = Source(name, source.kind, source.rel, source.vectors, source.passages, source.from_index)
    return source


def _compared(source: Source) -> Compared:
    return Compared(source.name, source.kind, len(source.vectors), source.from_index)
