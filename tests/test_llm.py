"""Feeding a language model (`query --format context`) and comparing texts (`similarity`),
through the real CLI with the real default model on a private indexed copy of sample_corpus/."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch import Index
from semsearch.cli import app

from .test_context import parse

pytestmark = pytest.mark.slow

runner = CliRunner()
DEMO = "stop server journals from filling up the drive"  # the README's demo question
ANSWER = "howto/logrotate.md"


def run(*args: object, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def token_spans(sample_copy: Path):
    """The index model's own tokenizer, to count what the block holds."""
    with Index(sample_copy) as idx:
        return idx.embedder().token_spans


def file_lines(root: Path, path: str) -> list[str]:
    return (root / path).read_text(encoding="utf-8").split("\n")


@pytest.mark.parametrize("budget", [60, 300, 1500])
def test_context_fits_its_budget_cites_every_passage_and_leads_with_the_answer(
    sample_copy: Path, token_spans, budget: int
) -> None:
    # --min-score 0: more results than fit (the default floor would leave the answer alone)
    result = run("query", DEMO, "--index", sample_copy, "--format", "context", "--max-tokens", budget,
                 "--min-score", 0)
    assert result.exit_code == 0, result.output
    assert len(token_spans(result.stdout)) <= budget
    passages = parse(result.stdout)  # each passage: [n] path:start-end, its lines, any notes
    assert passages[0][0] == ANSWER
    for path, start, end, body, notes in passages:
        if not any("cut short" in note for note in notes):
            assert body == file_lines(sample_copy, path)[start - 1 : end]  # whole lines of the file
    if budget == 1500:
        best = json.loads(run("query", DEMO, "--index", sample_copy, "--format", "json").stdout)[0]
        path, start, end, _, notes = passages[0]
        assert start <= best["start_line"] and best["end_line"] <= end and not notes  # the answer passage, whole
        assert len(passages) > 1
    else:
        assert "more result" in result.stderr and "left out to fit --max-tokens" in result.stderr


def test_context_merges_overlapping_passages(sample_copy: Path) -> None:
    options = ["--index", sample_copy, "--chunks", "-k", "40", "--mode", "dense"]
    hits = json.loads(run("query", DEMO, *options, "--format", "json").stdout)
    overlapping = [(a, b) for a in hits for b in hits if a is not b and a["path"] == b["path"]
                   and a["start_line"] <= b["start_line"] <= a["end_line"]]
    assert overlapping, "consecutive passages of a file share lines (chunk overlap): some should be among 40"

    result = run("query", DEMO, *options, "--format", "context", "--max-tokens", 100_000)
    assert result.exit_code == 0 and result.stderr == ""
    passages = parse(result.stdout)
    assert all(not notes for *_, notes in passages)  # nothing cut
    for hit in hits:  # every result is shown, inside one passage
        assert any(p == hit["relpath"] and s <= hit["start_line"] and hit["end_line"] <= e for p, s, e, *_ in passages)
    for a, b in overlapping:  # overlapping results in a single passage
        assert sum(p == a["relpath"] and s <= a["start_line"] and b["end_line"] <= e for p, s, e, *_ in passages) == 1
    shown: dict[str, list[tuple[int, int]]] = {}
    for path, start, end, *_ in passages:
        shown.setdefault(path, []).append((start, end))
    for path, ranges in shown.items():  # no line twice; touching ranges would have been merged
        ranges.sort()
        assert all(prev[1] + 1 < nxt[0] for prev, nxt in itertools.pairwise(ranges)), (path, ranges)
    assert len(passages) < len(hits)


