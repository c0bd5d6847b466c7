"""Read, chunk and commit the files of a plan, in batches; then embed what is new.

Progressive indexing: the text of every new or changed file is committed first, every
``defaults.TEXT_COMMIT_EVERY`` passages, without vectors (lexical search is then up to
date; files are tokenized for chunking a group of ``defaults.TOKENIZE_BYTES`` at a time, in
one call in a thread, while the group before is chunked and committed); then
:mod:`.embedding` fills in the vectors, a batch per commit. An interrupted run keeps
what it committed, never half a batch, and the next run resumes from there
(the passages left without a vector are embedded, nothing is chunked again). A store
that cannot hold a passage without its vector (``Catalog.defers_vectors`` False) gets
each batch embedded before it is committed. A file whose stat changed but whose content
did not (same digest) is not re-embedded, nor is content the catalog still holds (a
copy, a move, a file a filter left out and lets back in): its stored passages are reused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .. import defaults
from ..chunking import Chunk, chunk_text
from ..corpus import Document, FileEntry, digest_bytes, read_document, read_file
from ..embedders import Embedder
from ..records import IndexReport, Progress, Skipped
from ..storage import Catalog, NewPassage
from .changes import Plan, too_large
from .embedding import embed_pending

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
        self._max_file_size = max_file_size
        # Read, waiting to be tokenized (a group at a time); the group being tokenized.
        self._untokenized: list[Document] = []
        self._untokenized_bytes = 0
        self._tokenizing: tuple[list[Document], Future[Sequence[Sequence[tuple[int, int]]]]] | None = None
        self._tokenizer: ThreadPoolExecutor | None = None
        # What the next commit holds.
        self._pending: list[tuple[Document, list[Chunk]]] = []
        self._pending_passages = 0
        self._touched: list[FileEntry] = []
        self._to_skip: list[tuple[FileEntry, str, Skipped]] = [
            (e, "", too_large(e, max_file_size)) for e in work.too_large
        ]
        self._gone = list(work.removed)
        # Content the catalog already holds (a copy, a move, a file back from a filter): stored passages.
        self._reused: list[tuple[FileEntry, str, list[NewPassage]]] = []
        self._reused_passages = 0
        self._bytes_total = sum(e.size for e in work.to_read)
        self._bytes_done = 0
        self._inline = not catalog.defers_vectors  # embed each batch before committing it
        self._batch = defaults.COMMIT_EVERY if self._inline else defaults.TEXT_COMMIT_EVERY

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
        with ThreadPoolExecutor(1, thread_name_prefix="semsearch-tokenize") as self._tokenizer:
            for entry in work.to_read:
                self._progress(done, entry.path)
                done += 1
                self._read(entry)
                self._bytes_done += entry.size
                if self._untokenized_bytes >= defaults.TOKENIZE_BYTES:
                    self._tokenize()
                if self._pending_passages >= self._batch or self._reused_passages >= 16 * defaults.COMMIT_EVERY:
                    self._commit()
            self._tokenize(last=True)
        report.removed = sorted(self._gone)
        if self._pending or self._touched or self._gone or self._to_skip or self._reused:
            self._commit(final=True)
        self._progress(done)
        if not self._inline:
            embed_pending(self.catalog, self._embedder, report, self._embedding_progress)

    def _embedding_progress(self, embedded: int, total: int) -> None:
        if self._on_progress:
            n = len(self.work.to_read)
            self._on_progress(Progress(n, n, embedded, "", self._bytes_total, self._bytes_total, total))

    def _progress(self, done: int, current: str = "") -> None:
        if self._on_progress:
            embedded = self.report.passages_embedded
            self._on_progress(Progress(done, len(self.work.to_read), embedded, current, self._bytes_done,
                                       self._bytes_total, embedded + self._pending_passages))

    def _read(self, entry: FileEntry) -> None:
        """Read one file and queue what it needs: nothing, a new stat, a skip, or passages."""
        rec = self.work.known.get(entry.path)
        data = read_file(entry, self._max_file_size)  # never more than the limit, even if it grew since the walk
        if isinstance(data, Skipped):  # may be passing (permissions, a file being replaced): not remembered
            self.report.skipped.append(data)
            if rec is not None:
                self._gone.append(entry.path)
            return
        digest = digest_bytes(data)
        if rec is not None and rec.skipped is None and rec.digest == digest:
            self._touched.append(entry)  # same content, new stat: nothing to embed
            self.report.unchanged += 1
            return
        stored = self.catalog.stored_passages(digest)
        if stored is not None:
            self._reused.append((entry, digest, stored))
            self._reused_passages += len(stored)
            return
        doc = read_document(entry, data)
        if isinstance(doc, Skipped):
            self.report.skipped.append(doc)
            self._to_skip.append((entry, digest, doc))
            return
        self._untokenized.append(doc)
        self._untokenized_bytes += doc.size

    def _tokenize(self, last: bool = False) -> None:
        """Start tokenizing the files read since the last call, in one call in the tokenizer's
        thread, and chunk the group started before (``last``: this one too, once done)."""
        assert self._tokenizer is not None
        group, previous, self._tokenizing = self._untokenized, self._tokenizing, None
        self._untokenized, self._untokenized_bytes = [], 0
        if group:
            spans = self._tokenizer.submit(self._embedder().token_spans_batch, [doc.text for doc in group])
            self._tokenizing = (group, spans)
        for started in (previous, self._tokenizing if last else None):
            if started is not None:
                self._chunk(*started)
        if last:
            self._tokenizing = None

    def _chunk(self, group: list[Document], spans: Future[Sequence[Sequence[tuple[int, int]]]]) -> None:
        """Cut the files of a group into passages and queue them for the next commit."""
        settings, embedder = self.catalog.settings, self._embedder()
        for doc, doc_spans in zip(group, spans.result(), strict=True):
            chunks = chunk_text(doc.text, embedder.token_spans, settings.chunk_tokens or defaults.CHUNK_TOKENS,
                                settings.overlap, exact_at_spaces=embedder.exact_at_spaces, spans=doc_spans)
            self._pending.append((doc, chunks))
            self._pending_passages += len(chunks)

    def _commit(self, final: bool = False) -> None:
        """Write what is queued in one transaction (embedded first if ``_inline``)."""
        catalog, report, known = self.catalog, self.report, self.work.known
        texts = [c.text for _, chunks in self._pending for c in chunks]
        vectors: list[np.ndarray | None] = [None] * len(texts)
        if self._inline and texts:
            vectors = list(self._embedder().embed_documents(texts))
        with catalog.transaction():
            catalog.prepare_reuse()
            offset = 0
            for doc, chunks in self._pending:
                passages = [NewPassage(c.start_line, c.end_line, c.text, vectors[offset + i])
                            for i, c in enumerate(chunks)]
                catalog.put_file(doc.path, doc.size, doc.mtime_ns, doc.digest, passages)
                offset += len(chunks)
                was_indexed = doc.path in known and known[doc.path].skipped is None
                (report.updated if was_indexed else report.added).append(doc.path)
            for entry, digest, passages in self._reused:
                catalog.put_file(entry.path, entry.size, entry.mtime_ns, digest, passages)
                catalog.unretire(digest)
                was_indexed = entry.path in known and known[entry.path].skipped is None
                (report.updated if was_indexed else report.added).append(entry.path)
                report.passages_reused += len(passages)
            for entry, digest, skip in self._to_skip:
                catalog.put_skipped(entry.path, entry.size, entry.mtime_ns, digest, skip.reason)
            for entry in self._touched:
                catalog.touch_file(entry.path, entry.size, entry.mtime_ns)
            if final:
                for path in self._gone:
                    catalog.retire_file(path)  # kept a while: the same content back costs no embedding
                catalog.purge_retired(keep=catalog.count_passages())
        if self._inline:
            report.passages_embedded += len(texts)
        self._pending_passages = 0
        self._reused_passages = 0
        self._reused.clear()
        self._pending.clear()
        self._to_skip.clear()
        self._touched.clear()
