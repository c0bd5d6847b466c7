"""The local vector index: exact inner-product search with faiss, saved beside the catalog.

``vectors.faiss`` is a cache of the catalog's vectors, stamped with the catalog's
generation (a 16-byte header: magic, generation), so a stale or missing file is
rebuilt from the catalog instead of trusted. faiss is imported only here.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .safety import open_private

if TYPE_CHECKING:
    import faiss

_MAGIC = b"SEMSFAI1"
_HEADER = 16


class FlatIndex:
    """Exact search over every vector (faiss ``IndexIDMap2(IndexFlatIP)``)."""

    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        import faiss

        self.dimension = dimension
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> None:
        import faiss

        if len(ids):
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def search(self, vector: np.ndarray, k: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        import faiss

        k = min(k, len(self) if allowed is None else len(allowed))
        if k <= 0:
            return []
        params = None
        if allowed is not None:
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(np.fromiter(allowed, np.int64, len(allowed)))
        scores, ids = self._index.search(np.asarray(vector, np.float32).reshape(1, -1), k, params=params)
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    # -- on disk -------------------------------------------------------------

    @staticmethod
    def stamp(path: Path) -> int | None:
        """The generation ``path`` was written for, or None if it is missing or not ours."""
        try:
            with open(path, "rb") as fh:
                head = fh.read(_HEADER)
        except OSError:
            return None
        if len(head) != _HEADER or head[:8] != _MAGIC:
            return None
        return int(struct.unpack("<Q", head[8:])[0])

    @classmethod
    def load(cls, path: Path, dimension: int) -> FlatIndex:
        """Read a saved index (the caller has checked its stamp).

        Raises:
            OSError, RuntimeError: it cannot be read.
        """
        import faiss

        index = faiss.deserialize_index(np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=_HEADER))
        if index.d != dimension:
            raise RuntimeError(f"it holds {index.d}-dimensional vectors, not {dimension}")
        return cls(dimension, index)

    def save(self, path: Path, generation: int) -> None:
        """Write the index stamped with ``generation``: a temp file, then a rename."""
        import faiss

        for leftover in path.parent.glob(path.name + ".*.tmp"):  # from a writer that was killed
            leftover.unlink(missing_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        with open(open_private(tmp, new=True), "wb") as fh:
            fh.write(_MAGIC + struct.pack("<Q", generation))
            fh.write(faiss.serialize_index(self._index).tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
