"""The steps of one ``index`` run once its settings are known: build a new index (in
place, or beside the live one and swapped in), or bring an existing one up to date.
Both carry out a plan with the :class:`~.writer.Writer` (text first, then vectors), then
bring the vector files to the catalog's last commit.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .. import defaults
from ..embedders import Embedder, EmbedderFactory, default_factory, resolve_model
from ..errors import BadInputError, NoTextFilesError, SettingsMismatchError
from ..records import IndexReport, Skipped
from ..settings import Settings, check_dimension, diff, resolve, with_
from ..storage import Catalog, LocalStore, building_dir, exchange_folders, writer_lock
from . import filters
from .changes import Plan, plan
from .filters import Confirm
from .rebuild import discard_if_empty, open_building, readable_settings, seal
from .writer import ProgressCallback, Writer


class WritableStore(Protocol):
    """What a run needs of a store: :class:`LocalStore`, or the shared one (``storage.postgres_store.PgStore``)."""

    @property
    def catalog(self) -> Catalog: ...
    def vectors_current(self) -> bool: ...
    def vectors_problem(self) -> str | None: ...
    def write_vectors(self) -> None: ...


class Run:
    """One ``sync`` call: what was asked, and how to get the model."""

    def __init__(self, root: Path, flags: dict[str, Any], on_progress: ProgressCallback | None,
                 factory: EmbedderFactory | None, started: float, within: str = "",
                 confirm: Confirm | None = None) -> None:
        self.root = root
        self.confirm = confirm
        self.within = within
        self.flags = flags
        self.on_progress = on_progress
        self.factory = factory
        self.started = started

    def _factory(self, settings: Settings) -> EmbedderFactory:
        return self.factory or default_factory(settings.device, settings.batch_size)

    def build(self, index_dir: Path, replacing: bool) -> IndexReport:
        """Index the folder from nothing; when ``replacing`` an index, swap it in once complete."""
        settings, work, embedder = self.new_index(readable_settings(index_dir) if replacing else None)
        # A first build happens in place: if interrupted, what it committed is kept and the
        # next run resumes. A rebuild happens beside the live index (in a hidden folder the
        # walk skips), so a failed or interrupted rebuild leaves the old index answering,
        # and the next --rebuild with the same settings resumes it.
        if not replacing:
            with LocalStore.create(index_dir, settings) as store:
                return self.fill(store, work, embedder, settings)
        return self._replace(index_dir, settings, work, embedder)

    def new_index(self, old: Settings | None) -> tuple[Settings, Plan, Embedder]:
        """The settings, plan and model of a new index of the folder (replacing one built with ``old``)."""
        # A rebuild keeps what the index was built with, except what this run overrides;
        # with another model, that model's window decides the default passage size.
        settings = resolve(self.flags, old)
        if (old is not None and resolve_model(settings.model).model_id != old.model
                and self.flags.get("chunk_tokens") is None):
            settings = with_(settings, chunk_tokens=None)
        work = plan(self.root, {}, settings.include, settings.exclude, settings.max_file_size, settings.follow_symlinks)
        if not work.to_read:
            raise NoTextFilesError(_no_text_message(self.root, work.skipped))
        embedder = self._factory(settings)(resolve_model(settings.model), settings.backend)
        chunk_tokens = _check_chunking(settings.chunk_tokens, self.flags.get("overlap"), embedder.max_tokens)
        settings = with_(settings, model=embedder.model_id, backend=embedder.backend, dimension=embedder.dimension,
                         chunk_tokens=chunk_tokens, overlap=min(settings.overlap, chunk_tokens // 2))
        return settings, work, embedder

    def _replace(self, index_dir: Path, settings: Settings, work: Plan, embedder: Embedder) -> IndexReport:
        target = building_dir(self.root)
        # The new index's own lock is held too, so that once swapped in it is still ours.
        with writer_lock(target):
            store, done = open_building(target, settings)
            try:
                with store:
                    if done:  # what the interrupted run committed is kept: compare with that
                        work = plan(self.root, store.catalog.files(), settings.include, settings.exclude,
                                    settings.max_file_size, settings.follow_symlinks)
                    report = self.fill(store, work, embedder, settings, before_vectors=seal)
            except BaseException:
                discard_if_empty(target)  # nothing worth resuming
                raise
            exchange_folders(index_dir, target)
        shutil.rmtree(target, ignore_errors=True)  # the old index, swapped out
        return report

    def fill(self, store: WritableStore, work: Plan, embedder: Embedder, settings: Settings,
              before_vectors: Callable[[Any], None] | None = None) -> IndexReport:
        """Carry out ``work`` into a new index (or a resumed rebuild), then write its vectors."""
        report = IndexReport(self.root, embedder.model_id, embedder.backend, created=True)
        Writer(store.catalog, work, report, lambda: embedder, settings.max_file_size, self.on_progress).run()
        if not store.catalog.count_files():
            raise NoTextFilesError(_no_text_message(self.root, report.skipped))
        if before_vectors is not None:
            before_vectors(store)
        store.write_vectors()
        self._finish(report, store)
        return report

    def update(self, store: WritableStore) -> IndexReport:
        """Bring an existing index up to date."""
        recorded = store.catalog.settings
        settings = resolve(self.flags, recorded)
        if settings.model != recorded.model:
            settings = with_(settings, model=resolve_model(settings.model).model_id)
        settings = with_(settings, overlap=min(settings.overlap, (recorded.chunk_tokens or 0) // 2))
        mismatched = diff(settings, recorded)
        if mismatched:
            raise SettingsMismatchError(_mismatch_message(mismatched[0], settings, recorded, self.root,
                                                          self.flags.get("model")))
        report = IndexReport(self.root, recorded.model, recorded.backend, within=self.within)
        loaded: list[Embedder] = []

        def embedder() -> Embedder:
            # Loading the model is the slow part of a run; a run with nothing to embed skips it.
            if not loaded:
                model = self._factory(settings)(resolve_model(recorded.model), recorded.backend)
                check_dimension(recorded, model.dimension, self.root)
                loaded.append(model)
            return loaded[0]

        work = plan(self.root, store.catalog.files(), settings.include, settings.exclude, settings.max_file_size,
                    settings.follow_symlinks, self.within)
        if settings.recorded() != recorded.recorded():  # remembered filters changed
            report.removed_by = filters.check_change(work, self.root, settings, recorded, self.confirm)
            with store.catalog.transaction():
                store.catalog.set_settings(settings)
        Writer(store.catalog, work, report, embedder, settings.max_file_size, self.on_progress).run()
        store.write_vectors()  # checks the vector files' checksums, then updates them (or rebuilds the damaged)
        self._finish(report, store)
        return report

    def _finish(self, report: IndexReport, store: WritableStore) -> None:
        report.files = store.catalog.count_files()
        report.passages = store.catalog.count_passages()
        report.seconds = time.perf_counter() - self.started


def _mismatch_message(name: str, wanted: Settings, recorded: Settings, root: Path, asked_model: str | None) -> str:
    fix = f"rebuild with `semsearch index {root} --rebuild`"
    if name == "model":
        return (f"this index was built with {recorded.model}, not {wanted.model}; to switch models, "
                f"run `semsearch index {root} --model {asked_model or wanted.model} --rebuild`")
    if name == "backend":
        return (f"this index was embedded with the {recorded.backend} backend; to switch, "
                f"run `semsearch index {root} --backend {wanted.backend} --rebuild`")
    return f"this index uses --{name.replace('_', '-')} {getattr(recorded, name)}; to change it, {fix}"


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
        reasons = sorted({s.kind.value if hasattr(s.kind, "value") else str(s.kind) for s in skipped})
        message += f" ({len(skipped)} skipped: {', '.join(reasons)})"
    return message + "; point semsearch at a folder of notes or docs, or check --include/--exclude"
