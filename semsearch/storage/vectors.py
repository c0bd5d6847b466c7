"""Main vector segments: one faiss index over compact codes, in a shape of :mod:`.shapes`.

``flat`` is ``IndexIDMap(IndexScalarQuantizer fp16)``, ``ivf`` an
``IndexIVFScalarQuantizer`` (8-bit codes, ids in its lists), ``hnsw``
``IndexIDMap(IndexHNSWSQ)`` (8-bit codes); all by inner product. A segment is written as
faiss writes it, followed by its ids (sorted, so membership is a binary search on a
memory map), and for hnsw each id's position in the faiss index (to compare every code
when a filter is too selective for the graph). faiss is imported only in this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .shapes import HNSW_M, RANGE_MARGIN, Shape

__all__ = ["HNSW_M", "Segment", "Shape", "selector"]


def _faiss() -> Any:
    """faiss, imported where it is used, and typed loosely: its stubs lack the keyword
    constructors of the search parameters and the attributes of downcast indexes used here."""
    import faiss

    return faiss


def selector(ids: Iterable[int] | np.ndarray, exclude: bool = False) -> Any:
    """A faiss selector of ``ids`` (or of every id but them)."""
    faiss = _faiss()

    array = np.ascontiguousarray(np.fromiter(ids, np.int64) if not isinstance(ids, np.ndarray) else ids, np.int64)
    sel = faiss.IDSelectorBatch(array)
    if not exclude:
        return sel
    negated = faiss.IDSelectorNot(sel)
    negated.referenced = sel  # keep the inner selector alive as long as the outer one
    return negated


class Segment:
    """One faiss index over passage (or file) vectors, by id.

    Args:
        index: the faiss index (ids stored in it, or mapped by ``IndexIDMap``).
        shape: its kind and parameters.
        ids: its ids, sorted (possibly a memory map).
        labels: for flat and hnsw, each sorted id's position in the faiss index.
    """

    def __init__(self, index: Any, shape: Shape, ids: np.ndarray, labels: np.ndarray | None) -> None:
        self.index: Any = index
        self.shape = shape
        self.ids = ids
        self.labels = labels
        self._by_label: np.ndarray | None = None

    @classmethod
    def build(cls, shape: Shape, dimension: int, sample: np.ndarray,
              batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> Segment:
        """Train on ``sample`` (ivf, hnsw) and add every batch of (ids, vectors)."""
        faiss = _faiss()

        metric = faiss.METRIC_INNER_PRODUCT
        if shape.kind == "ivf":
            index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dimension), dimension, shape.nlist,
                                                  faiss.ScalarQuantizer.QT_8bit, metric, False)
            index.cp.seed = 1234
            index.cp.min_points_per_centroid = 1  # a tiny index may have few vectors per list; faiss would print
            index.cp.niter = 10  # k-means iterations: 25 (faiss's default) gains little recall for 2.5x the time
        elif shape.kind == "hnsw":
            index = faiss.IndexIDMap(faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, HNSW_M, metric))
        else:
            index = faiss.IndexIDMap(faiss.IndexScalarQuantizer(dimension, faiss.ScalarQuantizer.QT_fp16, metric))
        if shape.kind != "flat":
            # 8-bit codes span each dimension's range in the training sample, widened by a
            # quarter on each side: vectors added later (merged deltas) are not clipped.
            codes = index if shape.kind == "ivf" else faiss.downcast_index(faiss.downcast_index(index.index).storage)
            codes.sq.rangestat_arg = RANGE_MARGIN
        if not index.is_trained:
            index.train(np.ascontiguousarray(sample, np.float32))
        segment = cls(index, shape, np.zeros(0, np.int64), None)
        for ids, vectors in batches:
            segment.add(ids, vectors)
        return segment

    def __len__(self) -> int:
        return len(self.ids)

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` this segment holds."""
        if not len(self.ids) or not len(ids):
            return np.zeros(len(ids), bool)
        at = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.asarray(self.ids[at] == ids)

    # -- searching -----------------------------------------------------------

    def search(self, query: np.ndarray, k: int, only: np.ndarray | None = None, exclude: np.ndarray | None = None,
               widen: float = 1.0, exhaustive: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``k`` (scores, ids) by inner product, among ``only`` (if given) and not
        in ``exclude``. ``widen`` scales how much of an approximate index is searched (for
        a selective filter); ``exhaustive`` compares every code (exact up to the codes)."""
        faiss = _faiss()

        q = np.ascontiguousarray(query, np.float32).reshape(1, -1)
        k = max(1, min(k, len(self.ids)))
        if self.shape.kind == "hnsw" and exhaustive:
            return self._scan_hnsw(q, k, only, exclude)
        sel = None
        if only is not None:
            sel = selector(only)
        elif exclude is not None and len(exclude):
            sel = selector(exclude, exclude=True)
        if self.shape.kind == "ivf":
            nprobe = self.shape.nlist if exhaustive else min(self.shape.nlist, math.ceil(self.shape.nprobe * widen))
            params: Any = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
        elif self.shape.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(k, math.ceil(self.shape.ef_search * widen)))
        else:
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
        scores, ids = self.index.search(q, k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def _scan_hnsw(self, q: np.ndarray, k: int, only: np.ndarray | None,
                   exclude: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Every code of an hnsw segment compared, its graph unused: exact results."""
        faiss = _faiss()

        storage = faiss.downcast_index(faiss.downcast_index(self.index.index).storage)
        by_label = self._ids_by_label()
        sel = None
        if only is not None:
            sel = selector(self._labels_of(only))
        elif exclude is not None and len(exclude):
            sel = selector(self._labels_of(exclude), exclude=True)
        scores, labels = storage.search(q, k, params=faiss.SearchParameters(sel=sel) if sel is not None else None)
        keep = labels[0] >= 0
        return scores[0][keep], by_label[labels[0][keep]]

    def _labels_of(self, ids: np.ndarray) -> np.ndarray:
        ids = ids[self.contains(ids)]
        return np.asarray(self._labels()[np.searchsorted(self.ids, ids)], np.int64)

    def _labels(self) -> np.ndarray:
        if self.labels is None:
            faiss = _faiss()

            self.labels = np.argsort(faiss.vector_to_array(self.index.id_map), kind="stable")
        return self.labels

    def _ids_by_label(self) -> np.ndarray:
        if self._by_label is None:
            by_label = np.empty(len(self.ids), np.int64)
            by_label[self._labels()] = self.ids
            self._by_label = by_label
        return self._by_label

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``n`` (ids, vectors read back from their codes), spread over the segment,
        to check against the catalog's copy."""
        faiss = _faiss()

        if not len(self.ids):
            return np.zeros(0, np.int64), np.zeros((0, self.index.d), np.float32)
        if self.shape.kind == "ivf":  # the first entry of lists spread over the index
            lists = self.index.invlists
            found: list[tuple[int, np.ndarray]] = []
            for number in np.linspace(0, self.shape.nlist - 1, min(self.shape.nlist, 4 * n)).astype(int):
                size = lists.list_size(int(number))
                if size and len(found) < n:
                    ids = faiss.rev_swig_ptr(lists.get_ids(int(number)), size)
                    codes = faiss.rev_swig_ptr(lists.get_codes(int(number)), size * lists.code_size)
                    found.append((int(ids[0]), np.array(codes[: lists.code_size])))
            vectors = self.index.sq.decode(np.stack([c for _, c in found]))
            return np.array([i for i, _ in found], np.int64), vectors
        by_label = self._ids_by_label() if self.shape.kind == "hnsw" else faiss.vector_to_array(self.index.id_map)
        labels = np.unique(np.linspace(0, len(by_label) - 1, n).astype(np.int64))
        codes = faiss.downcast_index(self.index.index)
        if self.shape.kind == "hnsw":
            codes = faiss.downcast_index(codes.storage)
        return by_label[labels].astype(np.int64), np.stack([codes.reconstruct(int(label)) for label in labels])

    # -- changing (a writer's fully loaded segment) ---------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        ids = np.ascontiguousarray(ids, np.int64)
        self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids)
        self.ids = np.union1d(np.asarray(self.ids), ids)
        self.labels = self._by_label = None

    def remove(self, ids: np.ndarray) -> None:
        """Drop ``ids`` (flat and ivf; an hnsw graph cannot drop a node)."""
        if not len(ids):
            return
        self.index.remove_ids(selector(np.asarray(ids, np.int64)))
        self.ids = np.setdiff1d(np.asarray(self.ids), ids)
        self.labels = self._by_label = None

    # -- on disk -------------------------------------------------------------

    def meta(self, faiss_bytes: int) -> dict[str, Any]:
        return {"shape": asdict(self.shape), "faiss_bytes": faiss_bytes, "count": len(self.ids),
                "labels": self.shape.kind == "hnsw"}

    def write(self, put: Callable[[bytes], None]) -> int:
        """Write the faiss index, then the ids (and labels); returns the faiss bytes."""
        faiss = _faiss()

        written = [0]

        def counted(block: bytes) -> None:
            written[0] += len(block)
            put(block)

        faiss.write_index(self.index, faiss.PyCallbackIOWriter(counted))
        ids = np.asarray(self.ids, "<i8")
        put(ids.tobytes())
        if self.shape.kind == "hnsw":
            put(np.asarray(self._labels(), "<i8").tobytes())
        return written[0]

    @classmethod
    def read(cls, path: Path, meta: dict[str, Any], mapped: bool) -> Segment:
        """Load a segment written by :meth:`write` (``mapped``: memory-map its codes and
        ids, read-only, for searching; else load it whole, to change it).

        Raises:
            OSError, RuntimeError, KeyError, TypeError, ValueError: it cannot be read.
        """
        faiss = _faiss()

        shape = Shape(**meta["shape"])
        start, count = int(meta["faiss_bytes"]), int(meta["count"])
        flags = 0
        if mapped:  # ivf: its lists are mapped; flat, hnsw: their codes (an hnsw graph is read)
            flags = (faiss.IO_FLAG_MMAP if shape.kind == "ivf" else faiss.IO_FLAG_MMAP_IFC) | faiss.IO_FLAG_READ_ONLY
        index = faiss.read_index(str(path), flags)
        if mapped:
            ids = np.memmap(path, "<i8", "r", offset=start, shape=(count,)) if count else np.zeros(0, np.int64)
        else:
            ids = np.fromfile(path, "<i8", count, offset=start)
        labels = None
        if meta.get("labels") and count:
            labels = np.memmap(path, "<i8", "r", offset=start + 8 * count, shape=(count,))
        if shape.kind == "ivf":
            index.nprobe = shape.nprobe
            if mapped:  # its lists are read in place; faiss would start 32 threads per search to prefetch them
                faiss.downcast_InvertedLists(index.invlists).prefetch_nthread = 0
        elif shape.kind == "hnsw":
            faiss.downcast_index(index.index).hnsw.efSearch = shape.ef_search
        return cls(index, shape, ids, labels)
