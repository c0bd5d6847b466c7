"""The rerank stage (``query --rerank MODEL``) with a tiny cross-encoder the test builds
itself: no cross-encoder ships with semsearch, and nothing may be downloaded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch.cli import app

from .test_eval import CORPUS, QRELS, QUERIES, write_beir

pytestmark = pytest.mark.slow  # sentence-transformers and torch load a cross-encoder: out of the fast tier

runner = CliRunner()
QUERY = "what to do with kitchen scraps and fallen leaves"


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory, sample_fake: Path) -> Path:
    """A 2-layer BERT cross-encoder (32 wide, random weights, one output), its word-piece
    vocabulary the words of the sample notes: saved as a sentence-transformers model would be."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("cross-encoder")
    words = {w.lower() for f in sample_fake.rglob("*") if f.is_file() and ".semsearch" not in f.parts
             for w in re.findall(r"[A-Za-z]+", f.read_text(errors="replace"))}
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]) + "\n")
    tokenizer = transformers.BertTokenizer(str(folder / "vocab.txt"))
    torch.manual_seed(16)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=37, num_labels=1,
                                      initializer_range=0.5)  # random, but spread-out scores
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_rerank_orders_the_results_by_the_cross_encoders_scores(
    sample_fake: Path, tiny_cross_encoder: Path, fake_model: None
) -> None:
    from sentence_transformers import CrossEncoder

    plain = run("query", QUERY, "--index", sample_fake, "-k", 6, "--format", "json", "--min-score", 0)
    result = run("query", QUERY, "--index", sample_fake, "-k", 6, "--format", "json", "--rerank", tiny_cross_encoder)
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) >= 4 and len({h["rerank"] for h in hits}) >= 2
    expected = CrossEncoder(str(tiny_cross_encoder)).predict([(QUERY, h["text"]) for h in hits])
    assert [h["rerank"] for h in hits] == pytest.approx([round(float(s), 6) for s in expected], abs=1e-5)
    assert [h["rerank"] for h in hits] == sorted((h["rerank"] for h in hits), reverse=True)
    # Each hit keeps the mode's own score (as without the reranker), and without one there is no "rerank" field.
    mode_scores = {(h["path"], h["start_line"]): h["score"] for h in json.loads(plain.stdout)}
    assert all("rerank" not in h for h in json.loads(plain.stdout))
    for h in hits:
        assert h["score"] == mode_scores.get((h["path"], h["start_line"]), h["score"])
    # --min-score applies to the reranker's scores: only those at or above it are left.
    distinct = sorted({h["rerank"] for h in hits}, reverse=True)
    cut = (distinct[len(distinct) // 2 - 1] + distinct[len(distinct) // 2]) / 2
    result = run("query", QUERY, "--index", sample_fake, "-k", 6, "--format", "json", "--rerank", tiny_cross_encoder,
                 "--min-score", cut)
    assert [h["rerank"] for h in json.loads(result.stdout)] == [h["rerank"] for h in hits if h["rerank"] >= cut]


def test_a_missing_or_bad_reranker_is_a_one_line_error(sample_fake: Path, tmp_path: Path, fake_model: None) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    tiny = write_beir(tmp_path / "tiny", CORPUS, QUERIES, QRELS)
    for model in (tmp_path / "missing", tmp_path / "bad"):
        for args in (("query", QUERY, "--index", sample_fake), ("eval", tiny, "--cache-dir", tmp_path / "cache")):
            result = run(*args, "--rerank", model)
            assert result.exit_code == 2, result.output
            assert result.stderr.startswith("semsearch: error: --rerank")
            assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cache").exists()  # told before anything is indexed


def test_eval_reranks_each_query(tmp_path: Path, tiny_cross_encoder: Path, fake_model: None) -> None:
    tiny = write_beir(tmp_path / "tiny", CORPUS, QUERIES, QRELS)
    result = run("eval", tiny, "--cache-dir", tmp_path / "cache", "--rerank", tiny_cross_encoder, "-f", "json")
    assert result.exit_code == 0, result.output
    assert {r["mode"] for r in json.loads(result.stdout)["results"]} == {"dense", "lexical", "hybrid"}
