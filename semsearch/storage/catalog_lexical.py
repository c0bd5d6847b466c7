"""The catalog's lexical search: BM25 over the FTS5 index of the passage text, in one pass.

A query's words are counted once (how many passages hold each: their IDF, FTS5's way),
which gives both the query's ceiling (the most BM25 any passage could get,
:func:`~.sqlite.bm25_ceiling`) and the words worth asking for (:func:`~.sqlite.informative`:
a long query keeps its most telling ones). Then one FTS5 statement ranks the passages
holding those words, keeping only the best ``limit`` plus the passages asked for by id (the
dense candidates of a hybrid query), never every passage that holds a word.

The counts are kept per generation of the catalog (a word's count changes only with the
passages): a warm reader counts each common word once, not once per query.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from .base import LexicalPass
from .sqlite import bm25_ceiling, informative, query_words

_COUNTED_WORDS = 200_000  # held counts kept, at most, before they are counted afresh
_RANKED = "SELECT rowid, -bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts MATCH ? {only}"


class CatalogLexical:
    """Lexical search of :class:`~semsearch.storage.catalog.SqliteCatalog`."""

    if TYPE_CHECKING:  # provided by the catalog
        _lock: Any

        @property
        def generation(self) -> int: ...
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def count_passages(self) -> int: ...

    _held: tuple[int, dict[str, int]] | None = None  # (generation, passages holding each word)

    def held(self, words: Sequence[str]) -> dict[str, int]:
        """How many passages hold each of ``words`` (FTS5 phrases: stemmed, case folded)."""
        with self._lock:
            generation = self.generation
            if self._held is None or self._held[0] != generation or len(self._held[1]) > _COUNTED_WORDS:
                self._held = (generation, {})
            counts = self._held[1]
            missing = [w for w in words if w not in counts]
            for i in range(0, len(missing), 100):  # SQLite takes at most 500 subqueries in one select
                part = missing[i : i + 100]
                held = ", ".join(["(SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?)"] * len(part))
                counts.update(zip(part, self._rows(f"SELECT {held}", [f'"{w}"' for w in part])[0], strict=True))
            return {w: counts[w] for w in words}

    def lexical_pass(self, text: str, limit: int, allowed: Collection[int] | None = None,
                     also: Collection[int] = ()) -> LexicalPass:
        """The ``limit`` passages that best match any word of ``text`` (BM25, higher is
        better), best first, only ``allowed`` ids if given; the BM25 of each of those and of
        the ``also`` passages that hold a query word; and the query's ceiling."""
        words = query_words(text)
        if not words:
            return LexicalPass([], {}, 0.0)
        passages = self.count_passages()
        held = self.held(words)
        ceiling = bm25_ceiling(passages, held.values())
        kept = informative(words, held)
        also = [int(i) for i in also]
        if not kept or (limit <= 0 and not also) or (allowed is not None and not allowed):
            return LexicalPass([], {}, ceiling)
        only = "" if allowed is None else "AND rowid IN (SELECT value FROM json_each(?)) "
        params: list[Any] = [" OR ".join(f'"{w}"' for w in kept)]
        params += [] if allowed is None else [json.dumps(sorted(int(i) for i in allowed))]
        ranked = _RANKED.format(only=only)
        if also:  # one pass: the passages asked for first, then the best others
            rows = self._rows(f"SELECT rowid, score FROM ({ranked}) ORDER BY rowid IN "
                              "(SELECT value FROM json_each(?)) DESC, score DESC, rowid LIMIT ?",
                              [*params, json.dumps(also), max(limit, 0) + len(also)])
        else:
            rows = self._rows(f"{ranked}ORDER BY score DESC, rowid LIMIT ?", [*params, limit])
        scores = {int(r[0]): float(r[1]) for r in rows}
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: max(limit, 0)]
        return LexicalPass(best, scores, ceiling)

    def lexical(self, text: str, limit: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        """The ``limit`` passages that best match any word of ``text`` (BM25), best
        first, as (passage id, score; higher is better); only ``allowed`` ids if given."""
        return self.lexical_pass(text, limit, allowed).ranked

    def lexical_ceiling(self, text: str) -> float:
        """The largest BM25 :meth:`lexical` could give any passage for ``text`` here
        (:func:`~.sqlite.bm25_ceiling`: from how many passages hold each query word); 0 if none."""
        return self.lexical_pass(text, 0).ceiling
