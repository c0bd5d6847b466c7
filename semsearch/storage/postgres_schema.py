"""PostgreSQL details of the shared store: connecting (psycopg, imported only here), the
schema, the per-collection writer lock, and keeping a password out of every message.

One set of tables holds every collection (a ``collection`` column); each collection has
its own settings, so its own model and dimension: the ``embedding`` column has no fixed
dimension, and a collection large enough for approximate search gets its own partial
HNSW index over ``embedding::vector(dim)`` (see :func:`hnsw_index_sql`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ..errors import BadInputError, IndexLockedError, SemsearchError

SCHEMES = ("postgresql://", "postgres://")
INSTALL = "run `pip install 'semsearch[postgres]'`"
SCHEMA_LOCK = 0x5E45  # pg_advisory_xact_lock key while creating the tables
# A collection this large (passages) gets an HNSW index; below it, search is exact.
HNSW_MIN_PASSAGES = 20_000
HNSW_EF_SEARCH_MAX = 1000  # pgvector's limit for hnsw.ef_search

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS semsearch_collections (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    root text NOT NULL,
    settings jsonb NOT NULL,
    generation bigint NOT NULL DEFAULT 0,
    created double precision NOT NULL,
    updated double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS semsearch_files (
    id bigserial PRIMARY KEY,
    collection integer NOT NULL REFERENCES semsearch_collections(id) ON DELETE CASCADE,
    path bytea NOT NULL,  -- the name's bytes: any name a file system allows
    size bigint NOT NULL,
    mtime_ns bigint NOT NULL,
    digest text NOT NULL,
    skipped text,
    centroid vector,
    UNIQUE (collection, path)
);
CREATE INDEX IF NOT EXISTS semsearch_files_digest ON semsearch_files (collection, digest);
CREATE TABLE IF NOT EXISTS semsearch_passages (
    id bigserial PRIMARY KEY,
    collection integer NOT NULL,
    file_id bigint NOT NULL REFERENCES semsearch_files(id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    start_line integer NOT NULL,
    end_line integer NOT NULL,
    text text NOT NULL,
    embedding vector NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX IF NOT EXISTS semsearch_passages_file ON semsearch_passages (file_id);
CREATE INDEX IF NOT EXISTS semsearch_passages_collection ON semsearch_passages (collection, id);
CREATE INDEX IF NOT EXISTS semsearch_passages_tsv ON semsearch_passages USING gin (tsv);
CREATE TABLE IF NOT EXISTS semsearch_retired (
    id bigserial PRIMARY KEY,
    collection integer NOT NULL REFERENCES semsearch_collections(id) ON DELETE CASCADE,
    digest text NOT NULL,
    ordinal integer NOT NULL,
    start_line integer NOT NULL,
    end_line integer NOT NULL,
    text text NOT NULL,
    embedding vector NOT NULL,
    retired double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS semsearch_retired_digest ON semsearch_retired (collection, digest);
"""


def is_store_url(value: str | None) -> bool:
    """Whether ``value`` names a PostgreSQL store (else the local folder index is used)."""
    return bool(value) and str(value).startswith(SCHEMES)


def mask(url: str) -> str:
    """``url`` with its password (in the netloc or a ``password=`` parameter) as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://***"
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(message: str, url: str) -> str:
    """A server's or driver's message with the URL's password (if any) masked wherever it appears."""
    secrets = []
    try:
        parts = urlsplit(url)
        if parts.password:
            secrets.append(parts.password)
        secrets += re.findall(r"(?i)password=([^&]+)", parts.query)
    except ValueError:
        pass
    message = message.replace(url, mask(url))
    for secret in secrets:
        message = message.replace(secret, "***")
    return " ".join(message.split())  # one line


def import_psycopg() -> Any:
    """psycopg, or a one-line error saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise BadInputError(f"a postgresql:// store needs psycopg: {INSTALL}") from None
    return psycopg


def connect(url: str, *, snapshot: bool = False) -> Any:
    """A connection to the store at ``url`` (libpq conventions: ``PGHOST``, ``PGPASSWORD``,
    ``~/.pgpass``, service files, ``sslmode``). A ``snapshot`` connection reads one committed
    state (REPEATABLE READ) until it is rolled back; any other commits each statement itself.

    Raises:
        SemsearchError: the server cannot be reached or refused us (the message never holds the password).
    """
    psycopg = import_psycopg()
    try:
        conn = psycopg.connect(url, autocommit=not snapshot, connect_timeout=15,
                               application_name="semsearch")
    except psycopg.Error as exc:
        raise SemsearchError(f"cannot connect to {mask(url)}: {scrub(str(exc), url)}; check the URL, that the "
                             "server runs, and the user's password (PGPASSWORD or ~/.pgpass)") from None
    if snapshot:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
    return conn


def register_vectors(conn: Any) -> None:
    """Let ``conn`` send and receive numpy vectors (the extension must exist)."""
    try:
        from pgvector.psycopg import register_vector
    except ImportError:
        raise BadInputError(f"a postgresql:// store needs pgvector's adapter: {INSTALL}") from None

    register_vector(conn)


def vector_value(value: Any) -> np.ndarray:
    """A vector as the server sent it (pgvector's ``Vector``), as float32 numbers."""
    array = value.to_numpy() if hasattr(value, "to_numpy") else value
    return np.asarray(array, dtype=np.float32)


def create_schema(conn: Any) -> None:
    """Make the tables if the database has none yet (writers; concurrent first runs wait for each other)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(SCHEMA)


def has_schema(conn: Any) -> bool:
    row = conn.execute("SELECT to_regclass('semsearch_collections') IS NOT NULL").fetchone()
    return bool(row[0])


def hnsw_index_sql(collection: int, dimension: int) -> str:
    """The statement that makes a collection's HNSW index (cosine), without blocking other writers."""
    cid = int(collection)
    return (f"CREATE INDEX CONCURRENTLY IF NOT EXISTS semsearch_hnsw_{cid} ON semsearch_passages "
            f"USING hnsw ((embedding::vector({int(dimension)})) vector_cosine_ops) WHERE collection = {cid}")


def has_hnsw(conn: Any, collection: int) -> bool | None:
    """True if the collection's HNSW index is ready, None if a failed build left it invalid, else False."""
    row = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                       (f"semsearch_hnsw_{int(collection)}",)).fetchone()
    return None if row is not None and not row[0] else row is not None


