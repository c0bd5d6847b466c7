"""``sync`` into a shared store (PostgreSQL): the same run as the local one (:mod:`.lifecycle`:
settings resolved once, the same plan and writer, one transaction per batch), into a
collection of the store instead of ``root/.semsearch``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..embedders import EmbedderFactory
from ..errors import BadInputError
from ..records import IndexReport
from ..settings import diff
from .changes import plan
from .filters import Confirm
from .lifecycle import _check_flags, check_folder
from .steps import Run
from .writer import ProgressCallback


def sync_shared(
    root: Path | str,
    store: str,
    *,
    collection: str | None = None,
    rebuild: bool = False,
    on_progress: ProgressCallback | None = None,
    embedder_factory: EmbedderFactory | None = None,
    confirm: Confirm | None = None,
    **flags: Any,
) -> IndexReport:
    """Create or update collection ``collection`` (default: named after ``root``) of the
    store at ``store`` (a ``postgresql://`` URL) with the files of ``root``; see
    :func:`semsearch.sync` for the rest.

    Raises:
        BadInputError (also: the collection indexes another folder), IndexLockedError (another
        writer on this collection), SemsearchError (the server failed; what was committed stays).
    """
    from ..storage.postgres_schema import server_errors_are_reported
    from ..storage.postgres_store import BUILDING, check_collection_name, collection_for, writing

    started = time.perf_counter()
    root = check_folder(Path(root))
    _check_flags(flags)
    if flags.get("vector_index") not in (None, "auto"):
        raise BadInputError(f"--vector-index {flags['vector_index']} is for an index in a folder; a shared store "
                            "searches with pgvector (exact, HNSW once a collection is large): leave it out")
    name = check_collection_name(collection) if collection is not None else collection_for(root)
    run = Run(root, flags, on_progress, embedder_factory, started, "", confirm)
    with server_errors_are_reported(store), writing(store, name) as session:
        live = session.find(name)
        if live is not None and live.root != root and not rebuild:
            raise BadInputError(f"collection {name} in {session.where} is the index of {live.root}, not {root}; "
                                f"give another --collection, or add --rebuild to make it the index of {root}")
        if live is not None and not rebuild:
            with session.store(live) as current:
                return run.update(current)
        settings, work, embedder = run.new_index(live.settings if live is not None else None)
        target = name + BUILDING if live is not None else name
        building = session.find(target)
        if building is not None and (building.root != root or diff(settings, building.settings)):
            session.drop(target)  # a rebuild with other settings, or of another folder: start afresh
            building = None
        if building is None:
            building = session.create(target, root, settings)
        with session.store(building) as new:
            work = plan(root, new.catalog.files(), settings.include, settings.exclude, settings.max_file_size,
                        settings.follow_symlinks) if new.catalog.count_files() else work
            try:
                report = run.fill(new, work, embedder, settings)
            except BaseException:
                if live is None and not new.catalog.count_files():
                    session.drop(target)  # leave no empty collection behind a failed first run
                raise
        if live is not None:
            session.swap_in(target)
        return report
