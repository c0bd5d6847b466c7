"""Long queries: a pasted paragraph (~200 words, made from SciFact abstracts), in warm hybrid mode.

    SEMSEARCH_CACHE_DIR=... python benchmarks/long_queries.py DATASET_DIR [--queries 50] [--baseline /work/main]
        [--skip 0] [--words K]

Each query is the first 200 words of a SciFact document's abstract, asked of the cached
SciFact index (as `semsearch eval` builds it); quality is how often that document comes
first (and in the first 10); latency is the median of warm `Index.query` calls (the model
loaded, each query asked once before timing). With ``--baseline CHECKOUT`` the same script
runs on that checkout's package in a child process, in the same run, for comparison.
``--skip N`` passes over the first N such documents (choose on one set, report on another);
``--words K`` asks the lexical index for a long query's K most informative words (default:
the product's ``MAX_QUERY_WORDS``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from semsearch import Index, defaults
from semsearch.embedders import resolve_model
from semsearch.evaluation import doc_filename, load_dataset, prepare_index


def measure(dataset_dir: Path, n: int, skip: int = 0) -> dict[str, float]:
    dataset = load_dataset(dataset_dir, "test")
    root, _ = prepare_index(dataset, {"model": resolve_model(defaults.DEFAULT_MODEL).model_id})
    docs = [(d, text) for d, (_, text) in dataset.corpus.items() if len(text.split()) >= 200][skip : skip + n]
    queries = [(doc_filename(d), " ".join(text.split()[:200])) for d, text in docs]
    first = top10 = 0
    times, embeds = [], []
    with Index(root) as index:
        index.load_model()
        for name, text in queries:
            index.query(text, min_score=-1.0)  # warm: the same query once before timing
            started = time.perf_counter()
            hits = index.query(text, min_score=-1.0)
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            index.embedder().embed_query(text)  # the model's share of it, timed apart
            embeds.append(time.perf_counter() - started)
            names = [h.path.rsplit("/", 1)[-1] for h in hits]
            first += bool(names) and names[0] == name
            top10 += name in names
    return {"queries": len(queries), "first": first / len(queries), "top10": top10 / len(queries),
            "median_ms": 1000 * statistics.median(times), "p90_ms": 1000 * sorted(times)[int(0.9 * len(times))],
            "embed_ms": 1000 * statistics.median(embeds),
            "search_ms": 1000 * statistics.median(t - e for t, e in zip(times, embeds, strict=True))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--baseline", type=Path, help="another checkout to measure in the same run")
    parser.add_argument("--skip", type=int, default=0, help="pass over the first N long documents")
    parser.add_argument("--words", type=int, help="the most words a long query asks the lexical index for")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.words is not None:
        from semsearch.storage import sqlite

        sqlite.MAX_QUERY_WORDS = args.words
    result = measure(args.dataset, args.queries, args.skip)
    if args.json:
        print(json.dumps(result))
        return
    rows = [(f"this checkout{'' if args.words is None else f' ({args.words} words)'}", result)]
    if args.baseline:
        env = {**os.environ, "PYTHONPATH": str(args.baseline)}
        out = subprocess.run([sys.executable, __file__, str(args.dataset), "--queries", str(args.queries),
                              "--skip", str(args.skip), "--json"],
                             env=env, capture_output=True, text=True, check=True, cwd=args.baseline)
        rows.append((f"baseline {args.baseline}", json.loads(out.stdout.strip().splitlines()[-1])))
    print("| code | queries | source doc first | in first 10 | median warm hybrid | p90 | of it: embedding | "
          "the rest (search) |\n|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['queries']} | {100 * r['first']:.0f}% | {100 * r['top10']:.0f}% | "
              f"{r['median_ms']:.0f} ms | {r['p90_ms']:.0f} ms | {r.get('embed_ms', 0):.0f} ms | "
              f"{r.get('search_ms', 0):.0f} ms |")


if __name__ == "__main__":
    main()
