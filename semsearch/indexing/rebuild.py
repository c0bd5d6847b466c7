"""``--rebuild``'s working folder: the new index is built in ``.semsearch.building``, beside
the live one, and swapped in when complete. A rebuild that was killed or interrupted keeps
what it committed there, marked as a rebuild in progress; the next ``--rebuild`` with the
same settings resumes it (re-embedding at most one batch), one with other settings starts
it afresh. A folder that is not a rebuild in progress (the old index a swap left behind)
is removed by the next run. Nothing here deletes what semsearch did not make.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from ..defaults import LOCK_NAME
from ..errors import CorruptIndexError, NewerIndexError, SemsearchError
from ..settings import Settings, diff
from ..storage import (
    LocalStore,
    check_index_location,
    index_state,
    not_ours,
    stray_entries,
)

log = logging.getLogger(__name__)

REBUILDING = "rebuilding"  # meta key of a catalog that is a rebuild in progress


def _check_ours(folder: Path) -> None:
    check_index_location(folder)  # its catalog is opened by name: never through a link
    strays = stray_entries(folder)
    if strays:
        raise CorruptIndexError(not_ours(folder, strays))


def _in_progress(folder: Path, settings: Settings | None = None) -> LocalStore | None:
    """The rebuild in progress in ``folder`` (with these shaping settings, if given), open; else None."""
    if index_state(folder) != "present":
        return None
    try:
        store = LocalStore.open(folder)
    except SemsearchError:
        return None
    if store.catalog.note(REBUILDING) == "1" and (settings is None or not diff(settings, store.catalog.settings)):
        return store
    store.close()
    return None


def _clear(folder: Path) -> None:
    """Empty ``folder`` (checked to hold only semsearch's files), keeping its lock."""
    for name in os.listdir(folder):
        if name != LOCK_NAME:
            (folder / name).unlink(missing_ok=True)


def open_building(folder: Path, settings: Settings) -> tuple[LocalStore, int]:
    """The index to build into ``folder`` (whose lock the caller holds): the rebuild in
    progress there if it has these settings, resumed, else a new one. Returns it and how
    many files it already holds.

    Raises:
        CorruptIndexError: ``folder`` holds files semsearch did not make.
        UnsafeFolderError: it, or its catalog, is a link or someone else's.
    """
    _check_ours(folder)
    store = _in_progress(folder, settings)
    if store is not None:
        done = store.catalog.count_files()
        log.warning("resuming the rebuild an interrupted run left in %s (%d files already done)", folder, done)
        if settings.recorded() != store.catalog.settings.recorded():  # filters changed since
            with store.catalog.transaction():
                store.catalog.set_settings(settings)
        return store, done
    _clear(folder)
    store = LocalStore.create(folder, settings)
    with store.catalog.transaction():
        store.catalog.set_meta(REBUILDING, "1")
    return store, 0


def seal(store: LocalStore) -> None:
    """The rebuild is complete: it is an index like any other from now on."""
    with store.catalog.transaction():
        store.catalog.set_meta(REBUILDING, None)


def discard_leftover(folder: Path) -> None:
    """Remove ``folder`` unless it is a rebuild in progress (to be resumed) or not ours."""
    if not os.path.lexists(folder):
        return
    try:
        _check_ours(folder)
    except SemsearchError:
        return  # not ours to delete; --rebuild will say what it is
    store = _in_progress(folder)
    if store is not None:
        store.close()
        return
    shutil.rmtree(folder, ignore_errors=True)


def discard_if_empty(folder: Path) -> None:
    """Remove ``folder`` if the rebuild in it committed no file (nothing to resume)."""
    store = _in_progress(folder)
    if store is None:
        return
    with store:
        empty = store.catalog.count_files() == 0
    if empty:
        shutil.rmtree(folder, ignore_errors=True)


def check_replaceable(index_dir: Path) -> None:
    """Raise unless ``--rebuild`` may replace ``index_dir`` (and so delete what it holds).

    Raises:
        CorruptIndexError: it holds files semsearch did not make.
        NewerIndexError: a newer semsearch made it.
    """
    strays = stray_entries(index_dir)
    if strays:
        raise CorruptIndexError(not_ours(index_dir, strays))
    readable_settings(index_dir)


def readable_settings(index_dir: Path) -> Settings | None:
    """The settings of the index being replaced, if it can still be read."""
    try:
        with LocalStore.open(index_dir) as store:
            return store.catalog.settings
    except NewerIndexError:
        raise
    except SemsearchError:
        return None
