"""semsearch: local semantic search over a folder of text files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_names

if TYPE_CHECKING:
    from .errors import SemsearchError
    from .index import Index
    from .indexing import sync
    from .records import Hit, IndexInfo, IndexReport, Progress, Skipped
    from .settings import Settings

__version__ = "0.1.0"

__all__ = ["Hit", "Index", "IndexInfo", "IndexReport", "Progress", "SemsearchError", "Settings", "Skipped", "sync",
           "__version__"]

# Where each public name lives. They are imported when first used, so that a command that
# needs none of them (``semsearch query`` answered by a running server) starts fast.
_HOMES = {"SemsearchError": ".errors", "Index": ".index", "sync": ".indexing", "Hit": ".records",
          "IndexInfo": ".records", "IndexReport": ".records", "Progress": ".records", "Skipped": ".records",
          "Settings": ".settings"}

__getattr__ = lazy_names(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
