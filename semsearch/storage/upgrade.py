"""Bring an index made by an older semsearch (schema 2 or 3) to this one's, without re-embedding.

Schema 3 differs only by what progressive indexing adds (an index and a trigger): it is
upgraded in place, in one transaction.

Schema 2 stored each vector twice at float32 (catalog and ``vectors.faiss``). The upgrade
copies the catalog into a new one beside the live index (in the folder ``--rebuild``
uses), re-encoding every vector to int8 codes (:mod:`.codec`), builds the vector
indexes from them, and swaps the new index in, as ``--rebuild`` does: until the swap,
an interrupted upgrade leaves the old index answering, and the next run starts over.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from ..defaults import CATALOG_NAME, SCHEMA_VERSION
from . import codec
from .catalog import SqliteCatalog
from .layout import exchange_folders, writer_lock
from .local import LocalStore
from .sqlite import PROGRESSIVE_STATEMENTS

log = logging.getLogger(__name__)


def upgrade(index_dir: Path, building: Path) -> bool:
    """Upgrade the index in ``index_dir`` if it is of an older schema (the caller holds
    its writer lock); True if it did.

    Raises:
        CorruptIndexError: the old catalog is unreadable.
    """
    with SqliteCatalog.open(index_dir) as old:
        if old.schema >= SCHEMA_VERSION:
            return False
        if old.schema == 3:  # schema 4 adds an index and a trigger: in place, in one transaction
            old._maintain([*((statement, ()) for statement in PROGRESSIVE_STATEMENTS),
                           ("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))])
            return True
        settings, created = old.settings, old.created
    try:
        with writer_lock(building):  # held too, so that once swapped in it is still ours
            with LocalStore.create(building, settings) as store:
                _copy(index_dir / CATALOG_NAME, store.catalog, created)
                store.write_vectors()
            exchange_folders(index_dir, building)
    finally:
        shutil.rmtree(building, ignore_errors=True)  # the old index, or the unfinished new one
    log.warning("upgraded the index in %s to this semsearch's format (schema %d: vectors a quarter of the size), "
                "without re-embedding", index_dir, SCHEMA_VERSION)
    return True


def _recode(blob: bytes | None) -> bytes | None:
    return None if blob is None else codec.encode(np.frombuffer(blob, "<f4"))[0]


def _copy(old: Path, catalog: SqliteCatalog, created: float) -> None:
    """Every file and passage (and passage kept for reuse) of the schema 2 catalog ``old``,
    vectors re-encoded."""
    conn = catalog._conn  # the store's own catalog, in the same package
    conn.create_function("semsearch_recode", 1, _recode, deterministic=True)
    conn.execute("ATTACH DATABASE ? AS old", (str(old),))
    try:
        with catalog.transaction():
            conn.execute("INSERT INTO files (id, path, size, mtime_ns, digest, skipped, centroid) "
                         "SELECT id, path, size, mtime_ns, digest, skipped, semsearch_recode(centroid) "
                         "FROM old.files ORDER BY id")
            conn.execute("INSERT INTO chunks (id, file_id, ordinal, start_line, end_line, text, vector) "
                         "SELECT id, file_id, ordinal, start_line, end_line, text, semsearch_recode(vector) "
                         "FROM old.chunks ORDER BY id")
            if conn.execute("SELECT 1 FROM old.sqlite_master WHERE type = 'table' AND name = 'retired'").fetchone():
                conn.execute("INSERT INTO retired (id, digest, ordinal, start_line, end_line, text, vector, retired) "
                             "SELECT id, digest, ordinal, start_line, end_line, text, "
                             "semsearch_recode(vector), retired "
                             "FROM old.retired")
            conn.execute("UPDATE meta SET value = ? WHERE key = 'created'", (str(created),))
    finally:
        conn.execute("DETACH DATABASE old")
