"""One index for a long-lived process (``serve``, ``mcp``): opened once, with its model
kept loaded, and moved to each update of the index once that update is complete,
whoever made it (this process's watcher, or an ``index`` run elsewhere).

A query never sees a half-written index: an :class:`~semsearch.Index` reads one
committed state. An ``index`` run commits in batches and stamps ``vectors.faiss`` with
its last commit's generation when it has finished; when the stamp moves, a second
``Index`` is moved to the latest commit, and it replaces the first only if that commit is
the stamped one (a complete update). Otherwise a new run is already under way: the old
state keeps answering, and the second index looks again at the next request. The old ``Index`` is closed once the
last query that was reading it is done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from typing_extensions import Self

from .embedders import EmbedderFactory
from .errors import IndexLockedError, IndexNotFoundError, SemsearchError
from .index import Index
from .storage import find_index_dir
from .watching import SharedEmbedders, Update, Watcher

log = logging.getLogger(__name__)


class LiveIndex:
    """An :class:`Index` that follows the updates of its index.

    Args:
        location: the indexed folder (or a folder below it, or its ``.semsearch``).
        watch: also keep the index fresh from this process, as ``semsearch watch`` does.
        on_update: told of each catch-up the watcher made (when ``watch``).
        embedder_factory: makes the embedder (tests pass a fake); loaded once, shared by
            queries and the watcher's runs.
        watch_options: passed to :class:`Watcher` (e.g. ``force_polling``, settings).

    Raises:
        IndexNotFoundError (without ``watch``), CorruptIndexError, SettingsMismatchError,
        and what the watcher's first run raises.
    """

    def __init__(
        self,
        location: Path | str = ".",
        *,
        watch: bool = False,
        on_update: Callable[[Update], None] | None = None,
        embedder_factory: EmbedderFactory | None = None,
        model: str | None = None,
        device: str | None = None,
        **watch_options: Any,
    ) -> None:
        self._embedders = SharedEmbedders(embedder_factory, device)
        self._on_update = on_update or (lambda _u: None)
        self.watcher: Watcher | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.watch_error: SemsearchError | None = None
        if watch:
            try:  # the index above ``location`` if there is one, as a reader finds it
                root = find_index_dir(Path(location)).parent
            except IndexNotFoundError:
                root = Path(location)
            self.watcher = Watcher(root, embedder_factory=self._embedders, on_update=self._updated,
                                   on_wait=_busy, device=device, **watch_options)
            try:
                self.watcher.sync()  # the first run: there is an index to open, and it is current
            except IndexLockedError as exc:  # another run is writing it: the watcher tries again once started
                _busy(exc)
        self.index = Index(self.watcher.root if self.watcher else location, model=model, device=device,
                           embedder_factory=self._embedders)
        self._lock = threading.Lock()
        self._readers: dict[int, int] = {}  # id(Index) -> queries reading it now
        self._retired: list[Index] = []  # replaced, to be closed when no query reads them
        self._candidate: Index | None = None  # open on a newer commit that was not yet complete

    @property
    def root(self) -> Path:
        return self.index.root

    @contextmanager
    def reading(self) -> Iterator[Index]:
        """The index at the latest complete update, held open while the caller reads it."""
        self._follow()
        with self._lock:
            index = self.index
            self._readers[id(index)] = self._readers.get(id(index), 0) + 1
        try:
            yield index
        finally:
            with self._lock:
                self._readers[id(index)] -= 1
                self._close_retired()

    def _follow(self) -> None:
        """Move to the latest update if it is complete (see the module's doc)."""
        if self.index.store.vectors_current():
            return
        with self._lock:
            if self.index.store.vectors_current():  # another thread has just moved on
                return
            fresh = self._candidate or Index(self.index.index_dir, embedder_factory=self._embedders)
            self._candidate = None
            fresh.refresh()
            if not fresh.store.vectors_current():
                self._candidate = fresh  # a run is under way: looked at again on the next request
                return
            self._retired.append(self.index)
            self.index = fresh
            self._close_retired()
        fresh.store.vectors()  # loaded here rather than by the next query

    def _close_retired(self) -> None:
        for index in [i for i in self._retired if not self._readers.get(id(i))]:
            self._retired.remove(index)
            self._readers.pop(id(index), None)
            index.close()

    def start(self) -> None:
        """Load the model, and start watching (when asked) in a background thread."""
        self.index.load_model()
        self.index.store.vectors()
        if self.watcher is not None and self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="semsearch-watch", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        assert self.watcher is not None
        try:
            self.watcher.run(self._stop)
        except SemsearchError as exc:
            self.watch_error = exc
            log.warning("stopped watching %s: %s", self.root, exc)
        except Exception as exc:  # noqa: BLE001 - the server goes on answering from the last update
            self.watch_error = SemsearchError(str(exc))
            log.warning("stopped watching %s: %s", self.root, exc)

    def _updated(self, update: Update) -> None:
        self._follow()
        self._on_update(update)

    @property
    def watching(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop watching (waiting for a run in progress to commit), then close the index."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        with self._lock:
            for index in [*self._retired, self.index, *([self._candidate] if self._candidate else [])]:
                index.close()
            self._retired.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _busy(exc: IndexLockedError) -> None:
    log.warning("%s; trying again shortly", exc)
