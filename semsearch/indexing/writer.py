"""Read, chunk, embed and commit the files of a plan, in batches.

Embedded passages are committed every ``defaults.COMMIT_EVERY`` passages: an
interrupted run keeps what it finished, never half a batch, and the next run
resumes from there. A file whose stat changed but whose content did not (same
digest) is not re-embedded.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import defaults
from ..chunking import Chunk, chunk_text
from ..corpus import Document, FileEntry, digest_bytes, read_document
from ..embedders import Embedder
from ..records import IndexReport, Progress, Skipped, SkipReason
from ..storage import Catalog, NewPassage
from .changes import Plan, too_large

ProgressCallback = Callable[[Progress], None]


class Writer:
    """Carries out one plan against a catalog, filling in ``report``.

    Args:
        catalog: the catalog to write (its settings say how to chunk).
        work: what to do.
        report: filled in as files are added, updated, skipped and removed.
        get_embedder: called only when there is something to chunk or embed (loading
            the model is the slow part of a run).
        max_file_size: the limit the plan's ``too_large`` files broke.
        on_progress: called as files are read and passages embedded.
    """

    def __init__(
        self,
        catalog: Catalog,
        work: Plan,
        report: IndexReport,
        get_embedder: Callable[[], Embedder],
        max_file_size: int,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.catalog = catalog
        self.work = work
        self.report = report
        self._embedder = get_embedder
        self._on_progress = on_progress
        # What the next commit holds.
        self._pending: list[tuple[Document, list[Chunk]]] = []
        self._pending_passages = 0
        self._touched: list[FileEntry] = []
        self._to_skip: list[tuple[FileEntry, str, Skipped]] = [
            (e, "", too_large(e, max_file_size)) for e in work.too_large
        ]
        self._gone = list(work.removed)

    def run(self) -> None:
        """Do the whole plan; what is committed stays committed if this is interrupted."""
        work, report = self.work, self.report
        for entry in work.unchanged:
            reason = work.known[entry.path].skipped
            if reason:
                report.skipped.append(Skipped.parse(entry.path, reason))
            else:
                report.unchanged += 1
        report.skipped += work.skipped
        # Files skipped for a lasting reason are remembered with it, so next time they cost a stat.
        report.skipped += [skip for _, _, skip in self._to_skip]
        done = 0
        for entry in work.to_read:
            self._progress(done, entry.path)
            done += 1
            self._read(entry)
            if self._pending_passages >= defaults.COMMIT_EVERY:
                self._commit()
        report.removed = sorted(self._gone)
        if self._pending or self._touched or self._gone or self._to_skip:
            self._commit(final=True)
        self._progress(done)

    def _progress(self, done: int, current: str = "") -> None:
        if self._on_progress:
            self._on_progress(Progress(done, len(self.work.to_read), self.report.passages_embedded, current))

    def _read(self, entry: FileEntry) -> None:
        """Read one file and queue what it needs: nothing, a new stat, a skip, or passages."""
        rec = self.work.known.get(entry.path)
        try:
            data = entry.abspath.read_bytes()
        except OSError as exc:  # may be passing (permissions, a file being replaced): not remembered
            self.report.skipped.append(Skipped(entry.path, SkipReason.UNREADABLE, str(exc.strerror or exc)))
            if rec is not None:
                self._gone.append(entry.path)
            return
        if rec is not None and rec.skipped is None and rec.digest == digest_bytes(data):
            self._touched.append(entry)  # same content, new stat: nothing to embed
            self.report.unchanged += 1
            return
        doc = read_document(entry, data)
        if isinstance(doc, Skipped):
            self.report.skipped.append(doc)
            self._to_skip.append((entry, digest_bytes(data), doc))
            return
        settings = self.catalog.settings
        chunks = chunk_text(doc.text, self._embedder().token_spans, settings.chunk_tokens or defaults.CHUNK_TOKENS,
                            settings.overlap)
        self._pending.append((doc, chunks))
        self._pending_passages += len(chunks)

    def _commit(self, final: bool = False) -> None:
        """Embed what is queued and write it all in one transaction."""
        catalog, report, known = self.catalog, self.report, self.work.known
        texts = [c.text for _, chunks in self._pending for c in chunks]
        vectors = (self._embedder().embed_documents(texts) if texts
                   else np.zeros((0, catalog.settings.dimension), np.float32))
        with catalog.transaction():
            offset = 0
            for doc, chunks in self._pending:
                passages = [NewPassage(c.start_line, c.end_line, c.text, vectors[offset + i])
                            for i, c in enumerate(chunks)]
                catalog.put_file(doc.path, doc.size, doc.mtime_ns, doc.digest, passages)
                offset += len(chunks)
                was_indexed = doc.path in known and known[doc.path].skipped is None
                (report.updated if was_indexed else report.added).append(doc.path)
            for entry, digest, skip in self._to_skip:
                catalog.put_skipped(entry.path, entry.size, entry.mtime_ns, digest, skip.reason)
            for entry in self._touched:
                catalog.touch_file(entry.path, entry.size, entry.mtime_ns)
            if final:
                for path in self._gone:
                    catalog.delete_file(path)
        report.passages_embedded += len(texts)
        self._pending_passages = 0
        self._pending.clear()
        self._to_skip.clear()
        self._touched.clear()
