"""SQLite details of the catalog: its schema, the FTS5 query language, and what SQLite's
errors on a damaged file mean to the user."""

from __future__ import annotations

import math
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..defaults import CATALOG_NAME, SCHEMA_VERSION
from ..errors import CorruptIndexError, IndexUnreadableError, NewerIndexError
from .base import FileRecord, PassageRecord
from .layout import stray_entries

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: vector files know files by id
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL,
    skipped TEXT,  -- why the file is not indexed (binary, too large...), else NULL
    centroid BLOB  -- the mean of its passages' vectors, in the catalog's codec (storage/codec.py)
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: vector files know passages by id
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL  -- int8 codes and their scale (storage/codec.py); float32 in schema 2; x'' until embedded
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
-- The change journal: every passage and file vector inserted or deleted, with the
-- generation it was made at (the one before its commit), in the same transaction, so a
-- vector file stamped with an older generation catches up by reading only what changed.
CREATE TABLE changes (generation INTEGER NOT NULL, kind INTEGER NOT NULL, id INTEGER NOT NULL);
CREATE INDEX changes_generation ON changes(generation);
CREATE TRIGGER chunks_changes_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO changes SELECT CAST(value AS INTEGER), 0, new.id FROM meta WHERE key = 'generation';
END;
CREATE TRIGGER chunks_changes_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO changes SELECT CAST(value AS INTEGER), 0, old.id FROM meta WHERE key = 'generation';
END;
CREATE TRIGGER files_changes_insert AFTER INSERT ON files WHEN new.centroid IS NOT NULL BEGIN
    INSERT INTO changes SELECT CAST(value AS INTEGER), 1, new.id FROM meta WHERE key = 'generation';
END;
CREATE TRIGGER files_changes_delete AFTER DELETE ON files WHEN old.centroid IS NOT NULL BEGIN
    INSERT INTO changes SELECT CAST(value AS INTEGER), 1, old.id FROM meta WHERE key = 'generation';
END;
CREATE TRIGGER files_changes_update AFTER UPDATE OF centroid ON files BEGIN
    INSERT INTO changes SELECT CAST(value AS INTEGER), 1, new.id FROM meta WHERE key = 'generation';
END;
"""

# Schema 4 (progressive indexing): a passage is committed with its text and an empty
# vector, which embedding fills in later; the unembedded are found through a partial
# index, and filling one in is journaled like an insert (a vector file takes it in).
PROGRESSIVE_STATEMENTS = (
    "CREATE INDEX IF NOT EXISTS chunks_unembedded ON chunks(id) WHERE vector = x''",
    "CREATE TRIGGER IF NOT EXISTS chunks_changes_vector AFTER UPDATE OF vector ON chunks BEGIN "
    "INSERT INTO changes SELECT CAST(value AS INTEGER), 0, new.id FROM meta WHERE key = 'generation'; END",
)
PROGRESSIVE_SCHEMA = "".join(f"{statement};\n" for statement in PROGRESSIVE_STATEMENTS)


FILE_COLUMNS = "id, path, size, mtime_ns, digest, skipped"  # in FileRecord's field order
_WORD = re.compile(r"\w+")
# FTS5 parses a long OR chain recursively, and each word's postings cost a pass: a long
# query is asked with its most informative words only (the highest IDF, storage/lexical.py;
# chosen on SciFact train, BENCHMARKS.md "Long queries"). Words past MAX_TEXT_WORDS distinct
# ones are not read at all (a pasted book).
MAX_QUERY_WORDS = 32
MAX_TEXT_WORDS = 1000


def query_words(text: str) -> list[str]:
    """Each distinct word of any text, lower-cased, in order (``\\w`` only: no quote,
    operator or backslash), the first :data:`MAX_TEXT_WORDS` of them."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))[:MAX_TEXT_WORDS]


def fts_terms(text: str) -> list[str]:
    """The FTS5 phrases of any text: each distinct word, quoted (so ``AND``, ``*``, ``-``
    or ``"`` are plain text), the first :data:`MAX_QUERY_WORDS`."""
    return [f'"{w}"' for w in query_words(text)][:MAX_QUERY_WORDS]


def fts_query(text: str) -> str | None:
    """Any text as a valid FTS5 query: any of its :func:`fts_terms` may match. None if
    there is no word."""
    return " OR ".join(fts_terms(text)) or None


# FTS5's bm25() constants (its defaults: SQLite does not let a query change them).
BM25_K1, BM25_B = 1.2, 0.75


def idf(passages: int, held: int) -> float:
    """A phrase's IDF as FTS5 computes it (floored at 1e-6) for a phrase ``held`` by that
    many of ``passages``."""
    return max(math.log((passages - held + 0.5) / (held + 0.5)), 1e-6)


def bm25_ceiling(passages: int, holding: Iterable[int]) -> float:
    """The largest BM25 FTS5 can give any passage for a query whose phrases are held by
    ``holding`` passages each, of ``passages``: each phrase's IDF (as FTS5 computes it)
    times ``k1 + 1``, the limit of its term-frequency factor, summed. A passage's BM25
    over this is the share of the query's lexical evidence it holds, on the same 0..1
    scale in a six-note folder as in a corpus of millions."""
    return sum(idf(passages, n) * (BM25_K1 + 1) for n in holding)


