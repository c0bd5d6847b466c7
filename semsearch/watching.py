"""Keep an index fresh while its folder changes: watch the folder (``watchfiles``), wait
for a burst of changes to settle, then bring the index up to date with :func:`sync`.

Each catch-up is an ordinary incremental run: a file whose content did not change is not
re-embedded, deleted files are dropped, ignore rules and the index's remembered filters
apply, and what is committed survives a crash. The model is loaded once and kept warm
for every later run. Nothing is printed: each catch-up is reported to ``on_update``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import defaults
from .embedders import Embedder, EmbedderFactory, ModelRef, default_factory
from .errors import IndexLockedError, SemsearchError
from .ignore import IGNORE_FILES
from .indexing import check_folder, sync
from .records import IndexReport


@dataclass(frozen=True)
class Update:
    """One catch-up of the index with its folder."""

    seen: tuple[str, ...]  # what the watcher saw change (root-relative); empty for a full look
    report: IndexReport
    first: bool = False  # the run a watch starts with


class SharedEmbedders:
    """An embedder factory that loads each model once and hands the same embedder to
    every caller after (indexing runs and queries alike), from any thread."""

    def __init__(self, base: EmbedderFactory | None = None, device: str | None = None,
                 batch_size: int | None = None) -> None:
        self._base = base or default_factory(device, batch_size or defaults.BATCH_SIZE)
        self._made: dict[tuple[str, str], Embedder] = {}
        self._lock = threading.Lock()

    def __call__(self, ref: ModelRef, backend: str) -> Embedder:
        with self._lock:
            key = (ref.model_id, backend)
            if key not in self._made:
                self._made[key] = self._base(ref, backend)
            return self._made[key]


class Watcher:
    """Watches ``root`` and keeps ``root/.semsearch`` up to date.

    Args:
        root: the folder of text files.
        on_update: called after every catch-up that changed the index (and the first).
        on_wait: called when another process holds the index; the run is tried again.
        embedder_factory: makes the embedder (tests pass a fake); it is loaded once.
        step_ms: a burst of changes is over when nothing changed for this long.
        debounce_ms: a long burst is still caught up with at least this often.
        retry_s: how soon a run that found the index busy is tried again.
        force_polling: poll the folder instead of using the OS's notifications.
        flags: settings for every run (see :func:`sync`).
    """

    def __init__(
        self,
        root: Path | str,
        *,
        on_update: Callable[[Update], None] | None = None,
        on_wait: Callable[[IndexLockedError], None] | None = None,
        embedder_factory: EmbedderFactory | None = None,
        step_ms: int = 100,
        debounce_ms: int = 1600,
        retry_s: float = 2.0,
        force_polling: bool | None = None,
        **flags: Any,
    ) -> None:
        self.root = check_folder(Path(root))
        self.flags = flags
        self.embedders = SharedEmbedders(embedder_factory, flags.get("device"), flags.get("batch_size"))
        self._on_update = on_update or (lambda _u: None)
        self._on_wait = on_wait or (lambda _e: None)
        self._step_ms, self._debounce_ms, self._retry_s = step_ms, debounce_ms, retry_s
        self._force_polling = force_polling

    def sync(self, seen: tuple[str, ...] = (), first: bool = False) -> Update:
        """Bring the index up to date now, with the warm model."""
        report = sync(self.root, embedder_factory=self.embedders, **self.flags)
        return Update(seen, report, first)

    def run(self, stop: threading.Event | None = None) -> None:
        """Index, then watch until ``stop`` is set (or Ctrl-C, as KeyboardInterrupt).
        ``on_update`` hears of the first run whatever it did: from then on, every change is caught.

        Raises:
            SemsearchError: a run failed for a reason other than a busy index.
        """
        import watchfiles

        # Once more when the watch has started: a change made between the first run and
        # the start of the watch is not missed. A run the busy index put off is tried again.
        self._catch_up((), first=True)
        behind = True
        pending: set[str] = set()
        watch = watchfiles.watch(
            self.root, watch_filter=self.relevant, debounce=self._debounce_ms, step=self._step_ms,
            stop_event=stop, rust_timeout=int(self._retry_s * 1000), yield_on_timeout=True,
            force_polling=self._force_polling, ignore_permission_denied=True,
        )
        try:
            for changes in watch:
                pending |= {self._relative(path) for _, path in changes}
                if pending or behind:
                    behind = not self._catch_up(tuple(sorted(pending)))
                    if not behind:
                        pending.clear()
        except OSError as exc:  # e.g. the OS's limit on watched folders
            raise SemsearchError(
                f"cannot watch {self.root} ({exc}); raise the limit (Linux: sysctl fs.inotify.max_user_watches) "
                "or use --poll"
            ) from exc

    def _catch_up(self, seen: tuple[str, ...], first: bool = False) -> bool:
        """One run; False if another process held the index (to be tried again)."""
        try:
            update = self.sync(seen, first)
        except IndexLockedError as exc:
            self._on_wait(exc)
            return False
        if first or update.report.changed:
            self._on_update(update)
        return True

    def relevant(self, _change: object, path: str) -> bool:
        """Whether a change at ``path`` may change the index: not in a hidden folder (the
        index's own folder is one), and not a hidden file other than an ignore file."""
        rel = self._relative(path)
        if rel in ("", "."):
            return False
        parts = rel.split("/")
        if any(part.startswith(".") for part in parts[:-1]) or parts[0] == defaults.INDEX_DIR_NAME:
            return False
        return not parts[-1].startswith(".") or parts[-1] in IGNORE_FILES

    def _relative(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")