def test_context_bad_input_and_nothing_found(sample_copy: Path, tmp_path: Path) -> None:
    bad = [
        ["query", DEMO, "--index", sample_copy, "--max-tokens", "100"],
        ["query", "--batch", tmp_path / "q.txt", "--index", sample_copy, "--format", "context"],
        ["query", DEMO, "--index", sample_copy, "--format", "context", "--max-tokens", "3"],
        ["similar", sample_copy / ANSWER, "--index", sample_copy, "--format", "context"],
    ]
    (tmp_path / "q.txt").write_text(DEMO + "\n")
    for args in bad:
        result = run(*args)
        assert result.exit_code == 2 and result.stdout == "", (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1 and "error:" in result.stderr
    nothing = run("query", DEMO, "--index", sample_copy, "--format", "context", "--mode", "dense",
                  "--min-score", "0.99")
    assert nothing.exit_code == 1 and nothing.stdout == ""


def score_of(result) -> float:
    assert result.exit_code == 0, result.output
    return float(result.stdout.splitlines()[0])


def test_similarity_of_a_note_with_itself_is_one_with_and_without_the_index(sample_copy: Path) -> None:
    note = sample_copy / ANSWER
    assert score_of(run("similarity", note, note)) == pytest.approx(1.0, abs=1e-5)
    # stdin, embedded now, against the index's stored vectors of the same file
    result = run("similarity", "-", note, "--index", sample_copy, "--format", "json", input=note.read_text())
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["score"] == pytest.approx(1.0, abs=1e-5)
    assert (data["a"]["source"], data["a"]["kind"], data["a"]["from_index"]) == ("-", "text", False)
    assert (data["b"]["kind"], data["b"]["from_index"]) == ("file", True)
    assert data["model"] == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize("note, sibling, stranger", [
    ("garden/composting.md", "garden/garlic.md", "finance/pension-contributions.md"),
    ("finance/emergency-fund.txt", "finance/monthly-budget.md", "garden/garlic.md"),
])
def test_sibling_notes_score_higher_than_unrelated_ones(sample_copy: Path, note: str, sibling: str,
                                                        stranger: str) -> None:
    related = score_of(run("similarity", sample_copy / note, sample_copy / sibling))
    unrelated = score_of(run("similarity", sample_copy / note, sample_copy / stranger))
    assert related > unrelated + 0.1, (related, unrelated)


def test_similarity_of_texts_and_the_best_passage_pairs(sample_copy: Path) -> None:
    close = score_of(run("similarity", "--text", "the cat sat on the mat", "--text", "a kitten rests on a rug"))
    far = score_of(run("similarity", "--text", "the cat sat on the mat", "--text", "quarterly tax return deadline"))
    assert close > far

    note = sample_copy / ANSWER
    result = run("similarity", note, "--text", DEMO, "--passages", "-k", "3", "--format", "json")
    data = json.loads(result.stdout)
    assert len(data["pairs"]) == 1  # one passage on the text's side: one pair
    pair = data["pairs"][0]
    lines = file_lines(sample_copy, ANSWER)
    assert pair["a"]["text"].split("\n")[0] in lines[pair["a"]["start_line"] - 1]
    assert pair["b"] == {"start_line": 1, "end_line": 1, "text": DEMO}

    both = json.loads(run("similarity", note, sample_copy / "howto/cron-jobs.md", "--passages", "-k", "3",
                          "--format", "json").stdout)
    scores = [p["score"] for p in both["pairs"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    assert len({p["a"]["start_line"] for p in both["pairs"]}) == 3  # each passage used once
    table = run("similarity", note, sample_copy / "howto/cron-jobs.md", "--passages", "-k", "2", "--format", "tsv")
    first, *rows = table.stdout.splitlines()
    assert float(first) == pytest.approx(both["score"], abs=1e-6) and len(rows) == 2
    assert all(len(row.split("\t")) == 5 for row in rows)


def test_similarity_bad_input_exits_2_with_one_line(sample_copy: Path, tmp_path: Path) -> None:
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50)
    note = sample_copy / ANSWER
    cases = [
        (["similarity", tmp_path / "missing.md", note], None, "not a file (no such file)"),
        (["similarity", tmp_path, note], None, "not a file (a folder)"),
        (["similarity", binary, note], None, "binary"),
        (["similarity", "--text", "  \n ", note], None, "empty"),
        (["similarity", "-", note], "", "stdin is empty"),
        (["similarity", note], None, "exactly two"),
        (["similarity", note, note, note], None, "exactly two"),
        (["similarity", "-", "-"], "x", "only one side"),
        (["similarity", note, note, "--format", "csv"], None, "json"),
    ]
    for args, stdin, words in cases:
        result = run(*args, input=stdin)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, args