def informative(words: Sequence[str], held: dict[str, int]) -> list[str]:
    """The words worth asking the lexical index for: those some passage holds, at most
    :data:`MAX_QUERY_WORDS` of them, the highest IDF (the fewest holders) kept; in order."""
    found = [w for w in words if held.get(w, 0) > 0]
    if len(found) <= MAX_QUERY_WORDS:
        return found
    kept = set(sorted(found, key=held.__getitem__)[:MAX_QUERY_WORDS])  # a stable sort: ties by order
    return [w for w in found if w in kept]


def name_param(path: str) -> str | bytes:
    """A file name as the catalog stores it: as text, or, for a name whose bytes are not
    UTF-8 (held in Python as surrogate escapes, which SQLite's TEXT cannot hold), as those
    exact bytes in a BLOB. SQLite keeps a BLOB as a BLOB in a TEXT column, so both kinds
    share the ``path`` column and no name is ever changed or merged with another."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def name_value(value: Any) -> str:
    """The inverse of :func:`name_param`.

    Raises:
        TypeError: the stored value is not a name (a hand-edited catalog).
    """
    if isinstance(value, bytes):
        return os.fsdecode(value)
    if not isinstance(value, str):
        raise TypeError(f"a file name is stored as {type(value).__name__} {value!r}")
    return value


def checked_row(row: Sequence[Any], kinds: Sequence[type | tuple[type, ...]], names: Sequence[str]) -> tuple[Any, ...]:
    """``row`` with each value of the kind the schema promises (SQLite itself stores any
    value in any column: a hand-edited catalog may hold text where a number belongs).

    Raises:
        TypeError: a value of another kind.
    """
    for value, kind, name in zip(row, kinds, names, strict=False):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TypeError(f"{name} is {type(value).__name__} {str(value)[:40]!r}")
    return tuple(row)


def check_readable(index_dir: Path) -> None:
    """Raise unless the user may read the index folder and its catalog: a reader without
    permission is told so, never that the index needs rebuilding.

    Raises:
        IndexUnreadableError: permission denied.
    """
    catalog = index_dir / CATALOG_NAME
    try:
        os.listdir(index_dir)
        if os.path.isfile(catalog):
            os.close(os.open(catalog, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
    except FileNotFoundError:
        return
    except PermissionError as exc:
        raise IndexUnreadableError(
            f"cannot read {exc.filename or index_dir} "
            f"({exc.strerror.lower() if exc.strerror else 'permission denied'}); "
            f"ask its owner for read access (e.g. `chmod -R a+rX {index_dir}`), or run this as its owner"
        ) from None


def schema_error(index_dir: Path, found: str | None) -> CorruptIndexError:
    """The error for a catalog of another schema version than this semsearch reads: an
    older one is rebuilt; a newer one is never touched."""
    if found is not None and found.isdigit() and int(found) > SCHEMA_VERSION:
        return NewerIndexError(
            f"the index at {index_dir} was made by a newer semsearch (schema {found}; this one reads "
            f"{SCHEMA_VERSION}): upgrade semsearch to use it (this version will not change or rebuild it)"
        )
    return CorruptIndexError(f"index at {index_dir} has schema version {found or 'none'}, this semsearch reads "
                             f"{SCHEMA_VERSION}; {rebuild_hint(index_dir)}")


_FILE_KINDS = (int, (str, bytes), int, int, str, (str, type(None)))
_PASSAGE_KINDS = (int, (str, bytes), int, int, int, str)
_PASSAGE_COLUMNS = ("id", "path", "ordinal", "start_line", "end_line", "text")


def file_record(row: Sequence[Any]) -> FileRecord:
    """A ``files`` row (:data:`FILE_COLUMNS`) as a record, its name decoded.

    Raises:
        TypeError: a value of another kind than the schema's (a hand-edited catalog).
    """
    values = checked_row(row, _FILE_KINDS, FILE_COLUMNS.split(", "))
    return FileRecord(values[0], name_value(values[1]), *values[2:])


def passage_record(row: Sequence[Any]) -> PassageRecord:
    """A passage row (:data:`_PASSAGE_COLUMNS`) as a record, its file's name decoded.

    Raises:
        TypeError: a value of another kind than the schema's.
    """
    values = checked_row(row, _PASSAGE_KINDS, _PASSAGE_COLUMNS)
    return PassageRecord(values[0], name_value(values[1]), *values[2:])


def rebuild_hint(index_dir: Path) -> str:
    """What to do about an index that cannot be used: rebuild it, if the folder is
    recognisably semsearch's; else (it holds files semsearch did not make) move it away,
    since a rebuild replaces the folder and everything in it."""
    strays = stray_entries(index_dir)
    if not strays:
        return f"rebuild it with `semsearch index {index_dir.parent} --rebuild`"
    return not_ours(index_dir, strays)


def not_ours(index_dir: Path, strays: Sequence[str]) -> str:
    shown = ", ".join(strays[:3]) + (f" and {len(strays) - 3} more" if len(strays) > 3 else "")
    return (f"{index_dir} also holds files semsearch did not make ({shown}), so semsearch will not replace or "
            f"delete it: move it away (e.g. `mv {index_dir} {index_dir}.old`), then run `semsearch index "
            f"{index_dir.parent}`")


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
