"""semsearch: local semantic search over a folder of text files."""

from __future__ import annotations

from .api import Index, IndexInfo
from .errors import SemsearchError
from .indexer import IndexReport, Progress, sync
from .search import Hit

__version__ = "0.1.0"

__all__ = ["Hit", "Index", "IndexInfo", "IndexReport", "Progress", "SemsearchError", "sync", "__version__"]
