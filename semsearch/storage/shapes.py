"""The kinds of vector index, and the shape each takes for a size (derived as the faiss
guidelines advise; the choices measured in BENCHMARKS.md, ``benchmarks/scale.py``).

- ``flat``: every vector as float16 codes, compared exhaustively: exact up to float16
  rounding. ``auto`` below :data:`FLAT_LIMIT` vectors.
- ``ivf``: an inverted file with 8-bit codes: vectors grouped around ``nlist`` = 4·√n
  centroids (the guidelines' range below a few million vectors is 4·√n to 16·√n), a
  search scanning the ``nprobe`` groups nearest the query. ``auto`` above :data:`FLAT_LIMIT`.
- ``hnsw``: a navigable small-world graph (M = 32) over 8-bit codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..defaults import VECTOR_INDEXES as KINDS
from ..errors import BadInputError

__all__ = ["KINDS", "Shape", "check_vector_index"]

FLAT_LIMIT = 100_000  # auto: exact search up to here (BENCHMARKS.md: flat p50 at 100k vs ivf)
HYSTERESIS = 1.25  # auto: flat stays flat up to 125,000 vectors, ivf stays ivf down to 80,000
AUTO_ANN = "ivf"  # auto above FLAT_LIMIT: smaller on disk and in memory than hnsw, and mappable
HNSW_M = 32
TRAIN_PER_LIST = 40  # training vectors per IVF list (faiss warns below 39)
RANGE_MARGIN = 0.25
# The largest inner product two stored unit vectors can give, by their codes' rounding
# (float16: 1 + 2^-11; 8-bit codes: a step of a widened range per dimension). A search
# that meets more has met damage the checks on loading did not see.
COSINE_LIMIT = {"flat": 1.002, "ivf": 1.05, "hnsw": 1.05}


def check_vector_index(kind: str) -> None:
    """Raise BadInputError unless ``kind`` is one of :data:`KINDS`."""
    if kind not in KINDS:
        raise BadInputError(f"unknown vector index {kind!r}; choose from {', '.join(KINDS)}")


@dataclass(frozen=True)
class Shape:
    """What a main segment is: its kind and the parameters derived from its size."""

    kind: str
    built_for: int  # vectors when it was trained/built; a rebuild is due when the size moves far from it
    nlist: int = 0
    nprobe: int = 0
    ef_search: int = 0

    @classmethod
    def for_size(cls, requested: str, n: int) -> Shape:
        """The shape ``requested`` (one of :data:`KINDS`) takes for ``n`` vectors."""
        kind = requested if requested != "auto" else ("flat" if n <= FLAT_LIMIT else AUTO_ANN)
        if kind == "ivf":
            nlist = max(1, min(int(4 * math.sqrt(n)), n // TRAIN_PER_LIST))
            # Measured on SciFact vectors (BENCHMARKS.md): 64 lists give recall@10 0.97 at 100k and 1M.
            return cls("ivf", n, nlist, min(nlist, max(64, nlist // 64)))
        if kind == "hnsw":
            return cls("hnsw", n, ef_search=64)
        return cls("flat", n)

    def still_fits(self, requested: str, n: int) -> bool:
        """Whether a segment of this shape can take ``n`` vectors without a rebuild. Under
        ``auto``, a size near :data:`FLAT_LIMIT` keeps the kind it has (so adding and
        removing a few passages there does not rebuild the index each time)."""
        near = FLAT_LIMIT / HYSTERESIS <= n <= FLAT_LIMIT * HYSTERESIS
        if Shape.for_size(requested, n).kind != self.kind and not (requested == "auto" and near):
            return False
        if self.kind == "ivf":  # retrain when the size has moved by more than a factor of two
            return self.built_for // 2 <= n <= max(2 * self.built_for, self.nlist * TRAIN_PER_LIST)
        return True

    def close_enough(self, stored: np.ndarray, expected: np.ndarray) -> bool:
        """Whether vectors read back from the codes match the catalog's, up to the codes' rounding."""
        if self.kind == "flat":
            return bool(np.allclose(stored, expected, atol=2e-3))
        cosine = np.einsum("ij,ij->i", stored, expected) / np.maximum(np.linalg.norm(stored, axis=1), 1e-9)
        return bool((cosine > 0.98).all())

    def describe(self) -> str:
        if self.kind == "ivf":
            return f"ivf ({self.nlist} lists, {self.nprobe} probed, 8-bit codes)"
        if self.kind == "hnsw":
            return f"hnsw (M {HNSW_M}, ef {self.ef_search}, 8-bit codes)"
        return "flat (exact, float16 codes)"
