"""Where an index lives: the storage protocols and the local (folder) implementation."""

from __future__ import annotations

from .base import Catalog, FileRecord, NewPassage, PassageRecord, VectorIndex
from .catalog import SqliteCatalog
from .layout import building_dir, exchange_folders, find_index_dir, index_state, writer_lock
from .local import LocalStore
from .safety import check_index_location, open_private, private_dir
from .sqlite import damaged_catalog_is_reported, fts_query

__all__ = [
    "Catalog", "FileRecord", "LocalStore", "NewPassage", "PassageRecord", "SqliteCatalog", "VectorIndex",
    "building_dir", "check_index_location", "damaged_catalog_is_reported", "exchange_folders", "find_index_dir",
    "fts_query", "index_state", "open_private", "private_dir", "writer_lock",
]