@contextmanager
def collection_lock(conn: Any, name: str, where: str) -> Iterator[None]:
    """Hold the writer lock of collection ``name`` (a session advisory lock: the server
    releases it when the session ends, even if the writer is killed).

    Raises:
        IndexLockedError: another writer holds it.
    """
    key = f"semsearch:{name}"
    row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()
    if not row[0]:
        raise IndexLockedError(f"another index is running on collection {name} in {where}; "
                               "wait for it to finish, then run this again")
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))


@contextmanager
def server_errors_are_reported(url: str) -> Iterator[None]:
    """The server's and driver's errors met mid-run (a restart, a lost connection, a missing
    permission) as one line without the password, naming the server."""
    try:
        yield
    except SemsearchError:
        raise
    except Exception as exc:
        if not type(exc).__module__.startswith("psycopg"):
            raise
        raise SemsearchError(f"the store at {mask(url)} failed: {scrub(str(exc), url)}; what was committed is "
                             "kept, run the command again (check the server and the user's permissions)") from None


# Lexical ranking: BM25 (k1 1.2, b 0.75, as SQLite FTS5's bm25()) computed from the passages'
# tsvectors, since PostgreSQL's own ts_rank_cd ranks any-word queries much worse (BENCHMARKS.md).
# A passage's length is its count of distinct lexemes (stop words are not in a tsvector);
# document frequencies are counted per query through the GIN index. As on the local store
# (:func:`.sqlite.informative`), a long query asks only for its ``{kept}`` rarest lexemes
# that some passage holds. Parameters: the query's words (space-separated, \w only), the
# collection ids (three times), then the limit; ``{only}`` is empty or a filter on ``p.id``.
BM25_SQL = """
WITH terms AS (SELECT DISTINCT u.lexeme FROM unnest(to_tsvector('english', %s)) u),
stats AS (SELECT count(*)::float8 AS n, greatest(avg(length(tsv)), 1)::float8 AS avgdl
          FROM semsearch_passages WHERE collection = ANY(%s)),
held AS (SELECT t.lexeme, d.df FROM terms t
         CROSS JOIN LATERAL (SELECT count(*)::float8 AS df FROM semsearch_passages p
                             WHERE p.collection = ANY(%s) AND p.tsv @@ quote_literal(t.lexeme)::tsquery) d
         WHERE d.df > 0 ORDER BY d.df, t.lexeme LIMIT {kept}),
idf AS (SELECT h.lexeme, greatest(ln((s.n - h.df + 0.5) / (h.df + 0.5)), 1e-6) AS w FROM held h CROSS JOIN stats s),
asked AS (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS q FROM idf)
SELECT p.id, sum(i.w * u.tf * 2.2 / (u.tf + 1.2 * (0.25 + 0.75 * length(p.tsv) / s.avgdl))) AS score
FROM semsearch_passages p CROSS JOIN stats s CROSS JOIN asked a
CROSS JOIN LATERAL (SELECT v.lexeme, coalesce(array_length(v.positions, 1), 1) AS tf FROM unnest(p.tsv) v) u
JOIN idf i ON i.lexeme = u.lexeme
WHERE p.collection = ANY(%s) AND p.tsv @@ a.q {only}
GROUP BY p.id ORDER BY score DESC, p.id LIMIT %s
"""


# The largest score BM25_SQL could give any passage for a query here (as storage.sqlite's
# bm25_ceiling for FTS5): each query lexeme's IDF, floored as FTS5 floors it, times k1 + 1.
CEILING_SQL = """
WITH terms AS (SELECT DISTINCT u.lexeme FROM unnest(to_tsvector('english', %s)) u),
stats AS (SELECT count(*)::float8 AS n FROM semsearch_passages WHERE collection = ANY(%s))
SELECT coalesce(sum(greatest(ln((s.n - d.df + 0.5) / (d.df + 0.5)), 1e-6) * 2.2), 0)
FROM terms t CROSS JOIN stats s
CROSS JOIN LATERAL (SELECT count(*)::float8 AS df FROM semsearch_passages p
                    WHERE p.collection = ANY(%s) AND p.tsv @@ quote_literal(t.lexeme)::tsquery) d
"""
