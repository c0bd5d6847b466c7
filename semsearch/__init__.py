"""semsearch: local semantic search over a folder of text files."""

from __future__ import annotations

from .errors import SemsearchError
from .index import Index
from .indexing import sync
from .records import Hit, IndexInfo, IndexReport, Progress, Skipped
from .settings import Settings

__version__ = "0.1.0"

__all__ = ["Hit", "Index", "IndexInfo", "IndexReport", "Progress", "SemsearchError", "Settings", "Skipped", "sync",
           "__version__"]
