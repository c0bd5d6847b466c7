"""Undoing a filter, moving or restoring a file re-embeds nothing: content the catalog holds
(indexed, or removed in the last weeks) brings its stored passages back. Counted with the
fake embedder through the real command line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

import semsearch.embedders
from semsearch import Index
from semsearch.cli import app

from .clirun import garden
from .fakes import FakeFactory


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return garden(tmp_path)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeFactory:
    """The embedder the CLI loads, counting what it embeds."""
    factory = FakeFactory()
    monkeypatch.setattr(semsearch.embedders, "load", lambda ref, backend="onnx", **_: factory(ref, backend))
    return factory


def index(notes: Path, *args: str) -> dict:
    result = CliRunner().invoke(app, ["index", str(notes), "-f", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def answers(notes: Path) -> list[tuple[str, float]]:
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        return [(h.path, round(h.score, 6)) for h in idx.query("lettuce slugs bread dough", top_k=10, mode="dense")]


def retired(notes: Path) -> int:
    with sqlite3.connect(notes / ".semsearch" / "catalog.sqlite") as conn:
        return conn.execute("SELECT count(*) FROM retired").fetchone()[0]


def test_undoing_a_filter_reembeds_nothing(notes: Path, fake: FakeFactory) -> None:
    with sqlite3.connect(notes / ".semsearch" / "catalog.sqlite") as conn:  # as an index made before reuse existed
        conn.execute("DROP TABLE retired")
        conn.execute("DROP INDEX files_digest")
    before = answers(notes)
    left_out = index(notes, "--exclude", "kitchen/")
    assert sorted(left_out["removed"]) == ["kitchen/bread.md", "kitchen/salad.md"]
    assert retired(notes) == 2  # one passage each, kept aside
    back = index(notes, "--exclude", "")
    assert sorted(back["added"]) == ["kitchen/bread.md", "kitchen/salad.md"]
    assert back["passages_embedded"] == 0 and back["passages_reused"] == 2 and fake.passages_embedded == 0
    assert answers(notes) == before and retired(notes) == 0
    text = CliRunner().invoke(app, ["index", str(notes)]).stdout
    assert "0 embedded" in text and "reused" not in text  # nothing to do now


@pytest.mark.slow
def test_a_moved_or_restored_file_reembeds_nothing(notes: Path, fake: FakeFactory) -> None:
    salad = notes / "kitchen" / "salad.md"
    content = salad.read_text()
    salad.rename(notes / "garden" / "salad.md")
    moved = index(notes)
    assert moved["added"] == ["garden/salad.md"] and moved["removed"] == ["kitchen/salad.md"]
    assert moved["passages_embedded"] == 0 and moved["passages_reused"] == 1
    (notes / "garden" / "salad.md").unlink()
    assert index(notes)["removed"] == ["garden/salad.md"]
    salad.write_text(content)  # restored, say by `git checkout`
    restored = index(notes)
    assert restored["added"] == ["kitchen/salad.md"] and restored["passages_embedded"] == 0
    (notes / "kitchen" / "new.md").write_text("A note nobody has seen: sorrel soup.\n")
    assert index(notes)["passages_embedded"] == 1 and fake.passages_embedded == 1  # new content is embedded


def test_kept_passages_never_outnumber_the_index(notes: Path, fake: FakeFactory) -> None:
    for n in range(12):
        (notes / "kitchen" / f"extra{n}.md").write_text(f"Extra note {n} about soups and stews.\n")
    index(notes)
    live = index(notes, "--include", "garden/", "--yes")["passages"]
    assert live == 3 and retired(notes) == live  # 14 passages left the index; only as many as it holds are kept

