"""Lexical search (SQLite FTS5) kept in step with the passages, and query modes
(fast: a fake embedder; the real model's hybrid is measured in test_eval.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from semsearch import Index, defaults, sync
from semsearch.cli import app
from semsearch.errors import BadInputError, CorruptIndexError
from semsearch.search import fuse
from semsearch.search.fuse import complete_legs
from semsearch.storage import fts_query
from semsearch.storage.sqlite import MAX_QUERY_WORDS, informative

from .conftest import FakeFactory

HOSTILE = [
    '"', '""', "'", "AND", "OR", "NOT", "a AND b", "NEAR(logs rotate)", "logs NOT bread", "*", "log*", "-logs",
    "+logs", "^logs", "logs:rotate", "text:logs", "chunks_fts:logs", "(((", ")", "{logs}", "[logs]", "a OR",
    "'; DROP TABLE chunks; --", "\x00", "\\", "ｌｏｇｓ", "日志轮换", "ログ", "🍞 bread 🍞", "é́", "_", "a_b",
    "logrotate" * 200, " ".join(f"w{i}" for i in range(5000)),
]


@pytest.fixture
def indexed(notes: Path, fake: FakeFactory) -> Path:
    sync(notes, embedder_factory=fake)
    return notes


def lexical(root: Path, text: str, **kwargs) -> list[str]:
    with Index(root, embedder_factory=FakeFactory()) as idx:
        return [h.path for h in idx.query(text, mode="lexical", **kwargs)]


def test_lexical_finds_words_and_stems(indexed: Path) -> None:
    assert lexical(indexed, "logrotate") == ["logs.md"]
    assert lexical(indexed, "temple") == ["sub/kyoto.md"]  # porter stemming: temple ~ temples
    assert lexical(indexed, "KNEADING yeast") == ["bread.txt"]  # case and stem folded
    assert lexical(indexed, "nothing matches zzzz") == []


def test_lexical_index_follows_edits_deletes_and_rebuilds(indexed: Path, fake: FakeFactory) -> None:
    (indexed / "logs.md").write_text("# Logs\n\nShip logs to a central syslog server instead.\n")
    (indexed / "bread.txt").unlink()
    (indexed / "new.md").write_text("Sourdough needs a starter fed daily.\n")
    sync(indexed, embedder_factory=fake)
    assert lexical(indexed, "logrotate") == []  # the old passage is gone from the FTS index too
    assert lexical(indexed, "syslog") == ["logs.md"]
    assert lexical(indexed, "yeast") == []
    assert lexical(indexed, "sourdough") == ["new.md"]
    sync(indexed, embedder_factory=fake, rebuild=True)
    assert lexical(indexed, "syslog") == ["logs.md"] and lexical(indexed, "sourdough") == ["new.md"]
    conn = sqlite3.connect(indexed / ".semsearch" / "catalog.sqlite")
    conn.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')")  # raises if out of step
    assert conn.execute("SELECT count(*) FROM chunks_fts").fetchone() == conn.execute(
        "SELECT count(*) FROM chunks").fetchone()


def test_an_index_of_schema_1_asks_for_a_rebuild(indexed: Path, fake: FakeFactory) -> None:
    conn = sqlite3.connect(indexed / ".semsearch" / "catalog.sqlite")
    with conn:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(CorruptIndexError, match=r"schema version 1, this semsearch reads 4; .*--rebuild"):
        Index(indexed, embedder_factory=fake)
    sync(indexed, embedder_factory=fake, rebuild=True)
    assert lexical(indexed, "logrotate") == ["logs.md"]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_are_never_an_fts_error(indexed: Path, text: str) -> None:
    with Index(indexed, embedder_factory=FakeFactory()) as idx:
        for mode in ("lexical", "hybrid"):
            if text.strip():
                idx.query(text, mode=mode)
            else:
                with pytest.raises(BadInputError):
                    idx.query(text, mode=mode)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=200))
@pytest.mark.slow
def test_any_text_is_a_valid_lexical_query(indexed: Path, text: str) -> None:
    with Index(indexed, embedder_factory=FakeFactory()) as idx:
        idx.store.catalog.lexical(text, 10)  # raises sqlite3.OperationalError on an FTS syntax error
        assert idx.store.catalog.lexical_ceiling(text) >= 0
        if text.strip():
            idx.query(text, mode="lexical")


def test_fts_query_quotes_each_word_once() -> None:
    assert fts_query('Logs AND "rotate" logs -x*') == '"logs" OR "and" OR "rotate" OR "x"'
    assert fts_query("?! ...") is None


def test_fusion_mixes_cosine_with_bm25_as_a_share_of_the_querys_ceiling() -> None:
    w = defaults.HYBRID_DENSE_WEIGHT
    cosine = {1: 0.8, 2: 0.6, 3: 0.2}
    bm25 = {1: 0.0, 2: 5.0, 3: 10.0}
    fused = dict(fuse(cosine, bm25, ceiling=10.0))
    assert fused == pytest.approx({1: w * 0.8, 2: w * 0.6 + (1 - w) * 0.5, 3: w * 0.2 + (1 - w)}, abs=1e-6)
    # Nothing is relative to the query's best: a better passage changes no other score.
    assert {p: s for p, s in fuse({**cosine, 9: 0.99}, {**bm25, 9: 9.0}, 10.0) if p != 9} == pytest.approx(fused)
    assert fuse({}, {}, 0.0) == [] and dict(fuse(cosine, bm25, 0.0))[3] == pytest.approx(w * 0.2)


def test_no_passage_scores_above_the_querys_bm25_ceiling(tmp_path: Path, fake: FakeFactory) -> None:
    # Short passages repeating a rare word come closest to FTS5's bound (term frequency → ∞,
    # length far below the average); the ceiling holds for them, and for the one that matches
    # every query word most often, BM25 is most of it (the share is not relative to the best hit).
    (tmp_path / "notes").mkdir()
    for i in range(8):
        (tmp_path / "notes" / f"n{i}.txt").write_text(f"common words about note {i} " * (1 + 6 * (i % 3)))
    (tmp_path / "notes" / "rare.txt").write_text("zebra " * 40 + "common")
    sync(tmp_path / "notes", embedder_factory=fake)
    with Index(tmp_path / "notes", embedder_factory=fake) as idx:
        catalog = idx.store.catalog
        for text in ["zebra", "zebra common", "common words", "zebra zebra note 3", "absent words"]:
            ceiling, found = catalog.lexical_ceiling(text), catalog.lexical(text, 100)
            assert all(0 < score <= ceiling for _, score in found), (text, ceiling, found)
        assert catalog.lexical("zebra", 1)[0][1] > 0.8 * catalog.lexical_ceiling("zebra")
        assert catalog.lexical_ceiling("") == 0.0 and catalog.lexical_ceiling("qqqzzz") > 0


def test_a_passage_found_by_one_list_gets_its_real_score_from_the_other(indexed: Path) -> None:
    text = "rotate bread temples"
    with Index(indexed, embedder_factory=FakeFactory()) as idx:
        catalog, vectors = idx.store.catalog, idx.store.vectors()
        vector = idx.embedder().embed_query(text)
        every_cosine = dict(vectors.search(vector, 100))
        every_bm25 = dict(catalog.lexical(text, 100))
        dense = vectors.search(vector, 1)
        # One pass: the best lexical passage (one the dense list lacks, here) and the dense one's BM25.
        found = catalog.lexical_pass(text, 1, also=[dense[0][0]])
        assert found.ranked == [max(every_bm25.items(), key=lambda item: (item[1], -item[0]))]
        cosine, bm25 = complete_legs(dense, found, vector, vectors)
        assert cosine.keys() == bm25.keys() == {dense[0][0], found.ranked[0][0]}
        for pid in cosine:
            assert cosine[pid] == pytest.approx(every_cosine[pid]) and bm25[pid] == pytest.approx(every_bm25[pid])
        hits = idx.query(text, top_k=3)
        assert all(h.dense is not None and h.lexical is not None for h in hits)
        assert [h.to_dict()["dense"] for h in hits] == [round(h.dense, 6) for h in hits]


def test_modes_from_the_cli(indexed: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["query", "logrotate", "--mode", "lexical", "--index", str(indexed), "-f", "paths"])
    assert out.exit_code == 0 and out.stdout == f"{indexed / 'logs.md'}\n"  # absolute: run from outside the index
    out = runner.invoke(app, ["query", "zzzz", "--mode", "lexical", "--index", str(indexed)])
    assert out.exit_code == 1
    out = runner.invoke(app, ["query", "logs", "--mode", "fuzzy", "--index", str(indexed)])
    assert out.exit_code == 2 and "fuzzy" in out.output


def test_a_long_query_asks_for_its_most_informative_words_only() -> None:
    words = [f"w{i}" for i in range(MAX_QUERY_WORDS + 10)]
    held = {w: (i * 7) % 50 for i, w in enumerate(words)}  # some held by none, some rarer than others
    kept = informative(words, held)
    assert len(kept) == MAX_QUERY_WORDS and all(held[w] > 0 for w in kept)
    assert max(held[w] for w in kept) <= min(held[w] for w in words if held[w] > 0 and w not in kept)
    assert kept == [w for w in words if w in kept]  # in the query's order
    # A short query asks for every word some passage holds, however common.
    assert informative(["the", "zebra", "gone"], {"the": 600, "zebra": 3, "gone": 0}) == ["the", "zebra"]


def test_one_lexical_pass_scores_the_asked_for_passages_beyond_its_best(indexed: Path) -> None:
    text = "rotate bread temples logs"
    with Index(indexed, embedder_factory=FakeFactory()) as idx:
        catalog = idx.store.catalog
        every = catalog.lexical(text, 1000)
        assert len(every) >= 3
        asked = [every[-1][0], every[-2][0], 10**9]  # the two weakest, and an id no passage has
        found = catalog.lexical_pass(text, 1, also=asked)
        assert found.ranked == every[:1] and found.ceiling == pytest.approx(catalog.lexical_ceiling(text))
        assert found.scores == pytest.approx({pid: s for pid, s in every if pid in {*asked, every[0][0]}})
