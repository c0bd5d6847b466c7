"""Choose the hybrid mix and fit its calibration on SciFact's train split.

    python benchmarks/calibrate.py DATASET_DIR [--split train] [--fetch 100] [--fit]

Opens the same cached index as `semsearch eval`, and for each judged query retrieves the
dense and the lexical passages (``--fetch`` each), then completes both legs for every
candidate (its cosine from the vector index, its BM25 from FTS5: no zeros), so every
variant of ``w * cosine + (1 - w) * bm25 / (bm25 + k)`` is scored from one retrieval.
With ``--fit`` it also fits the logistic calibration ``P(relevant) = 1 / (1 + exp(-(a + b * mix)))``
on the documents each query ranks in its first 20 (the product's constants come from this).
The features are kept in a temporary folder (``--cache``) so later runs are instant.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from semsearch import defaults
from semsearch.embedders import load, resolve_model
from semsearch.evaluation import doc_id, load_dataset, prepare_index, score_runs
from semsearch.search.fuse import complete_legs, lexical_share
from semsearch.storage import LocalStore

Features = dict[str, dict[int, tuple[float, float]]]  # query → passage → (cosine, bm25)


def collect(dataset_dir: Path, split: str, fetch: int, cache: Path) -> tuple[Features, dict[int, str], dict]:
    """Each judged query's candidates with both legs (BM25 as a share of the query's
    ceiling in this corpus), each passage's document, the judgements."""
    dataset = load_dataset(dataset_dir, split)
    model_id = resolve_model(defaults.DEFAULT_MODEL).model_id
    root, _ = prepare_index(dataset, {"model": model_id})
    cached = cache / f"features-{split}-{fetch}.json"
    with LocalStore.open(root / defaults.INDEX_DIR_NAME) as store:
        catalog = store.catalog
        if cached.is_file():
            saved = json.loads(cached.read_text())
            feats = {q: {int(p): tuple(v) for p, v in d.items()} for q, d in saved.items()}
        else:
            embedder = load(resolve_model(model_id), catalog.settings.backend)
            index = store.vectors()
            feats = {}
            for qid, text in dataset.queries.items():
                vector = embedder.embed_query(text)
                dense = index.search(vector, fetch)
                found = catalog.lexical_pass(text, fetch, also=[pid for pid, _ in dense])
                cos, bm25 = complete_legs(dense, found, vector, index)
                feats[qid] = {p: (cos[p], bm25[p]) for p in cos}
            cache.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(feats))
        records = catalog.passages(list({p for d in feats.values() for p in d}))
        ceilings = {q: catalog.lexical_ceiling(dataset.queries[q]) for q in feats}
    shares = {q: {p: (c, lexical_share(b, ceilings[q])) for p, (c, b) in d.items()} for q, d in feats.items()}
    return shares, {pid: doc_id(rec.path) for pid, rec in records.items()}, dataset.qrels


def saturate(share: float, k: float) -> float:
    """``share * (1 + k) / (share + k)``: 0 → 0, 1 → 1, rising faster the smaller ``k``
    (``math.inf``: the share itself, the product's choice)."""
    return share if math.isinf(k) else share * (1 + k) / (share + k)


def doc_scores(cands: dict[int, tuple[float, float]], doc_of: dict[int, str], w: float, k: float) -> dict[str, float]:
    best: dict[str, float] = {}
    for pid, (c, b) in cands.items():
        s = w * c + (1 - w) * saturate(b, k)
        d = doc_of[pid]
        if s > best.get(d, -9.0):
            best[d] = s
    return best


def ranking(scores: dict[str, float]) -> list[str]:
    return sorted(scores, key=lambda d: (-scores[d], d))[:100]


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of a one-feature logistic regression (Newton's method)."""
    a, b = 0.0, 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a + b * x)))
        g = np.array([np.sum(y - p), np.sum((y - p) * x)])
        wgt = p * (1 - p)
        h = np.array([[np.sum(wgt), np.sum(wgt * x)], [np.sum(wgt * x), np.sum(wgt * x * x)]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a + step[0], b + step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--fetch", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/semsearch-calibrate"))
    parser.add_argument("--fit", action="store_true", help="fit the calibration at --weight and --half")
    parser.add_argument("--weight", type=float, default=defaults.HYBRID_DENSE_WEIGHT)
    parser.add_argument("--half", type=float, default=math.inf)
    args = parser.parse_args()
    started = time.perf_counter()
    feats, doc_of, qrels = collect(args.dataset, args.split, args.fetch, args.cache)
    print(f"{len(feats)} {args.split} queries ready in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    if args.fit:
        xs, ys = [], []
        for q, cands in feats.items():
            scores = doc_scores(cands, doc_of, args.weight, args.half)
            for d in ranking(scores)[:20]:
                xs.append(scores[d])
                ys.append(1.0 if qrels.get(q, {}).get(d, 0) > 0 else 0.0)
        a, b = fit_logistic(np.array(xs), np.array(ys))
        print(f"fit on {len(xs)} (query, document) pairs, {int(sum(ys))} relevant: a={a:.4f} b={b:.4f}")
        for level in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3):
            print(f"  P={level}: mix >= {(math.log(level / (1 - level)) - a) / b:.4f}")
        print("Put a and b in semsearch/search/calibration.py (CALIBRATIONS), then re-choose its default floor on "
              f"the tuning sets: python benchmarks/abstention.py {args.dataset} --tune --write (and report with "
              "--write).")
        return
    rows = []
    for w in (0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 1.0):
        for k in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, math.inf):
            runs = {q: ranking(doc_scores(c, doc_of, w, k)) for q, c in feats.items()}
            s = score_runs(runs, qrels)
            rows.append((s.ndcg_at_10, w, k, s.recall_at_100, s.mrr_at_10))
    print("| w (cosine) | k (saturation; inf = linear) | nDCG@10 | Recall@100 | MRR@10 |\n|---|---|---|---|---|")
    for ndcg, w, k, rec, mrr in sorted(rows, reverse=True)[:25]:
        print(f"| {w} | {k} | {ndcg:.4f} | {rec:.4f} | {mrr:.4f} |")


if __name__ == "__main__":
    main()
