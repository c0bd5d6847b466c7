"""Choose the hybrid fusion and the per-document aggregate by measurement.

    python benchmarks/fusion.py DATASET_DIR [--split train] [--fetch 404]

Builds (or reuses) the same cached index as `semsearch eval`, retrieves once per
query the dense and the lexical passage lists the product would fuse (``--fetch``
passages each: what `query` fetches for 101 results), stores them next to the index,
and then scores every fusion variant on those stored lists, without re-embedding:

- reciprocal rank fusion, k in 10, 30, 60, 100;
- a convex mix of min-max normalised scores, w * dense + (1 - w) * lexical;
- a convex mix of raw cosine and BM25 divided by the query's best BM25;

each with the document score = best passage (max), or max + b * second-best passage;
and, for comparison with published dense numbers (one vector per document from its start),
dense search over each document's first passage only.
Tune on the train split, then report the winner on the test split. (These are the
choices of issue #4, on lists where a passage absent from one list scores 0 there; the
current mix, with both scores of every candidate, is chosen by ``benchmarks/calibrate.py``.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from semsearch import defaults
from semsearch.embedders import load, resolve_model
from semsearch.evaluation import doc_id, load_dataset, prepare_index, score_runs
from semsearch.storage import LocalStore

Ranked = list[tuple[int, float]]


def retrieve(
    dataset_dir: Path, split: str, fetch: int
) -> tuple[dict[str, tuple[Ranked, Ranked]], dict[int, str], set[int], dict]:
    """Dense and lexical passage lists per judged query (cached as JSON beside the index),
    each passage's document, and the passages that open their document."""
    dataset = load_dataset(dataset_dir, split)
    model_id = resolve_model(defaults.DEFAULT_MODEL).model_id
    root, _ = prepare_index(dataset, {"model": model_id})
    cached = root.parent / f"runs-{split}-{fetch}.json"
    with LocalStore.open(root / defaults.INDEX_DIR_NAME) as store:
        catalog = store.catalog
        if cached.is_file():
            saved = json.loads(cached.read_text())
            lists = {q: ([tuple(x) for x in d], [tuple(x) for x in lx]) for q, (d, lx) in saved.items()}
        else:
            embedder = load(resolve_model(model_id), catalog.settings.backend)
            index = store.vectors()
            lists = {}
            for qid, text in dataset.queries.items():
                lists[qid] = (index.search(embedder.embed_query(text), fetch), catalog.lexical(text, fetch))
            cached.write_text(json.dumps(lists))
        pids = {p for d, lx in lists.values() for p, _ in d + lx}
        records = catalog.passages(list(pids))
    doc_of = {pid: doc_id(rec.path) for pid, rec in records.items()}
    return lists, doc_of, {pid for pid, rec in records.items() if rec.ordinal == 0}, dataset.qrels


def minmax(ranked: Ranked, depth: int | None = None) -> dict[int, float]:
    """Scores mapped to 0..1 between the best and the ``depth``-th (default: the last),
    those below clipped to 0."""
    if not ranked:
        return {}
    hi, lo = ranked[0][1], ranked[min(len(ranked), depth or len(ranked)) - 1][1]
    return {p: max(0.0, (s - lo) / (hi - lo)) if hi > lo else 1.0 for p, s in ranked}


def convex(w: float, dense: dict[int, float], lexical: dict[int, float]) -> Ranked:
    fused = {p: w * dense.get(p, 0.0) + (1 - w) * lexical.get(p, 0.0) for p in dense.keys() | lexical.keys()}
    return sorted(fused.items(), key=lambda item: -item[1])


def rrf(k: int) -> Callable[[Ranked, Ranked], Ranked]:
    def fused(dense: Ranked, lexical: Ranked) -> Ranked:
        scores: dict[int, float] = defaultdict(float)
        for ranked in (dense, lexical):
            for rank, (pid, _) in enumerate(ranked):
                scores[pid] += 1.0 / (k + rank + 1)
        return sorted(scores.items(), key=lambda item: -item[1])

    return fused


def variants() -> dict[str, Callable[[Ranked, Ranked], Ranked]]:
    out: dict[str, Callable[[Ranked, Ranked], Ranked]] = {
        "dense": lambda d, lx: d,
        "lexical": lambda d, lx: lx,
    }
    for k in (10, 30, 60, 100):
        out[f"rrf k={k}"] = rrf(k)
    for w in (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8):
        out[f"minmax w={w}"] = lambda d, lx, w=w: convex(w, minmax(d), minmax(lx))
        for depth in (20, 50, 100):
            out[f"minmax@{depth} w={w}"] = lambda d, lx, w=w, n=depth: convex(w, minmax(d, n), minmax(lx, n))
        out[f"max-norm w={w}"] = lambda d, lx, w=w: convex(
            w, {p: s / d[0][1] for p, s in d} if d else {}, {p: s / lx[0][1] for p, s in lx} if lx else {}
        )
        out[f"cos+bm25/max w={w}"] = lambda d, lx, w=w: convex(
            w, dict(d), {p: s / lx[0][1] for p, s in lx} if lx else {}
        )
    return out


def documents(ranked: Ranked, doc_of: dict[int, str], bonus: float) -> list[str]:
    """Document ranking: best passage score, plus ``bonus`` times the second best."""
    best: dict[str, list[float]] = {}
    for pid, score in ranked:
        top = best.setdefault(doc_of[pid], [])
        if len(top) < 2:
            top.append(score)
    score = {d: s[0] + bonus * (s[1] if len(s) > 1 else 0.0) for d, s in best.items()}
    return sorted(score, key=lambda d: -score[d])[:100]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--fetch", type=int, default=404)
    parser.add_argument("--only", nargs="*", help="variant names to score (default: all)")
    args = parser.parse_args()
    started = time.perf_counter()
    lists, doc_of, first, qrels = retrieve(args.dataset, args.split, args.fetch)
    print(f"{len(lists)} {args.split} queries, lists ready in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    rows = []
    # What MTEB measures: one vector per document from its start (here: its first passage).
    truncated = {"dense, first passage only": lambda d, lx: [(p, s) for p, s in d if p in first]}
    for name, fusion in {**variants(), **truncated}.items():
        if args.only and name not in args.only:
            continue
        fused = {q: fusion(d, lx) for q, (d, lx) in lists.items()}
        for bonus in (0.0, 0.1, 0.2):
            runs = {q: documents(r, doc_of, bonus) for q, r in fused.items()}
            s = score_runs(runs, qrels)
            rows.append((s.ndcg_at_10, name, bonus, s.recall_at_100, s.mrr_at_10))
    print("| variant | doc score | nDCG@10 | Recall@100 | MRR@10 |\n|---|---|---|---|---|")
    for ndcg, name, bonus, rec, mrr in sorted(rows, reverse=True):
        agg = "max" if bonus == 0 else f"max + {bonus} × 2nd"
        print(f"| {name} | {agg} | {ndcg:.4f} | {rec:.4f} | {mrr:.4f} |")


if __name__ == "__main__":
    main()
