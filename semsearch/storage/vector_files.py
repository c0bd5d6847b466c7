"""One vector index on disk, kept in step with the catalog by generation.

Two files per index (``vectors.*`` for passages, ``files.*`` for the file-level index
``similar`` searches): ``NAME.faiss``, the main segment, and ``NAME.delta``, what was
added and removed since (:mod:`.segmented`), bound to its main segment by the main's
nonce (a delta written for an older main is ignored). Each file's trailer says which
catalog generation it holds (:mod:`.vecfile`). Loading reads the stamps, memory-maps the
main segment, reads the delta, and catches up with the catalog by reading only the
vectors the change journal names; then it checks the cheap things (the count against
the catalog's, a few vectors against the catalog's copy). An update verifies the files'
checksums and rewrites only the delta, until it is large enough to merge, or the index
has grown or shrunk enough to be rebuilt in a new shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import vecfile
from .catalog_vectors import CatalogVectors
from .segmented import SegmentedIndex
from .shapes import TRAIN_PER_LIST, Shape
from .vecfile import DamagedVectorsError
from .vectors import Segment

log = logging.getLogger(__name__)

HNSW_TRAIN = 100_000  # vectors that set an hnsw segment's 8-bit code ranges
SPOT_CHECKS = 8  # vectors compared with the catalog's copy on every load
# What reading a damaged or foreign vector file can raise (faiss raises RuntimeError).
UNREADABLE = (DamagedVectorsError, OSError, RuntimeError, KeyError, TypeError, ValueError)


class VectorFiles:
    """The main and delta files of one vector index.

    Args:
        index_dir: the ``.semsearch`` folder.
        name: ``vectors`` (passages) or ``files``.
        source: what the catalog calls these vectors (``passages`` or ``files``).
    """

    def __init__(self, index_dir: Path, name: str, source: str) -> None:
        self.main = index_dir / f"{name}.faiss"
        self.delta = index_dir / f"{name}.delta"
        self.source = source

    # -- reading -------------------------------------------------------------

    def generation(self) -> int | None:
        """The generation the files hold together (None: no usable main segment)."""
        main = vecfile.stamp(self.main)
        if main is None:
            legacy = vecfile.legacy_stamp(self.main) if self.source == "passages" else None
            return legacy[0] if legacy else None
        delta = self._delta_stamp(main)
        return delta.generation if delta else main.generation

    def _delta_stamp(self, main: vecfile.Stamp) -> vecfile.Stamp | None:
        delta = vecfile.stamp(self.delta)
        return delta if delta and delta.base == main.nonce and delta.generation >= main.generation else None

    def problem(self) -> str | None:
        """None if the files are ours and whole (their checksums read through); else what is wrong."""
        main = vecfile.stamp(self.main)
        if main is None:
            return "missing, not a regular file, or not a semsearch vector file"
        try:
            vecfile.verify(self.main, main)
            delta = self._delta_stamp(main)
            if delta is not None:
                try:
                    vecfile.verify(self.delta, delta)
                except DamagedVectorsError as exc:
                    raise DamagedVectorsError(f"{self.delta.name}: {exc}") from None
        except DamagedVectorsError as exc:
            return f"damaged ({exc})"
        return None

    def load(self, catalog: CatalogVectors, generation: int, mapped: bool = True) -> tuple[SegmentedIndex, int] | str:
        """The index as the files hold it, and its main segment's nonce, caught up to
        ``generation`` through the journal if they are older and checked against the
        catalog; else why they cannot be used (``missing``, ``out of date``: the caller
        builds it from the catalog).

        Raises:
            DamagedVectorsError, OSError, RuntimeError, KeyError, TypeError, ValueError: damaged.
        """
        dimension = catalog.settings.dimension
        main = vecfile.stamp(self.main)
        if main is None:
            legacy = vecfile.legacy_stamp(self.main) if self.source == "passages" else None
            if legacy is not None and legacy[0] == generation:
                index = SegmentedIndex(dimension, _legacy_segment(self.main, legacy[1]))
                check(index, catalog, self.source)
                return index, 0
            return "out of date" if legacy is not None or self.main.exists() else "missing"
        if not mapped:
            vecfile.verify(self.main, main)
        meta = main.meta(self.main)
        if int(meta.get("dimension", dimension)) != dimension:
            raise DamagedVectorsError(f"it holds {meta['dimension']}-dimensional vectors, not {dimension}")
        index = SegmentedIndex(dimension, Segment.read(self.main, meta, mapped))
        held = main.generation
        delta = self._delta_stamp(main)
        if delta is not None:
            vecfile.verify(self.delta, delta)
            _read_delta(self.delta, delta, index)
            held = delta.generation
        if held != generation:
            touched = catalog.changes_since(self.source, held) if held < generation else None
            if touched is None:
                return "out of date"
            catch_up(index, catalog, self.source, touched)
        check(index, catalog, self.source)
        return index, main.nonce

    # -- writing -------------------------------------------------------------

    def build(self, catalog: CatalogVectors, requested: str) -> SegmentedIndex:
        """A new index of every vector in the catalog, in the shape ``requested`` takes for its size."""
        n = catalog.count_vectors(self.source)
        shape = Shape.for_size(requested, n) if n else Shape("flat", 0)
        sample = np.zeros((0, catalog.settings.dimension), np.float32)
        if shape.kind == "ivf":
            sample = catalog.sample_vectors(self.source, shape.nlist * TRAIN_PER_LIST)
        elif shape.kind == "hnsw":
            sample = catalog.sample_vectors(self.source, HNSW_TRAIN)
        segment = Segment.build(shape, catalog.settings.dimension, sample, catalog.iter_vectors(self.source))
        return SegmentedIndex(catalog.settings.dimension, segment)

    def update(self, catalog: CatalogVectors, generation: int, requested: str) -> None:
        """Bring the files to ``generation``: write the delta, merge it, or rebuild. Files
        that fail their checksum are rebuilt from the catalog, with a notice."""
        loaded: tuple[SegmentedIndex, int] | str = "missing"
        if vecfile.stamp(self.main) is not None:
            problem = self.problem()
            try:
                loaded = self.load(catalog, generation) if problem is None else problem
            except UNREADABLE as exc:
                loaded = f"damaged ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})"
            if isinstance(loaded, str) and loaded.startswith("damaged"):
                log.warning("%s was %s; rewrote it from the catalog", self.main.name, loaded)
        if isinstance(loaded, str) or self._needs_rebuild(loaded[0], requested):
            self._write_main(self.build(catalog, requested), generation)
        elif loaded[0].needs_merge():
            self._merge(catalog, generation)
        elif self.generation() != generation:
            index, nonce = loaded
            vecfile.write(self.delta, generation, lambda put: _write_delta(put, index), base=nonce)

    @staticmethod
    def _needs_rebuild(index: SegmentedIndex, requested: str) -> bool:
        shape = index.shape
        if shape is None or not shape.still_fits(requested, len(index)):
            return True
        return shape.kind == "hnsw" and index.tombstones_due()

    def _merge(self, catalog: CatalogVectors, generation: int) -> None:
        """Fold the delta (and tombstones) into a new main segment."""
        loaded = self.load(catalog, generation, mapped=False)
        assert not isinstance(loaded, str)
        index = loaded[0]
        assert index.main is not None
        if index.main.shape.kind != "hnsw":
            index.main.remove(index.tombstones)
            index.tombstones = np.zeros(0, np.int64)
        index.main.add(index.delta_ids, index.delta_vectors.astype(np.float32))
        index.delta_ids = np.zeros(0, np.int64)
        index.delta_vectors = index.delta_vectors[:0]
        self._write_main(index, generation)

    def _write_main(self, index: SegmentedIndex, generation: int) -> None:
        segment = index.main
        assert segment is not None

        def payload(put: Callable[[bytes], None]) -> dict[str, Any]:
            return {**segment.meta(segment.write(put)), "dimension": index.dimension}

        nonce = vecfile.write(self.main, generation, payload)
        if len(index.tombstones):  # an hnsw graph keeps its removed nodes until rebuilt
            vecfile.write(self.delta, generation, lambda put: _write_delta(put, index), base=nonce)
        else:
            self.delta.unlink(missing_ok=True)  # bound to the old main, it would be ignored anyway


def catch_up(index: SegmentedIndex, catalog: CatalogVectors, source: str, touched: np.ndarray) -> None:
    """Apply the journal's changes: drop every touched id, add back the ones that exist now."""
    if len(touched):
        index.remove(touched)
        index.add(*catalog.vectors_of(source, touched.tolist()))


