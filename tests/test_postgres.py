"""The shared store: the real command line (``--store postgresql://…``) against a real
PostgreSQL server with pgvector that the test run starts (tests/postgres.py), on private
copies of sample_corpus/. Fast tests use the fake embedder in process; the kill test runs
the command in a child process and the real-model comparison loads the model (slow).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest
from typer.testing import CliRunner

from semsearch import Index, sync
from semsearch.cli import app
from semsearch.storage.postgres_store import PgStore, writing
from semsearch.storage.sqlite import MAX_QUERY_WORDS, query_words

from .conftest import copy_sample
from .fakes import FakeFactory
from .postgres import passages_of, query_all

pytestmark = pytest.mark.slow  # a real PostgreSQL server: out of the fast tier

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent
QUERIES = ["stop server journals from filling up the drive", "what to do with kitchen scraps and fallen leaves",
           "rotate logs", "overnight bread"]


def run(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args])


def ok(*args: object) -> object:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def hits(url: str, text: str, *extra: object) -> list[dict]:
    return json.loads(ok("query", text, "--store", url, "-f", "json", "-k", 10, *extra).stdout)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "notes")


def test_index_query_similar_info_match_the_local_store(pg_url: str, corpus: Path, fake_model: None,
                                                        tmp_path: Path) -> None:
    report = json.loads(ok("index", corpus, "--store", pg_url, "-f", "json").stdout)
    local = copy_sample(tmp_path / "local")
    sync(local, embedder_factory=FakeFactory())
    assert not (corpus / ".semsearch").exists()  # the shared index is in the database, not the folder
    assert report["files"] > 40 and report["passages"] == passages_count(local)
    with Index(local, embedder_factory=FakeFactory()) as index, PgStore.open(pg_url, ["notes"]) as store:
        # Every vector the server holds, read in batches (float32, as the writer gave them).
        ids, vectors = (np.concatenate(part) for part in zip(*store.catalog.iter_vectors("passages", batch=50),
                                                              strict=True))
        assert len(ids) == report["passages"] == len(store.vectors())
        for text in QUERIES:
            # Dense search is exact at this size: the local store's results up to its catalog's int8 codes'
            # rounding (near-ties may trade places); the scores are the exact cosines of the stored float32 vectors.
            shared = hits(pg_url, text, "--mode", "dense")
            agrees_with_local(shared, index.query(text, mode="dense", top_k=10))
            cosines = vectors @ index.embedder().embed_query(text)
            best = ids[np.argsort(-cosines, kind="stable")[:10]]
            rows = store.catalog.passages(best.tolist())
            passages = hits(pg_url, text, "--mode", "dense", "--chunks")  # every passage, not one per file
            assert [(h["path"], h["start_line"]) for h in passages] == [(rows[i].path, rows[i].start_line)
                                                                       for i in best]
            assert [h["score"] for h in passages] == pytest.approx(np.sort(cosines)[::-1][:10], abs=1e-5)
            # A path filter keeps to the files it matches (ids chosen in the store, exact search among them).
            only = [(h["path"], h["start_line"], h["score"]) for h in
                    hits(pg_url, text, "--mode", "dense", "--chunks", "--path", "howto/*")]
            every = [(h["path"], h["start_line"], h["score"]) for h in
                     hits(pg_url, text, "--mode", "dense", "--chunks", "-k", 200)]
            assert only and only == [h for h in every if h[0].startswith("howto/")][:len(only)]
            # Lexical search is PostgreSQL's own ranking: every result holds a word of the query.
            words = set(text.lower().split())
            for hit in hits(pg_url, text, "--mode", "lexical"):
                assert words & set(hit["text"].lower().replace("-", " ").split()) or hit["score"] > 0
            assert hits(pg_url, text, "--mode", "hybrid")
        similar = json.loads(ok("similar", corpus / "howto" / "logrotate.md", "--store", pg_url, "-f", "json").stdout)
        expected = index.similar(local / "howto" / "logrotate.md")
        assert [h["path"] for h in similar] == [h.path for h in expected]
        assert "howto/logrotate.md" not in [h["path"] for h in similar]
        # Files are ranked by their mean vectors, searched in the server: exact, as the stored centroids say.
        source = store.catalog.centroid("howto/logrotate.md")
        assert source is not None
        file_ids, centroids = store.catalog.vectors_of("files", list(store.catalog.file_ids(
            list(store.catalog.files())).values()))
        assert len(file_ids) == store.catalog.count_vectors("files") == len(store.file_index())
        paths = store.catalog.file_paths(file_ids.tolist())
        ranked = [paths[i] for i in file_ids[np.argsort(-(centroids @ source), kind="stable")]]
        assert [h["path"] for h in similar] == [p for p in ranked if p != "howto/logrotate.md"][:len(similar)]
        near = json.loads(ok("similar", corpus / "howto" / "logrotate.md", "--store", pg_url, "-f", "json",
                             "--path", "garden/*").stdout)
        assert near and all(h["path"].startswith("garden/") for h in near)
    info = json.loads(ok("info", "--store", pg_url, "-f", "json").stdout)
    assert (info["files"], info["passages"], info["stale"]) == (report["files"], report["passages"], 0)
    assert info["root"] == str(corpus.resolve())


def agrees_with_local(shared: list[dict], local: list) -> None:
    """The shared store's exact dense results are the local store's up to its catalog's int8
    codes (cosines within 5e-3): rank by rank the same scores, and a result the local store
    does not show is a near-tie with its last one."""
    assert len(shared) == len(local)
    assert [h["score"] for h in shared] == pytest.approx([h.score for h in local], abs=5e-3)
    shown = {(h.path, h.start_line) for h in local}
    assert all(h["score"] <= local[-1].score + 5e-3 for h in shared if (h["path"], h["start_line"]) not in shown)


def passages_count(root: Path) -> int:
    with Index(root, embedder_factory=FakeFactory()) as index:
        return index.info().passages


def test_incremental_reindex_embeds_only_changes(pg_url: str, corpus: Path, fake_model: None, tmp_path: Path) -> None:
    ok("index", corpus, "--store", pg_url)
    (corpus / "howto" / "logrotate.md").write_text("# Log rotation\n\nCompress the logs every Sunday night.\n")
    (corpus / "travel" / "scotland-road-trip.txt").unlink()
    shutil.copy(corpus / "garden" / "garlic.md", corpus / "garden" / "garlic-copy.md")
    report = json.loads(ok("index", corpus, "--store", pg_url, "-f", "json").stdout)
    assert report["updated"] == ["howto/logrotate.md"] and report["added"] == ["garden/garlic-copy.md"]
    assert report["removed"] == ["travel/scotland-road-trip.txt"]
    assert report["passages_embedded"] == 1 and report["passages_reused"] > 0  # the copy costs no embedding
    again = json.loads(ok("index", corpus, "--store", pg_url, "-f", "json").stdout)
    assert again["passages_embedded"] == 0 and again["added"] == again["updated"] == again["removed"] == []
    # The state equals a fresh index of the same folder.
    ok("index", corpus, "--store", pg_url, "--collection", "fresh", "--rebuild")
    assert passages_of(pg_url, "notes") == passages_of(pg_url, "fresh")


def test_collections_are_isolated(pg_url: str, corpus: Path, fake_model: None, tmp_path: Path) -> None:
    other = copy_sample(tmp_path / "kitchen", "kitchen") if (corpus / "kitchen").is_dir() else None
    other = other or copy_sample(tmp_path / "garden", "garden")
    ok("index", corpus, "--store", pg_url, "--collection", "team-a")
    ok("index", other, "--store", pg_url, "--collection", "team-b")
    before = passages_of(pg_url, "team-a")
    only_b = hits(pg_url, "compost", "--collection", "team-b", "--mode", "lexical")
    assert only_b and all((other / h["path"]).is_file() for h in only_b)
    both = hits(pg_url, "compost", "--mode", "lexical", "-k", 50, "--chunks")
    assert {h["path"].split("/")[0] for h in both} == {"team-a", "team-b"}  # paths name their collection
    victim = sorted(p for p in other.rglob("*") if p.is_file())[0]
    victim.unlink()
    report = json.loads(ok("index", other, "--store", pg_url, "--collection", "team-b", "-f", "json").stdout)
    assert report["removed"] == [victim.relative_to(other).as_posix()]
    assert passages_of(pg_url, "team-a") == before  # another collection's writer never touches it
    info = json.loads(ok("info", "--store", pg_url, "--collection", "team-b", "-f", "json").stdout)
    assert info["files"] == report["files"]
    missing = run("query", "compost", "--store", pg_url, "--collection", "team-c")
    assert missing.exit_code == 2 and "no collection team-c" in missing.output


def test_a_password_never_shows(pg_url: str, corpus: Path, fake_model: None) -> None:
    secret = "Sw0rdfish-7431"
    query_all(pg_url, f"CREATE ROLE alice LOGIN SUPERUSER PASSWORD '{secret}'")
    parts = urlsplit(pg_url)
    url = urlunsplit((parts.scheme, f"alice:{secret}@{parts.hostname or ''}", parts.path, parts.query, ""))
    unreachable = urlunsplit((parts.scheme, f"alice:{secret}@", parts.path, "host=/nonexistent-semsearch", ""))
    outputs = [run("index", corpus, "--store", url), run("info", "--store", url), run("info", "--store", url, "-f",
               "json"), run("query", "rotate logs", "--store", url), run("query", "x", "--store", url,
               "--collection", "nope"), run("index", corpus, "--store", unreachable)]
    for result in outputs:
        assert secret not in result.output
    assert [r.exit_code for r in outputs] == [0, 0, 0, 0, 2, 2], [r.output for r in outputs]
    assert "alice:***@" in outputs[1].output.replace("\n", "") and "alice:***@" in outputs[2].output
    assert "cannot connect to" in outputs[5].output


def test_a_second_writer_on_a_collection_is_told_to_wait(pg_url: str, corpus: Path, fake_model: None) -> None:
    ok("index", corpus, "--store", pg_url)
    with writing(pg_url, "notes"):  # a writer's session holds the collection
        blocked = run("index", corpus, "--store", pg_url)
        other = run("index", corpus, "--store", pg_url, "--collection", "elsewhere")
    assert blocked.exit_code == 2
    assert "another index is running on collection notes" in blocked.output
    assert len(blocked.output.strip().splitlines()) == 1
    assert other.exit_code == 0, other.output  # writers on other collections are not held up


def test_bad_store_options_are_one_line_errors(pg_url: str, corpus: Path, fake_model: None) -> None:
    for args, says in ((["--store", "mysql://x@y/z"], "not a postgresql:// URL"),
                       (["--collection", "a"], "add --store"),
                       (["--store", pg_url, "--collection", "../x"], "not a collection name"),
                       (["--store", pg_url, "--vector-index", "ivf"], "a shared store searches with pgvector")):
        result = run("index", corpus, *args)
        assert result.exit_code == 2 and says in result.output and len(result.output.strip().splitlines()) == 1
    assert query_all(pg_url, "SELECT to_regclass('semsearch_collections')") == [(None,)]  # nothing was written


def test_kill_9_mid_index_then_resume(pg_url: str, corpus: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SEMSEARCH_TEST_COMMIT_EVERY": "20", "PYTHONPATH": str(REPO)}

    def child(*options: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPO / "tests" / "crash_child.py"), *options, "--", "index",
                               str(corpus), "--store", pg_url, "-q"], env=env, capture_output=True, text=True,
                              timeout=300, check=False)

    for nth in (3, 6):  # killed after two, then five, committed batches
        killed = child("--kill", f"embed:{nth}")
        assert killed.returncode == -9, killed.stderr
        kept = query_all(pg_url, "SELECT count(*) FROM semsearch_files")[0][0]
        assert 0 < kept < 50  # what was committed is kept, never half a batch
    resumed = child()
    assert resumed.returncode == 0, resumed.stderr
    whole = copy_sample(tmp_path / "whole")
    done = subprocess.run([sys.executable, str(REPO / "tests" / "crash_child.py"), "--", "index", str(whole),
                           "--store", pg_url, "--collection", "whole", "-q"], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert passages_of(pg_url, "notes") == passages_of(pg_url, "whole")


def test_real_model_dense_top10_equals_the_local_store(pg_url: str, sample_copy: Path, tmp_path: Path) -> None:
    corpus = copy_sample(tmp_path / "sample_corpus")
    ok("index", corpus, "--store", pg_url)
    with Index(sample_copy) as index:
        for text in QUERIES:
            agrees_with_local(hits(pg_url, text, "--mode", "dense"), index.query(text, mode="dense", top_k=10))


def test_eval_on_the_shared_store_scores_as_the_local_one(pg_url: str, tmp_path: Path, fake_model: None) -> None:
    from semsearch.evaluation import run_eval

    from .test_eval import CORPUS, QRELS, QUERIES, write_beir

    tiny = write_beir(tmp_path / "tiny", CORPUS, QUERIES, QRELS)
    shared = json.loads(ok("eval", tiny, "--store", pg_url, "--cache-dir", tmp_path / "c1", "--ignore-identical-ids",
                           "-f", "json").stdout)
    local = run_eval(tiny, ignore_identical_ids=True, cache=tmp_path / "c2", embedder_factory=FakeFactory())
    scores = {r["mode"]: r for r in shared["results"]}
    # The same rankings: dense is exact, and these lexical ones are clear-cut. (Hybrid fuses
    # BM25 on PostgreSQL's stemming and passage lengths, so its ranking may differ: see BENCHMARKS.md.)
    for result in (r for r in local.results if r.mode != "hybrid"):
        shared_ndcg = scores[result.mode]["scores"]["ndcg_at_10"]
        assert shared_ndcg == pytest.approx(result.scores.ndcg_at_10, abs=1e-6), result.mode
    assert query_all(pg_url, "SELECT count(*) FROM semsearch_collections WHERE name LIKE 'eval-tiny-%%'") == [(1,)]


def test_rebuild_swaps_in_a_new_collection(pg_url: str, corpus: Path, fake_model: None) -> None:
    ok("index", corpus, "--store", pg_url)
    before = json.loads(ok("info", "--store", pg_url, "-f", "json").stdout)
    changed = run("index", corpus, "--store", pg_url, "--chunk-tokens", 64)
    assert changed.exit_code == 2 and "--rebuild" in changed.output  # a recorded setting: not changed quietly
    ok("index", corpus, "--store", pg_url, "--chunk-tokens", 64, "--rebuild")
    after = json.loads(ok("info", "--store", pg_url, "-f", "json").stdout)
    assert after["chunk_tokens"] == 64 and after["files"] == before["files"] and after["passages"] > before["passages"]
    assert query_all(pg_url, "SELECT name FROM semsearch_collections") == [("notes",)]  # no hidden leftover
    assert hits(pg_url, "rotate logs")


def test_a_large_collection_is_searched_through_its_hnsw_index(pg_url: str, corpus: Path, fake_model: None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ok("index", corpus, "--store", pg_url)
    exact = {text: hits(pg_url, text, "--mode", "dense", "--chunks") for text in QUERIES}
    assert json.loads(ok("info", "--store", pg_url, "-f", "json").stdout)["vector_index_in_use"] == \
        "pgvector: exact (cosine)"
    monkeypatch.setattr("semsearch.storage.postgres_store.HNSW_MIN_PASSAGES", 10)  # this corpus counts as large
    ok("index", corpus, "--store", pg_url)  # nothing changed: the run only makes the index
    info = json.loads(ok("info", "--store", pg_url, "-f", "json").stdout)
    assert info["vector_index_in_use"].startswith("pgvector: HNSW")
    with PgStore.open(pg_url, ["notes"]) as store:
        assert store.vectors().approximate(store.catalog._ids[0], 10, None)
        assert not store.vectors().approximate(store.catalog._ids[0], 10, {1, 2})  # a filter: exact
        assert not store.file_index().approximate(store.catalog._ids[0], 10, None)  # files: exact
    found = 0
    for text in QUERIES:  # approximate: ten results, nearly all of the exact top 10, with their exact cosines
        got = {(h["path"], h["start_line"]): h["score"] for h in hits(pg_url, text, "--mode", "dense", "--chunks")}
        want = {(h["path"], h["start_line"]): h["score"] for h in exact[text]}
        assert len(got) == 10 and all(want[key] == score for key, score in got.items() if key in want)
        found += len(got.keys() & want.keys())
    assert found >= 0.9 * 10 * len(QUERIES)  # the fake embedder's vectors: the walk missed 1 of 40 when written


def test_the_lexical_ceiling_bounds_every_bm25_score(pg_url: str, corpus: Path, fake_model: None) -> None:
    """Hybrid's lexical share (BM25 over the query's ceiling) stays in 0..1 on the shared
    store too: no passage scores above the ceiling, and the best holder of a rare word nears it."""
    ok("index", corpus, "--store", pg_url)
    with PgStore.open(pg_url, ["notes"]) as store:
        for text in [*QUERIES, "logrotate", "qqqzzz", "électricien 88412"]:
            ceiling = store.catalog.lexical_ceiling(text)
            assert ceiling > 0 and all(score <= ceiling + 1e-9 for _, score in store.catalog.lexical(text, 500))
        # No word (or only English stop words, which PostgreSQL's parser drops): no lexical evidence.
        assert store.catalog.lexical_ceiling("") == store.catalog.lexical_ceiling("the and of") == 0.0
        best = store.catalog.lexical("logrotate", 1)[0][1]
        assert best > 0.3 * store.catalog.lexical_ceiling("logrotate")
    for text in QUERIES:  # hybrid on the shared store: scores in 0..1, as on the local store
        assert all(0 <= h["score"] <= 1 for h in hits(pg_url, text))


def test_a_long_query_asks_for_its_rarest_words(pg_url: str, corpus: Path, fake_model: None) -> None:
    """As on the local store, a query of more words than are asked for keeps its rarest: a
    rare word after many common ones still counts (it used to be cut with the words past
    the first 32)."""
    ok("index", corpus, "--store", pg_url)
    with PgStore.open(pg_url, ["notes"]) as store:
        common = [r[0] for r in store.catalog._rows(
            "SELECT word FROM ts_stat('SELECT tsv FROM semsearch_passages') WHERE word ~ '^[a-z]{4,}$' "
            "ORDER BY ndoc DESC, word LIMIT 60")]
        text = " ".join(common)
        assert len(query_words(text)) > MAX_QUERY_WORDS
        holders = dict(store.catalog.lexical("logrotate", 50))
        without, with_rare = (dict(store.catalog.lexical(t, 1000)) for t in (text, f"{text} logrotate"))
        assert holders and all(with_rare[i] > without.get(i, 0.0) for i in holders)
        assert store.catalog.lexical_ceiling(f"{text} logrotate") > store.catalog.lexical_ceiling(text)
