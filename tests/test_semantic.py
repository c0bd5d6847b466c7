"""Meaning over keywords, with the real default model on a copy of sample_corpus/ (slow, all of it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch import Index
from semsearch.cli import app
from semsearch.search.calibration import CALIBRATIONS

from .conftest import copy_sample
from .paraphrases import PARAPHRASES

pytestmark = pytest.mark.slow

# The paraphrase queries whose note the default floor hides (BENCHMARKS.md, "Scores and abstention").
MISSED_BY_THE_FLOOR = ["keep my wild yeast culture alive in the fridge"]
STOPWORDS = set("a an and the to in on of my our with without what that for from up case i it won't".split())


@pytest.fixture(scope="module")
def index(sample_copy: Path):
    with Index(sample_copy) as idx:
        yield idx


@pytest.mark.parametrize("query, answer", PARAPHRASES)
def test_paraphrase_finds_its_note_first(index: Index, sample_copy: Path, query: str, answer: str) -> None:
    text = (sample_copy / answer).read_text(encoding="utf-8").lower()
    for word in set(re.findall(r"[\w']+", query.lower())) - STOPWORDS:
        stem = word[:-1] if word.endswith("s") else word
        assert not re.search(rf"\b{re.escape(stem)}(s|es|ed|ing)?\b", text), f"{answer} contains {word!r}"
    hits = index.query(query, top_k=3, mode="dense")
    assert hits[0].path == answer, [(h.path, round(h.score, 3)) for h in hits]


def test_hybrid_keeps_the_meaning(index: Index) -> None:
    """The default mode mixes in words, which can only pull a query's stray words' notes
    up: every answer stays in the top 3, and nearly all stay first."""
    ranks = []
    for query, answer in PARAPHRASES:
        paths = [h.path for h in index.query(query, top_k=3, min_score=0)]  # ranking, not the floor
        assert answer in paths, (query, paths)
        ranks.append(paths.index(answer) + 1)
    assert ranks.count(1) >= 9, ranks


@pytest.mark.parametrize(
    "query, answer",
    [
        ("emergency travel document for a lost passport", "travel/japan-trip-journal.md"),
        ("soaked paperbacks in freezer bags to halt mould", "books/reading-log-2023.md"),
    ],
)
def test_the_end_of_a_long_note_is_searchable(index: Index, sample_copy: Path, query: str, answer: str) -> None:
    """The answer sits in the last ~150 words of a 2,300-word note: proof it was not truncated."""
    text = (sample_copy / answer).read_text(encoding="utf-8")
    assert len(text.split()) > 2000
    hit = index.query(query, top_k=1)[0]
    assert hit.path == answer
    assert hit.end_line >= len(text.rstrip().splitlines()) - 5  # the passage found is the ending


@pytest.mark.parametrize(
    "source",
    ["meetings/2024-03-04-sprint-planning.md", "health/knee-physio.txt", "finance/pension-contributions.md",
     "garden/composting.md"],
)
def test_similar_files_are_the_topic_siblings(index: Index, sample_copy: Path, source: str) -> None:
    hits = index.similar(sample_copy / source, top_k=3)
    topic = source.split("/")[0]
    assert [h.path.split("/")[0] for h in hits] == [topic] * 3, [(h.path, round(h.score, 3)) for h in hits]
    assert source not in {h.path for h in hits}
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_incremental_update_through_the_cli(tmp_path: Path) -> None:
    """Edit one file, delete one, add one: only their passages are embedded, and results follow."""
    root = tmp_path / "notes"
    for folder in ("garden", "howto", "finance"):
        copy_sample(root / folder, folder)
    runner = CliRunner()

    def index_json() -> dict:
        result = runner.invoke(app, ["index", str(root), "--format", "json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    first = index_json()
    assert first["created"] and first["passages_embedded"] == first["passages"] > 0

    cron = root / "howto" / "cron-jobs.md"
    cron.write_text(cron.read_text() + "\n## Birds\n\nThe robin nesting in the ivy by the shed fledged three chicks.\n")
    (root / "finance" / "emergency-fund.txt").unlink()
    (root / "garden" / "beekeeping.md").write_text(
        "# Beekeeping\n\nInspected the hive: the queen is laying well, plenty of capped brood and honey stores.\n"
    )
    second = index_json()
    assert (second["added"], second["updated"], second["removed"]) == (
        ["garden/beekeeping.md"], ["howto/cron-jobs.md"], ["finance/emergency-fund.txt"]
    )
    assert second["unchanged"] == first["files"] - 2
    with Index(root) as idx:
        new_files = ("garden/beekeeping.md", "howto/cron-jobs.md")
        new_passages = sum(len(idx.store.catalog.file_vectors(p)[0]) for p in new_files)
        assert second["passages_embedded"] == new_passages
        assert idx.query("bees in a colony producing honey", top_k=1, min_score=0)[0].path == "garden/beekeeping.md"
        assert idx.query("young birds left the nest", top_k=1, min_score=0)[0].path == "howto/cron-jobs.md"
        assert "finance/emergency-fund.txt" not in {h.path for h in idx.query("money set aside in case I lose my job")}
    third = index_json()
    assert third["passages_embedded"] == 0 and third["unchanged"] == third["files"]


def test_gibberish_finds_nothing_and_exits_1(sample_copy: Path) -> None:
    """The default floor: a query that matches nothing gets no results, and the exit code says so."""
    for gibberish in ("zzqxv blorft", "quantum chromodynamics lattice gauge"):
        out = CliRunner().invoke(app, ["query", gibberish, "--index", str(sample_copy), "-f", "table"])
        assert out.exit_code == 1 and "no results" in out.output, (gibberish, out.output)
    # The floor can be turned off: then the nearest passages show, however poor.
    out = CliRunner().invoke(app, ["query", "zzqxv blorft", "--min-score", "0", "--index", str(sample_copy),
                                   "-f", "json"])
    assert out.exit_code == 0 and json.loads(out.stdout)


def test_the_default_floor_keeps_the_paraphrase_answers(sample_copy: Path, tmp_path: Path) -> None:
    """Matches by meaning alone (no shared word) score low on a curve fitted on SciFact, yet
    the default floor keeps them: each paraphrase query still shows its note (the README's
    demo is the first), through the real CLI (benchmarks/abstention.py measures the same)."""
    questions = tmp_path / "questions.txt"
    questions.write_text("".join(f"{q}\n" for q, _ in PARAPHRASES), encoding="utf-8")
    out = CliRunner().invoke(app, ["query", "--batch", str(questions), "--index", str(sample_copy), "-f", "json"])
    assert out.exit_code == 0, out.output
    shown = {answer["query"]: [hit["relpath"] for hit in answer["results"]] for answer in json.loads(out.stdout)}
    kept = [query for query, answer in PARAPHRASES if answer in shown[query]]
    missed = [query for query, _ in PARAPHRASES if query not in kept]
    assert missed == MISSED_BY_THE_FLOOR, shown


def test_the_readme_demo_still_answers_with_a_calibrated_score(sample_copy: Path) -> None:
    demo = "stop server journals from filling up the drive"
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert f'semsearch query "{demo}"' in readme
    out = CliRunner().invoke(app, ["query", demo, "--index", str(sample_copy), "-f", "json"])
    assert out.exit_code == 0, out.output
    hit = json.loads(out.stdout)[0]
    assert hit["relpath"] == "howto/logrotate.md"
    assert 0 < hit["score"] <= 1 and -1 <= hit["dense"] <= 1 and hit["lexical"] >= 0  # the raw legs travel along
    info = json.loads(CliRunner().invoke(app, ["info", "--index", str(sample_copy), "-f", "json"]).stdout)
    assert info["calibrated"] and info["default_floor"] == CALIBRATIONS[info["model"]].floor.score
    assert info["default_floor_standout"] == CALIBRATIONS[info["model"]].floor.standout
