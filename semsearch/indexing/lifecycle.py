"""Bring an index up to date with its folder: the lifecycle of one ``index`` run.

Settings are resolved once (flag > environment > the index's record > default); a
first run builds the index in place, an update applies the plan to the live index,
and ``--rebuild`` builds a new index beside the live one and swaps it in when done.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .. import defaults
from ..embedders import Embedder, EmbedderFactory, check_backend, default_factory, resolve_model
from ..errors import (
    BadInputError,
    NoTextFilesError,
    SemsearchError,
    SettingsMismatchError,
)
from ..ignore import compile_globs
from ..records import IndexReport, Skipped
from ..settings import Settings, check_dimension, diff, resolve, with_
from ..storage import (
    Catalog,
    LocalStore,
    building_dir,
    check_index_location,
    check_vector_index,
    damaged_catalog_is_reported,
    disk_full_is_reported,
    exchange_folders,
    finish_swap,
    index_state,
    swap_dir,
    upgrade,
    writer_lock,
)
from . import filters
from .changes import Plan, plan
from .filters import Confirm
from .rebuild import check_replaceable, discard_if_empty, discard_leftover, open_building, readable_settings, seal
from .writer import ProgressCallback, Writer

log = logging.getLogger(__name__)


def check_folder(root: Path) -> Path:
    """The folder to index, resolved; a clear error if it is not one."""
    root = Path(root).expanduser()
    if not root.exists():
        raise BadInputError(f"{root} does not exist; give the folder of text files to index")
    if not root.is_dir():
        raise BadInputError(f"{root} is a file, not a folder; give the folder that holds it")
    return root.resolve()


def sync(
    root: Path | str,
    *,
    within: Path | str | None = None,
    rebuild: bool = False,
    on_progress: ProgressCallback | None = None,
    embedder_factory: EmbedderFactory | None = None,
    confirm: Confirm | None = None,
    **flags: Any,
) -> IndexReport:
    """Create or update the index of ``root`` in ``root/.semsearch``.

    Args:
        root: the folder of text files.
        within: update only this folder under ``root`` (absolute, or relative to
            ``root``): only it is walked, and only its files can be removed. The
            index must exist.
        rebuild: build a fresh index from the files and swap it in when complete.
        on_progress: called as files are read and passages embedded.
        embedder_factory: makes the embedder from the resolved model (tests).
        confirm: asked (with a question) before a change of the remembered filters drops
            more than half of the indexed files; without it such a change is refused.
        flags: settings by name (:class:`semsearch.settings.Settings`: ``model``,
            ``backend``, ``chunk_tokens``, ``overlap``, ``include``, ``exclude``,
            ``follow_symlinks``, ``vector_index``, ``batch_size``, ``device``, ``max_file_size``); None
            or absent means the environment's, else the index's own, else the default.

    Returns:
        What was added, updated, removed and skipped, and how long it took.

    Raises:
        BadInputError, NoTextFilesError, SettingsMismatchError, CorruptIndexError,
        ModelUnavailableError, IndexLockedError, UnsafeFolderError.
    """
    started = time.perf_counter()
    root = check_folder(Path(root))
    _check_flags(flags)
    index_dir = root / defaults.INDEX_DIR_NAME
    folder = _folder_within(root, within, rebuild, index_dir)
    check_index_location(index_dir, building_dir(root), swap_dir(index_dir))  # never through a link, nor into another's
    finish_swap(index_dir, building_dir(root))  # a swap without renameat2 that a kill interrupted
    if index_state(index_dir) != "absent":
        # A corrupt or foreign folder is reported, and left as it is; --rebuild replaces
        # only a folder that is recognisably semsearch's, made by this version or an older one.
        if rebuild:
            check_replaceable(index_dir)
        else:
            LocalStore.open(index_dir).close()
    run = _Run(root, flags, on_progress, embedder_factory, started, folder, confirm)
    with disk_full_is_reported(root), writer_lock(index_dir), damaged_catalog_is_reported(index_dir):
        state = index_state(index_dir)  # looked at again: another writer may have just finished
        if not rebuild:
            discard_leftover(building_dir(root))  # the old index a swap left; a rebuild in progress stays
        try:
            if rebuild or (state == "absent" and not folder):
                return run.build(index_dir, replacing=state != "absent")
            upgrade(index_dir, building_dir(root))  # an older semsearch's index, in this one's format
            with LocalStore.open(index_dir) as store:
                return run.update(store)
        except BaseException:
            if state == "absent" and _nothing_committed(index_dir):
                shutil.rmtree(index_dir, ignore_errors=True)  # leave no empty index behind a failed first run
            raise


def _folder_within(root: Path, within: Path | str | None, rebuild: bool, index_dir: Path) -> str:
    """``within`` as a folder relative to ``root`` ending in ``/`` ("" for the whole of it)."""
    if within is None:
        return ""
    folder = check_folder(root / within)
    if not folder.is_relative_to(root):
        raise BadInputError(f"{folder} is not inside {root}; give a folder under the indexed one")
    rel = folder.relative_to(root).as_posix()
    if rel == ".":
        return ""
    if rebuild:
        raise BadInputError(f"--rebuild remakes the whole index of {root}: run `semsearch index {root} --rebuild`")
    if index_state(index_dir) != "present":
        raise BadInputError(f"no index in {root} to update {rel}/ in; run `semsearch index {root}` first")
    return rel + "/"


def _check_flags(flags: dict[str, Any]) -> None:
    if flags.get("batch_size") is not None and flags["batch_size"] < 1:
        raise BadInputError("--batch-size must be at least 1")
    if flags.get("max_file_size") is not None and flags["max_file_size"] < 1:
        raise BadInputError("--max-file-size must be at least 1 byte")
    if flags.get("backend") is not None:
        check_backend(flags["backend"])
    for option in ("include", "exclude"):  # before a bad glob could be remembered
        compile_globs(flags.get(option) or (), f"--{option}")
    # Out of range whatever the model: an error at once, before the index is compared with
    # them (which would advise a rebuild) or a rebuild quietly uses the default instead.
    if flags.get("chunk_tokens") is not None and flags["chunk_tokens"] < 16:
        raise BadInputError(f"--chunk-tokens {flags['chunk_tokens']} is too small; give 16 or more (the default is "
                            f"{defaults.CHUNK_TOKENS}, capped by the model's window)")
    if flags.get("overlap") is not None and flags["overlap"] < 0:
        raise BadInputError(f"--overlap {flags['overlap']} is negative; give 0 or more (the default is "
                            f"{defaults.OVERLAP_TOKENS})")
    check_vector_index(resolve({"vector_index": flags.get("vector_index")}).vector_index)


class WritableStore(Protocol):
    """What a run needs of a store: :class:`LocalStore`, or the shared one (``storage.postgres_store.PgStore``)."""

    @property
    def catalog(self) -> Catalog: ...
    def vectors_current(self) -> bool: ...
    def vectors_problem(self) -> str | None: ...
    def write_vectors(self) -> None: ...


class _Run:
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


def _nothing_committed(index_dir: Path) -> bool:
    if index_state(index_dir) != "present":
        return True
    try:
        with LocalStore.open(index_dir) as store:
            return store.catalog.count_files() == 0
    except SemsearchError:
        return False


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

