"""SQLite details of the catalog: its schema, the FTS5 query language, and what SQLite's
errors on a damaged file mean to the user."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..defaults import CATALOG_NAME
from ..errors import CorruptIndexError

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL,
    skipped TEXT,  -- why the file is not indexed (binary, too large...), else NULL
    centroid BLOB
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX chunks_file ON chunks(file_id);
-- Lexical search: an external-content FTS5 index over the passage text, kept in step
-- by triggers, so every write path (put, delete, cascade) updates it in the same
-- transaction as the passages themselves. Porter stemming: "rotating" finds "rotate".
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""


FILE_COLUMNS = "id, path, size, mtime_ns, digest, skipped"  # in FileRecord's field order
_WORD = re.compile(r"\w+")
# FTS5 parses a long OR chain recursively; a query's first words are plenty to rank by.
MAX_QUERY_WORDS = 64

def fts_query(text: str) -> str | None:
    """Any text as a valid FTS5 query: each distinct word quoted (so ``AND``, ``*``, ``-``
    or ``"`` are plain text), any of them may match. None if there is no word."""
    unique = list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))[:MAX_QUERY_WORDS]
    return " OR ".join(f'"{w}"' for w in unique) or None  # a word never holds a quote


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with `semsearch index {index_dir.parent} --rebuild`"


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in text or "not a database" in text


@contextmanager
def damaged_catalog_is_reported(index_dir: Path) -> Iterator[None]:
    """Turn SQLite's errors on a damaged catalog (met while reading it, not only at open)
    into :class:`CorruptIndexError`, whose message names the fix."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if not _is_corruption(exc):
            raise
        raise CorruptIndexError(
            f"index catalog {index_dir / CATALOG_NAME} is damaged ({exc}); {rebuild_hint(index_dir)}"
        ) from exc