def check(index: SegmentedIndex, catalog: CatalogVectors, source: str) -> None:
    """The cheap checks of a loaded index: as many vectors as the catalog holds, and a
    few of them (spread over the main segment) equal to the catalog's copy.

    Raises:
        DamagedVectorsError: they differ.
    """
    count = catalog.count_vectors(source)
    if len(index) != count:
        raise DamagedVectorsError(f"{len(index)} vectors where the catalog has {count}")
    if index.main is None:
        return
    ids, stored = index.main.sample(SPOT_CHECKS)
    keep = ~np.isin(ids, index.tombstones)
    ids, stored = ids[keep], stored[keep]
    found, expected = catalog.vectors_of(source, ids.tolist())
    if len(found) != len(ids):
        raise DamagedVectorsError(f"passage {min(set(ids.tolist()) - set(found.tolist()))} is not in the catalog")
    order = np.argsort(ids)
    if not index.main.shape.close_enough(stored[order], expected):
        raise DamagedVectorsError("a vector differs from the catalog's copy")


def _write_delta(put: Callable[[bytes], None], index: SegmentedIndex) -> dict[str, Any]:
    put(np.asarray(index.delta_ids, "<i8").tobytes())
    put(np.asarray(index.delta_vectors, "<f2").tobytes())
    put(np.asarray(index.tombstones, "<i8").tobytes())
    return {"delta": len(index.delta_ids), "tombstones": len(index.tombstones), "dimension": index.dimension}


def _read_delta(path: Path, stamp: vecfile.Stamp, index: SegmentedIndex) -> None:
    meta = stamp.meta(path)
    n, t, d = int(meta["delta"]), int(meta["tombstones"]), int(meta["dimension"])
    if d != index.dimension or 8 * n + 2 * n * d + 8 * t != stamp.payload:
        raise DamagedVectorsError("its description does not match its size")
    with open(vecfile.open_regular(path), "rb") as fh:
        raw = np.frombuffer(fh.read(stamp.payload), np.uint8)
    index.delta_ids = raw[: 8 * n].view("<i8").astype(np.int64)
    index.delta_vectors = raw[8 * n : 8 * n + 2 * n * d].view("<f2").reshape(n, d).astype(np.float16)
    index.tombstones = raw[8 * n + 2 * n * d :].view("<i8").astype(np.int64)


def _legacy_segment(path: Path, offset: int) -> Segment:
    """A schema 2 ``vectors.faiss`` (a header, then a flat float32 faiss index)."""
    import faiss

    with open(vecfile.open_regular(path), "rb") as fh:
        data = np.frombuffer(fh.read(), np.uint8)
    index: Any = faiss.deserialize_index(data[offset:])
    ids = np.sort(faiss.vector_to_array(index.id_map).astype(np.int64))
    return Segment(index, Shape("flat", len(ids)), ids, None)
