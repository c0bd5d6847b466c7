"""Where an index lives: the storage protocols and the local (folder) implementation."""

from __future__ import annotations

from . import codec
from .base import Catalog, FileRecord, LexicalPass, NewPassage, PassageRecord, VectorIndex
from .catalog import SqliteCatalog
from .layout import (
                     building_dir,
                     enclosing_root,
                     exchange_folders,
                     find_index_dir,
                     finish_swap,
                     index_state,
                     stray_entries,
                     swap_dir,
                     writer_lock,
)
from .local import LocalStore
from .safety import check_index_location, open_private, private_dir
from .shapes import check_vector_index
from .space import disk_full_is_reported
from .sqlite import damaged_catalog_is_reported, fts_query, not_ours
from .upgrade import upgrade

__all__ = [
    "Catalog", "FileRecord", "LexicalPass", "LocalStore", "NewPassage", "PassageRecord", "SqliteCatalog", "VectorIndex",
    "building_dir", "check_index_location", "check_vector_index", "codec", "damaged_catalog_is_reported",
    "disk_full_is_reported", "enclosing_root", "exchange_folders", "find_index_dir", "finish_swap", "fts_query",
    "index_state", "not_ours", "open_private", "private_dir", "stray_entries", "swap_dir", "upgrade", "writer_lock",
]
