"""Hybrid fusion and passage-context choices, measured on a cached SciFact evaluation index.

Usage (after `semsearch eval DATASET --split train` has built the cached index)::

    python benchmarks/fusion_choices.py DATASET INDEXED_DOCS --split train [--context]
    python benchmarks/fusion_choices.py DATASET INDEXED_DOCS --split train --embed-context ctx.npy

INDEXED_DOCS is the cached index's ``docs`` folder (``$SEMSEARCH_CACHE_DIR/scifact-<key>/docs``).
Every passage is scored against every query (its stored vector's cosine; its BM25 from an
in-memory FTS5 copy of the passages, same tokenizer, same query words as the product), so
each choice is measured over the whole corpus, not over one retrieval depth; each file's
score is its best passage's, as ``query`` groups hits. ``--context`` gives the lexical copy
each passage's context (``benchmarks/passage_context.py``: measured, not in the product).
``--embed-context`` embeds each passage that has a context with it (the product's embedder), saves the vectors, and
measures with them (a full re-embedding of the passages that lack their title: slow).
The base rows reproduce `semsearch eval`'s figures for the same index exactly.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import numpy as np
from passage_context import contexts, embedding_text  # benchmarks/ (the script's own folder)

from semsearch import Index
from semsearch.chunking import chunk_text
from semsearch.evaluation.beir import doc_id, load_dataset
from semsearch.evaluation.metrics import ndcg
from semsearch.storage import codec
from semsearch.storage.sqlite import bm25_ceiling, informative, query_words


def passage_contexts(docs: Path, rows: list, embedder, settings) -> list[str]:
    """Each passage's context, by passage_context's rule (chunks recut to learn their offsets)."""
    by_file: dict[str, list] = {}
    for row in rows:
        by_file.setdefault(row[1], []).append(row)
    found = {}
    for path, passages in by_file.items():
        text = (docs / path).read_text(encoding="utf-8")
        chunks = chunk_text(text, embedder.token_spans, settings.chunk_tokens, settings.overlap)
        assert [c.text for c in chunks] == [p[4] for p in sorted(passages, key=lambda p: p[2])], path
        for p, context in zip(sorted(passages, key=lambda p: p[2]), contexts(path, text, chunks), strict=True):
            found[p[0]] = context
    return [found[row[0]] for row in rows]


def lexical_scores(rows: list, context: list[str], queries: list[str]) -> list[tuple[np.ndarray, float]]:
    """Each query's BM25 for every passage, and its ceiling, as the product computes them."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(text, context, tokenize='porter unicode61 remove_diacritics 2')")
    conn.executemany("INSERT INTO t (rowid, text, context) VALUES (?, ?, ?)",
                     [(r[0], r[4], c) for r, c in zip(rows, context, strict=True)])
    position = {r[0]: k for k, r in enumerate(rows)}
    out = []
    for text in queries:
        words = query_words(text)
        held = {w: conn.execute("SELECT count(*) FROM t WHERE t MATCH ?", (f'"{w}"',)).fetchone()[0] for w in words}
        bm = np.zeros(len(rows), np.float32)
        kept = informative(words, held)
        if kept:
            for rid, score in conn.execute("SELECT rowid, -bm25(t) FROM t WHERE t MATCH ?",
                                           (" OR ".join(f'"{w}"' for w in kept),)):
                bm[position[rid]] = score
        out.append((bm, bm25_ceiling(len(rows), held.values())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("docs", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--context", action="store_true", help="the lexical copy holds each passage's context")
    parser.add_argument("--embed-context", type=Path, help="embed with context (or load these vectors), save here")
    args = parser.parse_args()
    dataset = load_dataset(args.dataset, args.split)
    with Index(args.docs) as index:
        catalog = index.store.catalog
        rows = catalog._rows("SELECT c.id, f.path, c.ordinal, c.start_line, c.text, c.vector FROM chunks c "
                             "JOIN files f ON f.id = c.file_id ORDER BY c.id")
        vectors = codec.decode([r[5] for r in rows], catalog.settings.dimension, catalog.codec)
        embedder = index.embedder()
        context = [""] * len(rows)
        if args.context or args.embed_context:
            context = passage_contexts(args.docs, rows, embedder, catalog.settings)
        if args.embed_context and args.embed_context.is_file():
            vectors = np.load(args.embed_context)
        elif args.embed_context:
            vectors = vectors.copy()
            todo = [k for k, c in enumerate(context) if c]
            for start in range(0, len(todo), 256):
                part = todo[start : start + 256]
                vectors[part] = embedder.embed_documents([embedding_text(context[k], rows[k][4]) for k in part])
            np.save(args.embed_context, vectors)
        queries = list(dataset.queries.items())
        query_vectors = np.stack([embedder.embed_query(text) for _, text in queries])
    lexical = lexical_scores(rows, context if args.context or args.embed_context else [""] * len(rows),
                             [text for _, text in queries])
    names, files = np.unique([doc_id(r[1]) for r in rows], return_inverse=True)

    def measure(score, agg_second: float = 0.0) -> float:
        total = 0.0
        for (qid, _), qv, (bm, ceiling) in zip(queries, query_vectors, lexical, strict=True):
            share = np.clip(bm / ceiling, 0, 1) if ceiling > 0 else np.zeros_like(bm)
            mixed = score(vectors @ qv, share)
            best = np.full(len(names), -np.inf)
            np.maximum.at(best, files, mixed)
            if agg_second:  # best passage + a share of the file's second best
                order = np.lexsort((-mixed, files))
                first = np.r_[True, files[order][1:] != files[order][:-1]]
                second_at = order[np.r_[False, first[:-1]] & ~first]
                second = np.zeros(len(names))
                second[files[second_at]] = np.maximum(mixed[second_at], 0)
                best = best + agg_second * second
            top = np.argsort(-best, kind="stable")[:10]
            total += ndcg([names[t] for t in top], dataset.qrels[qid])
        return total / len(queries)

    print(f"| choice ({args.split}, {len(queries)} queries) | nDCG@10 |\n|---|---|")
    rows_out = [("dense", lambda c, s: c), ("lexical", lambda c, s: s),
                ("hybrid 0.5/0.5 (main)", lambda c, s: .5 * c + .5 * s)]
    rows_out += [(f"hybrid, dense weight {w}", lambda c, s, w=w: w * c + (1 - w) * s) for w in (0.4, 0.45, 0.55, 0.6)]
    rows_out += [(f"hybrid, share^{p}", lambda c, s, p=p: .5 * c + .5 * s ** p) for p in (0.75, 1.5)]
    for name, score in rows_out:
        print(f"| {name} | {measure(score):.4f} |")
    for lam in (0.1, 0.2):
        print(f"| hybrid, file = best + {lam} x second passage | {measure(lambda c, s: .5 * c + .5 * s, lam):.4f} |")


if __name__ == "__main__":
    main()
