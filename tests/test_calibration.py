"""The hybrid score's calibration belongs to the model it was fitted for (fast: no model runs)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from semsearch import Index, Settings, defaults, sync
from semsearch.search.calibration import CALIBRATIONS, calibration_for, default_floor

from .conftest import FakeFactory

DEFAULT = Settings(model=defaults.DEFAULT_MODEL, dimension=384)


def test_the_default_model_is_calibrated_and_its_score_is_a_probability() -> None:
    calibration = calibration_for(DEFAULT)
    assert calibration is CALIBRATIONS[defaults.DEFAULT_MODEL]
    assert 0 <= calibration(0.0) < calibration(0.5) < calibration(1.0) <= 1 and calibration(-1e9) == 0.0
    assert default_floor("hybrid", DEFAULT) == calibration.floor  # None for now: see calibration.py
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
