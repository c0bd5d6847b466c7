"""A vector index in two parts: a large main segment that changes rarely, and a small delta.

The main segment (:class:`~semsearch.storage.vectors.Segment`: flat, ivf or hnsw) is
written when the index is built and when the delta is merged into it. Between merges,
passages added since go to the delta (float16, searched exactly) and passages removed
since are tombstones: ids the main segment still holds but searches skip. So an update
costs in proportion to what changed, never to the size of the index.

Searches return exactly the ``k`` best (by the codes) that the filter allows, as many as
exist: when a filter is so selective that the approximate search could come back short,
or it does, every allowed code is compared instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from .shapes import COSINE_LIMIT, Shape
from .vecfile import DamagedVectorsError
from .vectors import Segment

MERGE_MIN = 2_000  # a delta up to this size never forces a merge
MERGE_MAX = 20_000  # nor beyond this size is it kept (an exact scan of it costs ~1-2 ms)
MERGE_SHARE = 20  # in between, a merge when the delta reaches 1/20 of the main segment
TOMBSTONE_SHARE = 10  # ... or the tombstones 1/10 of it


class SegmentedIndex:
    """Vectors by id: a main segment, a delta of added vectors, and tombstones.

    Args:
        dimension: the vectors' dimension.
        main: the main segment (None: none yet, everything is in the delta).
        delta_ids, delta_vectors: vectors added since the main segment was written.
        tombstones: ids of the main segment removed since (sorted).
    """

    def __init__(self, dimension: int, main: Segment | None, delta_ids: np.ndarray | None = None,
                 delta_vectors: np.ndarray | None = None, tombstones: np.ndarray | None = None) -> None:
        self.dimension = dimension
        self.main = main
        self.delta_ids = np.zeros(0, np.int64) if delta_ids is None else np.asarray(delta_ids, np.int64)
        self.delta_vectors = (np.zeros((0, dimension), np.float16) if delta_vectors is None
                              else np.asarray(delta_vectors, np.float16))
        self.tombstones = np.zeros(0, np.int64) if tombstones is None else np.asarray(tombstones, np.int64)
        self._delta_segment: Segment | None = None

    def __len__(self) -> int:
        return (len(self.main) if self.main else 0) - len(self.tombstones) + len(self.delta_ids)

    def copy(self) -> SegmentedIndex:
        """Another index sharing this one's arrays (changes replace arrays, never edit them)."""
        return SegmentedIndex(self.dimension, self.main, self.delta_ids, self.delta_vectors, self.tombstones)

    @property
    def shape(self) -> Shape | None:
        return self.main.shape if self.main else None

    # -- changing ------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return
        self.remove(ids)  # a new vector for a known id replaces the old one
        order = np.argsort(np.concatenate([self.delta_ids, ids]), kind="stable")
        self.delta_ids = np.concatenate([self.delta_ids, ids])[order]
        self.delta_vectors = np.concatenate([self.delta_vectors, np.asarray(vectors, np.float16)])[order]
        self._delta_segment = None

    def remove(self, ids: Sequence[int] | np.ndarray) -> None:
        ids = np.unique(np.asarray(ids, np.int64))
        if not len(ids):
            return
        keep = ~np.isin(self.delta_ids, ids)
        if not keep.all():
            self.delta_ids, self.delta_vectors = self.delta_ids[keep], self.delta_vectors[keep]
            self._delta_segment = None
        if self.main is not None:
            self.tombstones = np.union1d(self.tombstones, ids[self.main.contains(ids)])

    def needs_merge(self) -> bool:
        """Whether the delta or the tombstones have grown enough to fold into the main segment."""
        main = len(self.main) if self.main else 0
        return len(self.delta_ids) > max(MERGE_MIN, min(MERGE_MAX, main // MERGE_SHARE)) or self.tombstones_due()

    def tombstones_due(self) -> bool:
        """Whether removed vectors are enough of the main segment to fold them out (an
        hnsw graph cannot drop nodes: it is rebuilt)."""
        main = len(self.main) if self.main else 0
        return len(self.tombstones) > max(MERGE_MIN, main // TOMBSTONE_SHARE)

    # -- searching -----------------------------------------------------------

    def search(self, vector: np.ndarray, k: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest vectors to ``vector`` (among ``allowed`` ids, if given), best
        first, as (id, inner product); fewer only if fewer are allowed.

        Raises:
            DamagedVectorsError: a score no pair of unit vectors can have.
        """
        only = None
        if allowed is not None:
            only = allowed if isinstance(allowed, np.ndarray) else np.fromiter(allowed, np.int64, len(allowed))
            only = np.unique(only.astype(np.int64))
            if not len(only):
                return []
        found = [self._search_delta(vector, k, only), self._search_main(vector, k, only)]
        for (part, _), kind in zip(found, ("flat", self.main.shape.kind if self.main else "flat"), strict=True):
            if not (np.abs(part) <= COSINE_LIMIT[kind]).all():  # NaN fails this too
                raise DamagedVectorsError("a cosine similarity outside [-1, 1]")
        scores = np.concatenate([f[0] for f in found])
        ids = np.concatenate([f[1] for f in found])
        order = np.lexsort((ids, -scores))[:k]
        return [(int(ids[i]), float(scores[i])) for i in order]

    def _search_delta(self, vector: np.ndarray, k: int, only: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if not len(self.delta_ids):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if self._delta_segment is None:
            shape = Shape("flat", len(self.delta_ids))
            self._delta_segment = Segment.build(shape, self.dimension, np.zeros((0, self.dimension), np.float32),
                                                [(self.delta_ids, self.delta_vectors.astype(np.float32))])
        if only is not None:
            only = only[self._delta_segment.contains(only)]
            if not len(only):
                return np.zeros(0, np.float32), np.zeros(0, np.int64)
        return self._delta_segment.search(vector, k, only=only)

    def _search_main(self, vector: np.ndarray, k: int, only: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        main = self.main
        none = np.zeros(0, np.float32), np.zeros(0, np.int64)
        if main is None or not len(main):
            return none
        tombstones = self.tombstones
        exclude: np.ndarray | None = tombstones
        if only is not None:
            only = only[main.contains(only)]
            if len(tombstones):
                only = np.setdiff1d(only, tombstones, assume_unique=True)
            exclude = None
            want = min(k, len(only))
        else:
            want = min(k, len(main) - len(tombstones))
        if want <= 0:
            return none
        share = len(only) / len(main) if only is not None else 1.0
        if main.shape.kind != "flat" and share < _scan_below(main.shape):
            return main.search(vector, want, only=only, exhaustive=True)
        scores, ids = main.search(vector, want, only=only, exclude=exclude, widen=1.0 / share)
        if len(ids) < want:  # the approximate search came back short: compare every allowed code
            scores, ids = main.search(vector, want, only=only, exclude=exclude, exhaustive=True)
        return scores, ids


def _scan_below(shape: Shape) -> float:
    """The share of a main segment a filter may allow below which comparing every allowed
    code is cheaper than an approximate search widened to find enough of them."""
    if shape.kind == "ivf":
        return min(1.0, 4 * shape.nprobe / shape.nlist)
    return 0.05
