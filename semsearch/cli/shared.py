"""The command line over a shared store (``--store postgresql://…``): opening it, and paths
shown as the collection's own (the indexed folder may be on another machine)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInputError
from ..ignore import compile_globs
from ..index import Index
from ..records import Hit
from .paths import PathView


def store_url(store: str | None) -> str | None:
    """The ``--store`` URL (None for the local index); anything else is a one-line error."""
    from ..storage.postgres_schema import is_store_url, mask

    if not store:
        return None
    if not is_store_url(store):
        raise BadInputError(f"--store {mask(store)!r} is not a postgresql:// URL; give one like "
                            "postgresql://user@host/db (or leave --store and SEMSEARCH_STORE unset for the local "
                            "index)")
    return store


def check_no_collection(collections: str | Sequence[str] | None) -> None:
    if collections:
        raise BadInputError("--collection names a collection of a shared index; add --store URL (or set "
                            "SEMSEARCH_STORE)")


@contextmanager
def open_shared(url: str, collections: Sequence[str] | None, model: str | None, device: str | None) -> Iterator[Index]:
    """The ``collections`` (default: all) of the store at ``url`` as one index."""
    from ..storage.postgres_schema import server_errors_are_reported
    from ..storage.postgres_store import PgStore, check_collection_name

    names = [check_collection_name(n) for n in collections] if collections else None
    with server_errors_are_reported(url):
        store = PgStore.open(url, names)
        try:
            index = Index(store=store, model=model, device=device)
        except BaseException:
            store.close()
            raise
        with index:
            yield index


@dataclass(frozen=True)
class SharedView(PathView):
    """Paths as the collection holds them (``collection/path`` across several), never
    checked against this machine's files."""

    def show(self, rel: str) -> str:
        return rel

    def globs(self, patterns: Sequence[str]) -> list[str]:
        compile_globs(patterns, "--path")
        return [p.strip() for p in patterns if p.strip()]

    def drop_deleted(self, hits: list[Hit], told: set[str]) -> list[Hit]:
        return hits


def view_for(idx: Index, *, absolute: bool, whole: bool) -> PathView:
    """How the command shows the index's paths: from here for a folder's, as stored for a shared one."""
    if isinstance(idx.index_dir, str):  # a shared store names itself by its (masked) URL
        return SharedView(Path(idx.root), Path.cwd())
    return PathView.of(idx.root, absolute=absolute, whole=whole)
