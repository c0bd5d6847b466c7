"""The second phase of an ``index`` run: embed the passages committed without a vector.

Their text is already in the catalog (lexical search finds them); here the model fills
in their vectors. Passages are read ``defaults.SORT_WINDOW`` at a time, by id, and sorted
by length within that window, independently of the commit batch, so each forward pass
pads little; every ``defaults.COMMIT_EVERY`` of them are embedded and committed in one
transaction. Only one window is held at a time, so memory stays bounded whatever the
folder's size. An interrupted run keeps every committed batch; the next run embeds what
is still without a vector, and nothing is read or chunked again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
    for ids, texts in batches(catalog, defaults.SORT_WINDOW, defaults.COMMIT_EVERY):
        vectors = embedder.embed_documents(texts)
        with catalog.transaction():
            catalog.set_vectors(ids, vectors)
        done += len(ids)
        report.passages_embedded += len(ids)
        if on_progress:
            on_progress(done, total)


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
