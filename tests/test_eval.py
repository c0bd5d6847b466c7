"""``semsearch eval`` on tiny BEIR-layout datasets written here, with metric values
worked out by hand, and the metrics checked against trec_eval (pytrec_eval)."""

from __future__ import annotations

import json
import random
from math import log2
from pathlib import Path

import pytest
import pytrec_eval
from typer.testing import CliRunner

from semsearch.cli import app
from semsearch.evaluation import doc_filename, doc_id, ndcg, recall, reciprocal_rank, run_eval

from .conftest import FakeFactory


def write_beir(folder: Path, corpus: dict[str, str], queries: dict[str, str], qrels: list[tuple[str, str, int]],
               split: str = "test") -> Path:
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w") as fh:
        for did, text in corpus.items():
            title, _, body = text.partition(". ")
            fh.write(json.dumps({"_id": did, "title": title, "text": body}) + "\n")
    with open(folder / "queries.jsonl", "w") as fh:
        for qid, text in queries.items():
            fh.write(json.dumps({"_id": qid, "text": text, "metadata": {}}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{g}" for q, d, g in qrels]
    (folder / "qrels" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return folder


# Lexical ranking is predictable by hand: q1 ranks doc "q1" (both words, twice), d1
# (both words), d5 (one word); q2 ranks d3 (both words) above d2 (one); q3 shares no
# word with any document, so finds nothing. q4 has no judgement in the split.
CORPUS = {
    "d1": "Logs. Rotate log files weekly with logrotate.",
    "d2": "Bread. Banana bread recipe.",
    "d3": "Smoothie. Apple and banana smoothie.",
    "d4": "Kyoto. Temples in autumn.",
    "d5": "Compression. Logrotate compresses old files.",
    "q1": "Duplicate. logrotate weekly logrotate weekly",
}
QUERIES = {"q1": "logrotate weekly", "q2": "apple banana", "q3": "sunset mountain", "q4": "logrotate"}
QRELS = [("q1", "d1", 1), ("q1", "d5", 2), ("q2", "d2", 1), ("q3", "d4", 1), ("q3", "d1", 0)]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "tiny", CORPUS, QUERIES, QRELS)


def test_eval_gives_the_hand_computed_values(tiny: Path, tmp_path: Path) -> None:
    fake = FakeFactory()
    report = run_eval(tiny, modes=["lexical"], ignore_identical_ids=True, cache=tmp_path / "cache",
                      embedder_factory=fake)
    (result,) = report.results
    assert result.mode == "lexical" and result.queries == 3 and report.documents == 6 and not report.index_reused
    # q1 ranks d1 (gain 1), d5 (gain 2); ideal is d5, d1. q2 ranks d3, d2 (gain 1). q3 finds nothing.
    q1 = (1 / log2(2) + 2 / log2(3)) / (2 / log2(2) + 1 / log2(3))
    q2 = (1 / log2(3)) / (1 / log2(2))
    assert result.scores.ndcg_at_10 == pytest.approx((q1 + q2 + 0) / 3)
    assert result.scores.recall_at_100 == pytest.approx((1 + 1 + 0) / 3)
    assert result.scores.mrr_at_10 == pytest.approx((1 + 1 / 2 + 0) / 3)

    again = FakeFactory()
    report = run_eval(tiny, modes=["lexical"], cache=tmp_path / "cache", embedder_factory=again)
    assert report.index_reused and again.passages_embedded == 0  # the cached index, untouched
    # Without --ignore-identical-ids, document "q1" is q1's first answer and pushes d1, d5 down.
    q1 = (1 / log2(3) + 2 / log2(4)) / (2 / log2(2) + 1 / log2(3))
    assert report.results[0].scores.ndcg_at_10 == pytest.approx((q1 + q2 + 0) / 3)
    assert report.results[0].scores.mrr_at_10 == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)


def test_the_cache_is_keyed_by_settings(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run_eval(tiny, modes=["lexical"], cache=cache, embedder_factory=FakeFactory())
    other = run_eval(tiny, modes=["lexical"], chunk_tokens=16, cache=cache, embedder_factory=FakeFactory())
    assert not other.index_reused and other.index_dir != first.index_dir
    assert sorted(p.parent for p in cache.glob("*/docs")) == sorted([first.index_dir, other.index_dir])


@pytest.mark.parametrize("did", ["123", "a/b", "..", ".hidden", "x y%z", "日本", "-"])
def test_document_ids_survive_as_file_names(did: str) -> None:
    name = doc_filename(did)
    assert "/" not in name and not name.startswith(".") and doc_id(f"docs/{name}") == did


def test_metrics_agree_with_trec_eval() -> None:
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(150)]
    qrels = {f"q{q}": {d: rng.choice([0, 1, 1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 12))} for q in range(40)}
    runs = {q: rng.sample(docs, rng.randint(0, 120)) for q in qrels}
    scored = {q: {d: float(len(r) - i) for i, d in enumerate(r)} for q, r in runs.items()}  # no ties
    top10 = {q: {d: s for d, s in r.items() if s > len(r) - 10} for q, r in scored.items()}
    full = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(scored)
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    for q, ranking in runs.items():
        if not any(qrels[q].values()):
            continue
        assert ndcg(ranking, qrels[q]) == pytest.approx(full[q]["ndcg_cut_10"], abs=1e-9)
        assert recall(ranking, qrels[q]) == pytest.approx(full[q]["recall_100"], abs=1e-9)
        assert reciprocal_rank(ranking, qrels[q]) == pytest.approx(mrr[q]["recip_rank"], abs=1e-9)


def test_bad_datasets_are_one_line_errors(tmp_path: Path, tiny: Path) -> None:
    runner = CliRunner()
    cache = ["--cache-dir", str(tmp_path / "cache")]
    for args, says in [
        ([str(tmp_path / "missing")], "is not a folder"),
        ([str(tiny), "--split", "dev"], "check --split"),
        ([str(tmp_path)], "corpus.jsonl is missing"),
    ]:
        out = runner.invoke(app, ["eval", *args, *cache])
        assert out.exit_code == 2 and says in out.output and len(out.output.strip().splitlines()) == 1, out.output


# Built so that each single mode misses one query. q1 needs an exact number, which an
# embedding barely sees: the short invoices with similar numbers look closer. q2 shares
# no word with its answer, and its words point BM25 at the bakery note.
HYBRID_CORPUS = {
    "electrician": "Electrician. Rewiring the kitchen and the garage: invoice 88412, paid in March.",
    "invoice-88421": "Invoice 88421. Paid.",
    "invoice-84812": "Invoice 84812. Paid.",
    "log-rotation": "Log rotation. Rotate, compress and delete old system logs weekly so the disk never runs out "
                    "of space.",
    "bakery": "Bakery. Stop by for a filling breakfast before the drive up to the lake.",
    "garden": "Garden. Plant garlic cloves in autumn, pointy end up, a hand apart.",
}
HYBRID_QUERIES = {"q1": "invoice 88412", "q2": "stop server journals from filling up the drive"}


@pytest.mark.slow
def test_hybrid_beats_both_single_modes_with_the_real_model(tmp_path: Path) -> None:
    qrels = [("q1", "electrician", 1), ("q2", "log-rotation", 1)]
    data = write_beir(tmp_path / "hybrid", HYBRID_CORPUS, HYBRID_QUERIES, qrels)
    out = CliRunner().invoke(app, ["eval", str(data), "--cache-dir", str(tmp_path / "cache"), "--format", "json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    ndcg = {r["mode"]: r["scores"]["ndcg_at_10"] for r in report["results"]}
    assert ndcg["hybrid"] == pytest.approx(1.0) and ndcg["dense"] < 1 and ndcg["lexical"] < 1, ndcg
