"""One index for a long-lived process (``serve``, ``mcp``): opened once, with its model
kept loaded, and moved to each update of the index once that update is complete,
whoever made it (this process's watcher, or an ``index`` run elsewhere).

A query never sees a half-written index: an :class:`~semsearch.Index` reads one
committed state, and it is moved on only when ``vectors.faiss`` carries a newer
generation, which an ``index`` run writes when it has finished.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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

    @property
    def root(self) -> Path:
        return self.index.root

    def current(self) -> Index:
        """The index, moved to the latest complete update first if there is a newer one."""
        # A finished run stamps vectors.faiss with its generation; the vectors are loaded
        # here rather than by the next query.
        if not self.index.store.vectors_current() and self.index.refresh():
            self.index.store.vectors()
        return self.index

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
        self.current()
        self._on_update(update)

    @property
    def watching(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop watching (waiting for a run in progress to commit), then close the index."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.index.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _busy(exc: IndexLockedError) -> None:
    log.warning("%s; trying again shortly", exc)
