"""What a hybrid score means: an estimate of relevance, fitted for the index's model.

The hybrid mix (:func:`~semsearch.search.fuse.mix`: absolute cosine plus BM25 as a share
of the most the query could score in the index) is mapped through a logistic curve,
``1 / (1 + exp(-(a + b * mix)))``, fitted on judged queries (SciFact's train split: each
query's first 20 documents, relevant or not). The result reads as "the chance this passage
answers the query", the same in every index and for every query, so one threshold (the
default floor) can tell real matches from none.

A calibration belongs to the model it was fitted for: the vectors of another model have
another scale of cosines. An index built with a model that has none keeps the raw mix as
its score (0..1, uncalibrated) and has no default floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..settings import Settings


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic map from the hybrid mix to the probability of relevance."""

    dimension: int  # the model's vector size: an index of other vectors is another model
    intercept: float
    slope: float
    floor: float | None  # the default --min-score, a probability; None: no default floor
    fitted_on: str

    def __call__(self, mix: float) -> float:
        z = self.intercept + self.slope * mix
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


# By model id. Fitted with `python benchmarks/calibrate.py ../shared/data/scifact --fit`
# at the default mix (BM25 as a share of the query's ceiling). No default floor yet: the
# candidate floor chosen on SciFact train (0.005: BENCHMARKS.md, its abstention table) would
# hide 8 of the 10 paraphrase queries' right answers on sample_corpus/ (estimated 0.001 - 0.01
# with this curve: fitted on SciFact, where relevant passages share words with the claim,
# it undervalues a match by meaning alone); BENCHMARKS.md, "Scores and abstention".
CALIBRATIONS: dict[str, Calibration] = {
    "sentence-transformers/all-MiniLM-L6-v2": Calibration(
        dimension=384, intercept=-9.5103, slope=17.0277, floor=None,
        fitted_on="SciFact train (809 claims, 16,180 judged query-document pairs)",
    ),
}


def calibration_for(settings: Settings) -> Calibration | None:
    """The calibration fitted for the index's model (its id and vector size), or None:
    the hybrid score stays uncalibrated."""
    calibration = CALIBRATIONS.get(settings.model)
    return calibration if calibration is not None and calibration.dimension == settings.dimension else None


def default_floor(mode: str, settings: Settings) -> float | None:
    """The floor a query gets when it gives no ``min_score``: the calibration's, for a
    hybrid query on a calibrated model; else none (raw cosine and BM25 have no meaning
    across queries fine enough to cut on)."""
    calibration = calibration_for(settings) if mode == "hybrid" else None
    return calibration.floor if calibration is not None else None
