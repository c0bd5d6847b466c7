"""Retrieval metrics as trec_eval computes them (as BEIR reports them): nDCG@10 with
linear gains, Recall@100, MRR@10, averaged over the queries that have judgements."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from ..records import Scores
from .beir import Qrels


def ndcg(ranking: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain at ``k``, linear gains (as trec_eval)."""
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]) if judged.get(d, 0) > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranking: Sequence[str], judged: Mapping[str, int], k: int = 100) -> float:
    """The share of relevant documents found in the first ``k``."""
    relevant = {d for d, g in judged.items() if g > 0}
    return len(relevant.intersection(ranking[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranking: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """1 / the rank of the first relevant document in the first ``k``, else 0."""
    for i, d in enumerate(ranking[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_runs(runs: Mapping[str, Sequence[str]], qrels: Qrels) -> Scores:
    """Mean nDCG@10, Recall@100 and MRR@10 over the judged queries in ``runs``."""
    judged = [q for q in runs if q in qrels]
    if not judged:
        return Scores(0.0, 0.0, 0.0)

    def mean(metric: Callable[[Sequence[str], Mapping[str, int]], float]) -> float:
        return sum(metric(runs[q], qrels[q]) for q in judged) / len(judged)

    return Scores(mean(ndcg), mean(recall), mean(reciprocal_rank))
