"""Hybrid ranking: one list of passages from a dense list and a lexical one."""

from __future__ import annotations

from .. import defaults

Ranked = list[tuple[int, float]]  # (passage id, score), best first


def fuse(dense: Ranked, lexical: Ranked, best_dense: float | None = None, best_lexical: float | None = None) -> Ranked:
    """Hybrid ranking of (passage id, score) lists, best first.

    Each list's scores are divided by its best, so each retriever's top passage scores
    1, then mixed: ``w * dense + (1 - w) * lexical`` (w = ``defaults.HYBRID_DENSE_WEIGHT``;
    a passage absent from a list scores 0 there). The result is 0..1, 1 only for a
    passage that is first in both lists, and does not depend on how deep the lists go.
    Chosen over reciprocal rank fusion and min-max scaling by measurement (BENCHMARKS.md).

    Args:
        best_dense, best_lexical: the best score of each retriever over the whole index,
            when the lists are filtered (by path) and so may not hold it; default: each
            list's first.
    """
    w = defaults.HYBRID_DENSE_WEIGHT
    scores: dict[int, float] = {}
    for weight, ranked, best in ((w, dense, best_dense), (1 - w, lexical, best_lexical)):
        if best is None:
            best = ranked[0][1] if ranked else 1.0
        best = best if best > 0 else 1.0
        for pid, score in ranked:
            scores[pid] = scores.get(pid, 0.0) + weight * score / best
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
