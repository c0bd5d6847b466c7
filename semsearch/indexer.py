"""Bring an index up to date with its folder, embedding only what changed.

A file whose size and mtime match the catalog costs a ``stat``; one whose stat
changed is read and its digest compared, so a touched-but-unchanged file is not
re-embedded. Embedded passages are committed in batches: an interrupted run keeps
what it finished, and the next run resumes from there.
"""

from __future__ import annotations

import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import defaults
from .chunking import Chunk, chunk_text
from .corpus import Document, FileEntry, Skipped, digest_bytes, read_document, walk
from .embedding import EmbedderFactory, EmbedderLike, check_backend, default_factory, resolve_model
from .errors import BadInputError, NoTextFilesError, SemsearchError, SettingsMismatchError
from .folder import check_index_location, exchange_folders, writer_lock
from .store import FileRecord, IndexSettings, Store, damaged_catalog_is_reported, index_state


TOO_LARGE = "larger than --max-file-size"


@dataclass
class Progress:
    """Reported while indexing: files of this run's work done, passages embedded."""

    files_done: int
    files_total: int
    passages: int
    current: str = ""


@dataclass
class IndexReport:
    """What one ``index`` run did."""

    root: Path
    model_id: str
    backend: str
    created: bool = False
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    passages_embedded: int = 0
    files: int = 0
    passages: int = 0
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class Plan:
    """The difference between a folder and its index, by ``stat`` alone."""

    to_read: list[FileEntry]
    unchanged: list[FileEntry]
    removed: list[str]
    too_large: list[FileEntry]
    skipped: list[Skipped]
    known: dict[str, FileRecord]  # the catalog's records it was compared with


def plan(
    root: Path,
    known: dict[str, FileRecord],
    include: Sequence[str],
    exclude: Sequence[str],
    max_file_size: int,
    follow_symlinks: bool = False,
) -> Plan:
    """Compare the folder with the catalog's file records without reading any file."""
    skipped: list[Skipped] = []
    to_read, unchanged, too_large = [], [], []
    seen: set[str] = set()
    for entry in walk(root, include, exclude, skipped, follow_symlinks):
        seen.add(entry.path)
        rec = known.get(entry.path)
        same_stat = rec is not None and rec.same_stat(entry.size, entry.mtime_ns)
        # A file skipped as too large is looked at again if the limit was raised.
        retry = rec is not None and (rec.skipped or "").startswith(TOO_LARGE) and entry.size <= max_file_size
        if same_stat and not retry:
            unchanged.append(entry)
        elif entry.size > max_file_size:
            too_large.append(entry)
        else:
            to_read.append(entry)
    removed = sorted(p for p in known if p not in seen)
    return Plan(to_read, unchanged, removed, too_large, skipped, known)


@dataclass(frozen=True)
class _Request:
    """What the caller asked of one ``sync`` run (None: the index's own setting)."""

    model: str | None
    include: list[str] | None
    exclude: list[str] | None
    chunk_tokens: int | None
    overlap: int | None
    backend: str | None
    max_file_size: int
    follow_symlinks: bool | None
    on_progress: Callable[[Progress], None] | None
    factory: EmbedderFactory
    started: float


def check_folder(root: Path) -> Path:
    """The folder to index, resolved; a clear error if it is not one."""
    root = Path(root).expanduser()
    if not root.exists():
        raise BadInputError(f"{root} does not exist; give the folder of text files to index")
    if not root.is_dir():
        raise BadInputError(f"{root} is a file, not a folder; give the folder that holds it")
    return root.resolve()


