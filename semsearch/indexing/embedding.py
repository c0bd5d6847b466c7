"""The second phase of an ``index`` run: embed the passages committed without a vector.

Their text is already in the catalog (lexical search finds them); here the model fills
in their vectors. Passages are read ``defaults.SORT_WINDOW`` at a time, by id, and sorted
by length within that window, independently of the commit batch, so each forward pass
pads little; every ``defaults.COMMIT_EVERY`` of them are embedded and committed in one
transaction. Only one window is held at a time, so memory stays bounded whatever the
folder's size. An interrupted run keeps every committed batch; the next run embeds what
is still without a vector, and nothing is read or chunked again.

With an embedder that can queue work (``submit_documents``, the ONNX backends), the
next batch is queued before the previous one is stored: the model's worker threads keep
every core busy while this thread reads the catalog, commits and reports progress. At
most two batches are in flight, so memory stays bounded. Any failure, or an interrupt,
drops the queued work (a running forward pass finishes) and commits nothing more.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from .. import defaults
from ..embedders import Embedder
from ..records import IndexReport
from ..storage import Catalog

# Told (passages embedded by this phase so far, passages it had to embed).
EmbeddingProgress = Callable[[int, int], None]


def embed_pending(catalog: Catalog, get_embedder: Callable[[], Embedder], report: IndexReport,
                  on_progress: EmbeddingProgress | None = None) -> None:
    """Embed every passage of ``catalog`` still without a vector, a committed batch at a time."""
    total = catalog.count_unembedded()
    if not total:
        return
    embedder = get_embedder()
    done = 0
    if on_progress:
        on_progress(done, total)
    submit, ahead = _queue(embedder)
    in_flight: deque[tuple[list[int], Queued]] = deque()
    try:
        for ids, texts in batches(catalog, defaults.SORT_WINDOW, defaults.COMMIT_EVERY):
            in_flight.append((ids, submit(texts)))
            while len(in_flight) > ahead:
                done += _store(catalog, *in_flight.popleft(), report)
                if on_progress:
                    on_progress(done, total)
        while in_flight:
            done += _store(catalog, *in_flight.popleft(), report)
            if on_progress:
                on_progress(done, total)
    finally:
        for _, queued in in_flight:  # left only by a failure or an interrupt
            queued.cancel()


class Queued(Protocol):
    def result(self) -> np.ndarray: ...
    def cancel(self) -> None: ...


class _Done:
    """The vectors of an embedder that cannot queue work, computed when asked for."""

    def __init__(self, embedder: Embedder, texts: list[str]) -> None:
        self._embedder, self._texts = embedder, texts

    def result(self) -> np.ndarray:
        return self._embedder.embed_documents(self._texts)

    def cancel(self) -> None:
        pass


def _queue(embedder: Embedder) -> tuple[Callable[[list[str]], Queued], int]:
    """How to queue a batch, and how many batches to queue beyond the one being stored."""
    submit = getattr(embedder, "submit_documents", None)
    if submit is not None:
        return submit, 1
    return lambda texts: _Done(embedder, texts), 0


def _store(catalog: Catalog, ids: list[int], queued: Queued, report: IndexReport) -> int:
    vectors = queued.result()
    with catalog.transaction():
        catalog.set_vectors(ids, vectors)
    report.passages_embedded += len(ids)
    return len(ids)


def batches(catalog: Catalog, window: int, batch: int) -> Iterator[tuple[list[int], list[str]]]:
    """The passages without a vector as (ids, texts) batches of at most ``batch``: read
    ``window`` at a time by id, each window sorted by length, longest first."""
    after = 0
    while True:
        rows = catalog.unembedded(after, window)
        if not rows:
            return
        after = rows[-1][0]
        rows.sort(key=lambda row: -len(row[1]))
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            yield [pid for pid, _ in part], [text for _, text in part]
