"""What a hybrid score means: an estimate of relevance, fitted for the index's model.

The hybrid mix (:func:`~semsearch.search.fuse.mix`: absolute cosine plus BM25 as a share
of the most the query could score in the index) is mapped through a logistic curve,
``1 / (1 + exp(-(a + b * mix)))``, fitted on judged queries (SciFact's train split: each
query's first 20 documents, relevant or not). The result reads as "the chance this passage
answers the query", the same in every index and for every query, so a threshold (the
default :class:`Floor`, with its stand-out for a match by meaning alone) can tell real
matches from none.

A calibration belongs to the model it was fitted for: the vectors of another model have
another scale of cosines. An index built with a model that has none keeps the raw mix as
its score (0..1, uncalibrated) and has no default floor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..settings import Settings

STANDOUT_RIVALS = 9  # a stand-out is measured against the mean of this many next-nearest files


@dataclass(frozen=True)
class Floor:
    """Which hits a query shows: those scoring at least ``score``; and, when ``standout`` is
    set, the query's nearest file by meaning (its best passage) when its cosine exceeds the
    mean cosine of the next nearest files (:data:`STANDOUT_RIVALS`) by at least
    ``standout``: a match by meaning alone, which a curve fitted where relevant passages
    share the query's words rates low, yet one that stands out from the rest of the folder
    as a query that matches nothing does not."""

    score: float
    standout: float | None = None


def standout(best_cosines: Sequence[float]) -> float:
    """How far the nearest file's cosine stands above the mean of the next nearest
    (``best_cosines``: each file's best, any order); 0 with fewer than two files."""
    ranked = sorted(best_cosines, reverse=True)
    rivals = ranked[1:1 + STANDOUT_RIVALS]
    return ranked[0] - sum(rivals) / len(rivals) if rivals else 0.0


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic map from the hybrid mix to the probability of relevance."""

    dimension: int  # the model's vector size: an index of other vectors is another model
    intercept: float
    slope: float
    floor: Floor | None  # the default floor; None: none
    fitted_on: str

    def __call__(self, mix: float) -> float:
        z = self.intercept + self.slope * mix
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


# By model id. Fitted with `python benchmarks/calibrate.py ../shared/data/scifact --fit` at
# the default mix (BM25 as a share of the query's ceiling). The default floor was chosen with
# `python benchmarks/abstention.py ../shared/data/scifact --tune` on tuning sets only (200
# nonsense queries of another seed, 100 other everyday questions, SciFact train) and reported
# on others (BENCHMARKS.md, "Scores and abstention"): a score floor alone that makes nonsense
# come back empty hides most answers by meaning alone on sample_corpus/ (this curve, fitted on
# SciFact, where relevant passages share words with the claim, rates them 0.001 - 0.01); the
# stand-out keeps them, as nonsense rarely has a nearest file that stands out.
CALIBRATIONS: dict[str, Calibration] = {
    "sentence-transformers/all-MiniLM-L6-v2": Calibration(
        dimension=384, intercept=-9.5103, slope=17.0277, floor=Floor(0.0075, 0.15),
        fitted_on="SciFact train (809 claims, 16,180 judged query-document pairs)",
    ),
}


def calibration_for(settings: Settings) -> Calibration | None:
    """The calibration fitted for the index's model (its id and vector size), or None:
    the hybrid score stays uncalibrated."""
    calibration = CALIBRATIONS.get(settings.model)
    return calibration if calibration is not None and calibration.dimension == settings.dimension else None


def default_floor(mode: str, settings: Settings) -> Floor | None:
    """The floor a query gets when it gives no ``min_score``: the calibration's, for a
    hybrid query on a calibrated model; else none (raw cosine and BM25 have no meaning
    across queries fine enough to cut on)."""
    calibration = calibration_for(settings) if mode == "hybrid" else None
    return calibration.floor if calibration is not None else None