def sync(
    root: Path,
    *,
    model: str | None = None,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    chunk_tokens: int | None = None,
    overlap: int | None = None,
    backend: str | None = None,
    max_file_size: int = defaults.MAX_FILE_SIZE,
    batch_size: int = defaults.BATCH_SIZE,
    device: str | None = None,
    rebuild: bool = False,
    follow_symlinks: bool | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    embedder_factory: EmbedderFactory | None = None,
) -> IndexReport:
    """Create or update the index of ``root`` in ``root/.semsearch``.

    Args:
        root: the folder of text files.
        model: model name or folder; None means the index's own, or the default.
        include: globs a file must match (None: the index's recorded ones).
        exclude: globs that leave files out (None: the index's recorded ones).
        chunk_tokens: most tokens per passage (None: recorded, or the default
            capped to the model's window).
        overlap: tokens shared by consecutive passages.
        backend: torch, onnx or onnx-int8 (None: the index's own, or the default).
        max_file_size: files larger than this many bytes are skipped.
        batch_size: passages per forward pass of the model.
        device: torch device for the model.
        rebuild: build a fresh index from the files and swap it in when complete.
        follow_symlinks: follow symbolic links, loop-safely (None: the index's recorded choice).
        on_progress: called as files are read and passages embedded.
        embedder_factory: makes the embedder from the resolved model (tests).

    Returns:
        What was added, updated, removed and skipped, and how long it took.

    Raises:
        BadInputError, NoTextFilesError, SettingsMismatchError, CorruptIndexError,
        ModelUnavailableError, IndexLockedError, UnsafeFolderError.
    """
    started = time.perf_counter()
    root = check_folder(root)
    if batch_size < 1:
        raise BadInputError("--batch-size must be at least 1")
    if max_file_size < 1:
        raise BadInputError("--max-file-size must be at least 1 byte")
    if backend is not None:
        check_backend(backend)
    factory = embedder_factory or default_factory(device, batch_size)
    index_dir = root / defaults.INDEX_DIR_NAME
    check_index_location(index_dir, _building_dir(root))  # never written through a link, nor into another's folder
    request = _Request(model, None if include is None else list(include), None if exclude is None else list(exclude),
                       chunk_tokens, overlap, backend, max_file_size, follow_symlinks, on_progress, factory, started)
    if index_state(index_dir) != "absent" and not rebuild:
        Store.open(index_dir).close()  # a corrupt or foreign folder is reported, and left as it is
    with writer_lock(index_dir), damaged_catalog_is_reported(index_dir):
        state = index_state(index_dir)  # looked at again: another writer may have just finished
        shutil.rmtree(_building_dir(root), ignore_errors=True)  # left by a rebuild that was killed
        try:
            if rebuild or state == "absent":
                return _build_fresh(root, index_dir, state != "absent", request)
            with Store.open(index_dir) as store:
                return _update(store, request)
        except BaseException:
            if state == "absent" and _nothing_committed(index_dir):
                shutil.rmtree(index_dir, ignore_errors=True)  # leave no empty index behind a failed first run
            raise


def _building_dir(root: Path) -> Path:
    """Where ``--rebuild`` builds the new index, beside the live one (the walk skips it)."""
    return root / (defaults.INDEX_DIR_NAME + ".building")


def _readable_settings(index_dir: Path) -> IndexSettings | None:
    """The settings of the index being replaced, if it can still be read."""
    try:
        with Store.open(index_dir) as store:
            return store.settings
    except SemsearchError:
        return None


def _nothing_committed(index_dir: Path) -> bool:
    if index_state(index_dir) != "present":
        return True
    try:
        with Store.open(index_dir) as store:
            return store.count_files() == 0
    except SemsearchError:
        return False


