"""The local vector index: exact inner-product search with faiss, saved beside the catalog.

``vectors.faiss`` is a cache of the catalog's vectors, never trusted: a 48-byte header
(magic, the catalog generation it was written for, the vector count, the payload's
length and its BLAKE2b checksum) lets a stale, truncated or damaged file be told from a
good one. Every load checks the cheap things (regular file, generation, length, count,
dimension, and a few vectors against the catalog's copy); ``index`` and ``info --check``
also verify the checksum; a search that meets a "cosine" outside [-1.001, 1.001] reports
damage. faiss is imported only here.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .safety import open_private

if TYPE_CHECKING:
    import faiss

_MAGIC = b"SEMSFAI2"
_HEADER = struct.Struct("<8sQQQ16s")  # magic, generation, count, payload length, checksum
COSINE_LIMIT = 1.001  # inner products of unit vectors, with float32's rounding
SPOT_CHECKS = 8  # vectors compared with the catalog's copy on every load


class DamagedVectorsError(RuntimeError):
    """``vectors.faiss`` does not hold the catalog's vectors."""


@dataclass(frozen=True)
class Header:
    generation: int
    count: int
    length: int
    checksum: bytes


def _checksum(payload: bytes | memoryview) -> bytes:
    return hashlib.blake2b(payload, digest_size=16).digest()


def _open_regular(path: Path) -> int:
    """A read descriptor on ``path`` if it is a regular file (a FIFO must not hang us).

    Raises:
        OSError: it is missing, unreadable, or not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(22, "not a regular file", str(path))
    return fd


def read_header(path: Path) -> Header | None:
    """What ``path`` says it holds, or None if it is missing, not a regular file, or not ours."""
    try:
        fd = _open_regular(path)
    except OSError:
        return None
    try:
        head = os.pread(fd, _HEADER.size, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(head) != _HEADER.size:
        return None
    magic, generation, count, length, checksum = _HEADER.unpack(head)
    return Header(generation, count, length, checksum) if magic == _MAGIC else None


class FlatIndex:
    """Exact search over every vector (faiss ``IndexIDMap2(IndexFlatIP)``)."""

    def __init__(self, dimension: int, index: faiss.IndexIDMap2 | None = None) -> None:
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
        """See :class:`.base.VectorIndex`.

        Raises:
            DamagedVectorsError: a score no pair of unit vectors can have.
        """
        import faiss

        k = min(k, len(self) if allowed is None else len(allowed))
        if k <= 0:
            return []
        params = None
        if allowed is not None:
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(np.fromiter(allowed, np.int64, len(allowed)))
        scores, ids = self._index.search(np.asarray(vector, np.float32).reshape(1, -1), k, params=params)
        found = [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        if any(not -COSINE_LIMIT <= s <= COSINE_LIMIT for _, s in found):  # NaN fails this too
            raise DamagedVectorsError("a cosine similarity outside [-1, 1]")
        return found

    # -- on disk -------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, dimension: int, count: int,
             catalog_vectors: Callable[[Sequence[int]], dict[int, np.ndarray]]) -> FlatIndex:
        """Read a saved index (the caller has checked its generation) and check it cheaply:
        its length, its count and dimension against the catalog's, and a few vectors
        against the catalog's copy (``catalog_vectors``: id -> vector).

        Raises:
            OSError: it cannot be read.
            DamagedVectorsError: it does not hold what the catalog holds.
        """
        import faiss

        fd = _open_regular(path)
        with open(fd, "rb") as fh:
            data = fh.read()
        header = read_header(path)
        payload = memoryview(data)[_HEADER.size:]
        if header is None or header.length != len(payload):
            raise DamagedVectorsError(f"{len(payload)} bytes where its header says {header and header.length}")
        if header.count != count:
            raise DamagedVectorsError(f"{header.count} vectors where the catalog has {count}")
        try:
            index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        except RuntimeError as exc:
            raise DamagedVectorsError(str(exc).splitlines()[0] if str(exc) else "unreadable") from exc
        if not isinstance(index, faiss.IndexIDMap2):  # what save() writes; anything else was not made here
            raise DamagedVectorsError(f"a faiss {type(index).__name__}, not the IndexIDMap2 semsearch writes")
        if index.d != dimension or index.ntotal != count:
            raise DamagedVectorsError(f"{index.ntotal} {index.d}-dimensional vectors, not {count} of {dimension}")
        loaded = cls(dimension, index)
        loaded._spot_check(catalog_vectors)
        return loaded

    def _spot_check(self, catalog_vectors: Callable[[Sequence[int]], dict[int, np.ndarray]]) -> None:
        import faiss

        if not len(self):
            return
        ids = faiss.vector_to_array(self._index.id_map)
        spots = sorted({round(j * (len(ids) - 1) / (SPOT_CHECKS - 1)) for j in range(SPOT_CHECKS)})
        sample = [int(ids[i]) for i in spots]
        expected = catalog_vectors(sample)
        for passage in sample:
            if passage not in expected:
                raise DamagedVectorsError(f"passage {passage} is not in the catalog")
            try:
                found = self._index.reconstruct(passage)
            except RuntimeError as exc:
                raise DamagedVectorsError(f"passage {passage} cannot be read back") from exc
            if not np.allclose(found, expected[passage], atol=1e-6):
                raise DamagedVectorsError(f"passage {passage}'s vector differs from the catalog's")

    @staticmethod
    def verify(path: Path) -> str | None:
        """Check the whole file against its checksum: None if intact, else what is wrong."""
        header = read_header(path)
        if header is None:
            return "missing, not a regular file, or not a semsearch vector file"
        try:
            fd = _open_regular(path)
        except OSError as exc:
            return f"unreadable ({exc.strerror or exc})"
        with open(fd, "rb") as fh:
            data = fh.read()
        payload = memoryview(data)[_HEADER.size:]
        if len(payload) != header.length or _checksum(payload) != header.checksum:
            return "damaged (its checksum does not match its contents)"
        return None

    def save(self, path: Path, generation: int) -> None:
        """Write the index stamped with ``generation``: a temp file, then a rename."""
        import faiss

        for leftover in path.parent.glob(path.name + ".*.tmp"):  # from a writer that was killed
            leftover.unlink(missing_ok=True)
        payload = faiss.serialize_index(self._index).tobytes()
        header = _HEADER.pack(_MAGIC, generation, len(self), len(payload), _checksum(payload))
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        try:
            with open(open_private(tmp, new=True), "wb") as fh:
                fh.write(header)
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a disk that filled up keeps no half-written file
            raise
