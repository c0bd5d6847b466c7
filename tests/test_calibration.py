"""The hybrid score's calibration belongs to the model it was fitted for (fast: no model runs)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from semsearch import Index, Settings, defaults, sync
from semsearch.search.calibration import CALIBRATIONS, Floor, calibration_for, default_floor, standout
from semsearch.search.pipeline import QueryOptions, select
from semsearch.storage import PassageRecord

from .conftest import FakeFactory

DEFAULT = Settings(model=defaults.DEFAULT_MODEL, dimension=384)


def test_the_default_model_is_calibrated_and_its_score_is_a_probability() -> None:
    calibration = calibration_for(DEFAULT)
    assert calibration is CALIBRATIONS[defaults.DEFAULT_MODEL]
    assert 0 <= calibration(0.0) < calibration(0.5) < calibration(1.0) <= 1 and calibration(-1e9) == 0.0
    assert default_floor("hybrid", DEFAULT) == calibration.floor and calibration.floor is not None
    assert default_floor("dense", DEFAULT) is None and default_floor("lexical", DEFAULT) is None


def test_another_model_or_other_vectors_are_uncalibrated() -> None:
    assert calibration_for(replace(DEFAULT, model="BAAI/bge-small-en-v1.5")) is None
    # The same name with vectors of another size is not the model the calibration was fitted for.
    assert calibration_for(replace(DEFAULT, dimension=64)) is None
    assert default_floor("hybrid", replace(DEFAULT, dimension=64)) is None


def test_an_uncalibrated_index_has_no_floor_and_says_so(notes: Path, fake: FakeFactory) -> None:
    sync(notes, embedder_factory=fake)  # the fake embedder's 64-dimensional vectors: not the default model
    with Index(notes, embedder_factory=fake) as idx:
        hits = idx.query("zzqxv blorft")
        assert hits and all(0 <= h.score <= 1 for h in hits)  # the raw mix, no floor
        assert idx.query("zzqxv blorft", min_score=0.99) == []
        info = idx.info().to_dict()
        assert info["calibrated"] is False and info["default_floor"] is None


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_hit_carries_the_raw_scores_its_mode_computed(notes: Path, fake: FakeFactory, mode: str) -> None:
    sync(notes, embedder_factory=fake)
    with Index(notes, embedder_factory=fake) as idx:
        hit = idx.query("rotate logs", mode=mode)[0].to_dict()
    assert (hit["dense"] is None) == (mode == "lexical") and (hit["lexical"] is None) == (mode == "dense")
    assert hit["score"] == {"dense": hit["dense"], "lexical": hit["lexical"]}.get(mode, hit["score"])


def test_the_floor_keeps_a_match_by_meaning_that_stands_out() -> None:
    """Under the score floor, only the query's nearest file passes, and only when its cosine
    stands out from the next nearest files' (a query that matches nothing has no such file)."""
    assert standout([0.3, 0.6, 0.3, 0.3]) == pytest.approx(0.3) and standout([0.4]) == 0.0
    rows = {pid: PassageRecord(pid, f"f{pid}.md", 0, 1, 1, "text") for pid in range(1, 6)}
    ranked = [(1, 0.2), (2, 0.004), (3, 0.003), (4, 0.002), (5, 0.001)]  # calibrated scores, best first
    clear = {1: (0.35, 5.0), 2: (0.30, 1.0), 3: (0.60, 0.0), 4: (0.30, 0.0), 5: (0.30, 0.0)}  # (cosine, BM25)
    hits, reached = select(ranked, rows, QueryOptions(), Floor(0.01, 0.15), clear)
    assert [h.path for h in hits] == ["f1.md", "f3.md"] and reached  # f3: cosine 0.60 vs the rest's 0.31
    flat = {**clear, 3: (0.40, 0.0)}
    assert [h.path for h in select(ranked, rows, QueryOptions(), Floor(0.01, 0.15), flat)[0]] == ["f1.md"]
    assert [h.path for h in select(ranked, rows, QueryOptions(), Floor(0.01), clear)[0]] == ["f1.md"]