def _build_fresh(root: Path, index_dir: Path, replacing: bool, req: _Request) -> IndexReport:
    """Index ``root`` from nothing; when ``replacing`` an index, swap it in once complete."""
    old_settings = _readable_settings(index_dir) if replacing else None
    if old_settings is not None:
        # A rebuild keeps what the index was built with, except what this run overrides.
        req = replace(
            req,
            model=req.model or old_settings.model_id,
            include=old_settings.include if req.include is None else req.include,
            exclude=old_settings.exclude if req.exclude is None else req.exclude,
            chunk_tokens=req.chunk_tokens or (old_settings.chunk_tokens if req.model is None else None),
            overlap=old_settings.overlap if req.overlap is None else req.overlap,
            backend=req.backend or old_settings.backend,
            follow_symlinks=old_settings.follow_symlinks if req.follow_symlinks is None else req.follow_symlinks,
        )
    include, exclude, follow = req.include or [], req.exclude or [], bool(req.follow_symlinks)
    work = plan(root, {}, include, exclude, req.max_file_size, follow)
    if not work.to_read:
        raise NoTextFilesError(_no_text_message(root, work.skipped))
    embedder = req.factory(resolve_model(req.model or defaults.DEFAULT_MODEL), req.backend or defaults.DEFAULT_BACKEND)
    chunk_tokens = _check_chunking(req.chunk_tokens, req.overlap, embedder.max_tokens)
    overlap = defaults.OVERLAP_TOKENS if req.overlap is None else req.overlap
    settings = IndexSettings(embedder.model_id, embedder.dimension, chunk_tokens, min(overlap, chunk_tokens // 2),
                             include, exclude, backend=embedder.backend, follow_symlinks=follow)
    # A rebuild happens beside the live index (in a hidden folder the walk skips), so a
    # failed or interrupted rebuild leaves the old index answering. A first build
    # happens in place: if interrupted, what it committed is kept and the next run resumes.
    target = _building_dir(root) if replacing else index_dir
    try:
        # The new index's own lock is held too, so that once swapped in it is still ours.
        with writer_lock(target) if replacing else nullcontext():
            with Store.create(target, settings) as store:
                report = IndexReport(root, embedder.model_id, embedder.backend, created=True,
                                     notices=list(embedder.notices))
                _apply(store, work, report, lambda: embedder, req.max_file_size, req.on_progress)
                if not report.added:
                    raise NoTextFilesError(_no_text_message(root, report.skipped))
                store.write_vector_index()
                _finish(report, store, req.started)
            if replacing:
                exchange_folders(index_dir, target)
    finally:
        if replacing:
            shutil.rmtree(target, ignore_errors=True)  # the old index, or the unfinished new one
    return report


def _update(store: Store, req: _Request) -> IndexReport:
    """Bring an existing index up to date."""
    settings, root = store.settings, store.root
    fix = f"rebuild with `semsearch index {root} --rebuild`"
    if req.model is not None:
        wanted = resolve_model(req.model).model_id
        if wanted != settings.model_id:
            raise SettingsMismatchError(
                f"this index was built with {settings.model_id}, not {wanted}; to switch models, "
                f"run `semsearch index {root} --model {req.model} --rebuild`"
            )
    if req.chunk_tokens is not None and req.chunk_tokens != settings.chunk_tokens:
        raise SettingsMismatchError(f"this index uses --chunk-tokens {settings.chunk_tokens}; to change it, {fix}")
    if req.overlap is not None and min(req.overlap, settings.chunk_tokens // 2) != settings.overlap:
        raise SettingsMismatchError(f"this index uses --overlap {settings.overlap}; to change it, {fix}")
    if req.backend is not None and req.backend != settings.backend:
        raise SettingsMismatchError(
            f"this index was embedded with the {settings.backend} backend; to switch, "
            f"run `semsearch index {root} --backend {req.backend} --rebuild`"
        )
    include = settings.include if req.include is None else req.include
    exclude = settings.exclude if req.exclude is None else req.exclude
    follow = settings.follow_symlinks if req.follow_symlinks is None else req.follow_symlinks
    work = plan(root, store.files(), include, exclude, req.max_file_size, follow)
    report = IndexReport(root, settings.model_id, settings.backend)
    embedder_cache: list[EmbedderLike] = []

    def embedder() -> EmbedderLike:
        # Loading the model is the slow part of a run; a run with nothing to embed skips it.
        if not embedder_cache:
            loaded = req.factory(resolve_model(settings.model_id), settings.backend)
            settings.check_dimension(loaded.dimension, root)
            report.notices += loaded.notices
            embedder_cache.append(loaded)
        return embedder_cache[0]

    if (include, exclude, follow) != (settings.include, settings.exclude, settings.follow_symlinks):
        with store.transaction():
            store.set_filters(include, exclude, follow)
    _apply(store, work, report, embedder, req.max_file_size, req.on_progress)
    if not store.vector_file_current():
        store.write_vector_index()
    _finish(report, store, req.started)
    return report


def _apply(
    store: Store,
    work: Plan,
    report: IndexReport,
    get_embedder: Callable[[], EmbedderLike],
    max_file_size: int,
    on_progress: Callable[[Progress], None] | None,
) -> None:
    """Read, chunk, embed and commit the files of ``work``; fill in ``report``.

    ``get_embedder`` is called only when there is something to chunk or embed.
    """
    known = work.known
    for entry in work.unchanged:
        reason = known[entry.path].skipped
        if reason:
            report.skipped.append(Skipped(entry.path, reason))
        else:
            report.unchanged += 1
    report.skipped += work.skipped
    # Files skipped for a lasting reason are remembered with it, so next time they cost a stat.
    to_skip = [(e, "", _too_large(e, max_file_size)) for e in work.too_large]
    report.skipped += [Skipped(e.path, reason) for e, _, reason in to_skip]
    gone = list(work.removed)
    pending: list[tuple[Document, list[Chunk]]] = []
    pending_passages = 0
    touched: list[FileEntry] = []
    done = 0

    def flush(final: bool = False) -> None:
        nonlocal pending_passages
        texts = [c.text for _, chunks in pending for c in chunks]
        vectors = get_embedder().embed_documents(texts) if texts else np.zeros((0, store.settings.dimension), np.float32)
        with store.transaction():
            offset = 0
            for doc, chunks in pending:
                store.put_file(doc, chunks, vectors[offset : offset + len(chunks)])
                offset += len(chunks)
                was_indexed = doc.path in known and known[doc.path].skipped is None
                (report.updated if was_indexed else report.added).append(doc.path)
            for entry, digest, reason in to_skip:
                store.put_skipped(entry.path, entry.size, entry.mtime_ns, digest, reason)
            for entry in touched:
                store.touch_file(entry.path, entry.size, entry.mtime_ns)
            if final:
                for path in gone:
                    store.delete_file(path)
        report.passages_embedded += len(texts)
        pending_passages = 0
        pending.clear()
        to_skip.clear()
        touched.clear()

    for entry in work.to_read:
        if on_progress:
            on_progress(Progress(done, len(work.to_read), report.passages_embedded, entry.path))
        done += 1
        rec = known.get(entry.path)
        try:
            data = entry.abspath.read_bytes()
        except OSError as exc:  # may be passing (permissions, a file being replaced): not remembered
            report.skipped.append(Skipped(entry.path, f"unreadable ({exc.strerror or exc})"))
            if rec is not None:
                gone.append(entry.path)
            continue
        if rec is not None and rec.skipped is None and rec.digest == digest_bytes(data):
            touched.append(entry)  # same content, new stat: nothing to embed
            report.unchanged += 1
            continue
        doc = read_document(entry, data)
        if isinstance(doc, Skipped):
            report.skipped.append(doc)
            to_skip.append((entry, digest_bytes(data), doc.reason))
            continue
        settings = store.settings
        chunks = chunk_text(doc.text, get_embedder().token_spans, settings.chunk_tokens, settings.overlap)
        pending.append((doc, chunks))
        pending_passages += len(chunks)
        if pending_passages >= defaults.COMMIT_EVERY:
            flush()
    report.removed = sorted(gone)
    if pending or touched or gone or to_skip:
        flush(final=True)
    if on_progress:
        on_progress(Progress(done, len(work.to_read), report.passages_embedded))


def _finish(report: IndexReport, store: Store, started: float) -> None:
    report.files = store.count_files()
    report.passages = store.count_passages()
    report.notices += store.notices
    report.seconds = time.perf_counter() - started


def _too_large(entry: FileEntry, limit: int) -> str:
    return f"{TOO_LARGE} ({entry.size / 1e6:.1f} MB > {limit / 1e6:.1f} MB)"


def _check_chunking(chunk_tokens: int | None, overlap: int | None, model_max: int) -> int:
    """The passage size to use for a new index, checked against the model's window."""
    if chunk_tokens is None:
        chunk_tokens = min(defaults.CHUNK_TOKENS, model_max)
    elif not 16 <= chunk_tokens <= model_max:
        raise BadInputError(f"--chunk-tokens must be between 16 and the model's limit of {model_max} tokens")
    if overlap is not None and not 0 <= overlap <= chunk_tokens // 2:
        raise BadInputError(f"--overlap must be between 0 and half of --chunk-tokens ({chunk_tokens // 2})")
    return chunk_tokens


def _no_text_message(root: Path, skipped: Sequence[Skipped]) -> str:
    message = f"no text files found in {root}"
    if skipped:
        reasons = sorted({s.reason.split(" (")[0] for s in skipped})
        message += f" ({len(skipped)} skipped: {', '.join(reasons)})"
    return message + "; point semsearch at a folder of notes or docs, or check --include/--exclude"
