"""The pieces under serve and mcp, in process (fast fake embedder): reading a passage
safely, and an index that follows finished updates only, under concurrent queries."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from semsearch import Index, answers, defaults, sync
from semsearch.errors import BadInputError, NotFoundError, OutsideRootError
from semsearch.live import LiveIndex
from semsearch.passages import MAX_LINES, read_passage

from .conftest import FakeFactory


@pytest.fixture
def linked(notes: Path, tmp_path: Path) -> Path:
    """``notes`` indexed with links followed, holding a link to a file outside it."""
    (tmp_path / "outside.md").write_text("a secret outside the notes\n")
    (notes / "link.md").symlink_to(tmp_path / "outside.md")
    (notes / "long.md").write_text("".join(f"line {i}\n" for i in range(1, 1001)))
    sync(notes, embedder_factory=FakeFactory(), follow_symlinks=True)
    return notes


def test_passages_of_indexed_files_inside_the_root(linked: Path) -> None:
    with Index(linked, embedder_factory=FakeFactory()) as idx:
        assert "link.md" in idx.store.catalog.files()  # indexed (links followed) ...
        with pytest.raises(OutsideRootError):
            read_passage(idx, "link.md")  # ... but its target is outside the root
        for path in ("../outside.md", str(linked.parent / "outside.md"), "sub/../../outside.md"):
            with pytest.raises(OutsideRootError):
                read_passage(idx, path)
        with pytest.raises(NotFoundError):
            read_passage(idx, ".semsearch/catalog.sqlite")
        with pytest.raises(BadInputError):
            read_passage(idx, "logs.md", 3, 2)
        same = read_passage(idx, str(linked / "sub" / "kyoto.md"))  # an absolute path inside is fine
        assert same.path == "sub/kyoto.md" and same.text.startswith("Trip to Kyoto")
        long = read_passage(idx, "long.md", 10)
        assert long.truncated and (long.start_line, long.end_line) == (10, 10 + MAX_LINES - 1)
        assert long.text.splitlines()[0] == "line 10" and long.total_lines == 1000
        (linked / "logs.md").unlink()
        with pytest.raises(NotFoundError):
            read_passage(idx, "logs.md")  # indexed, but gone since


def test_a_live_index_moves_to_finished_updates_only(notes: Path) -> None:
    sync(notes, embedder_factory=FakeFactory())
    with LiveIndex(notes, embedder_factory=FakeFactory()) as live:
        with live.reading() as index:
            before = index.generation
        (notes / "new.md").write_text("Sourdough starter: feed it flour and water daily.\n")
        # A writer's commit without its vectors.faiss (a run still going) is not followed...
        from semsearch.storage import LocalStore

        with LocalStore.open(notes / ".semsearch") as store, store.catalog.transaction():
            store.catalog.delete_file("bread.txt")
        with live.reading() as index:
            assert index.generation == before
        assert answers.search(live, "flour water yeast", mode="lexical")["results"][0]["path"] == "bread.txt"
        # ... a finished run is.
        sync(notes, embedder_factory=FakeFactory())
        data = answers.search(live, "sourdough starter", mode="lexical")
        assert data["generation"] != before and data["results"][0]["path"] == "new.md"


@pytest.mark.slow
def test_concurrent_queries_during_updates_see_whole_states(notes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sync(notes, embedder_factory=FakeFactory())
    monkeypatch.setattr(defaults, "COMMIT_EVERY", 4)  # each update commits five times
    errors: list[BaseException] = []
    done = threading.Event()

    with LiveIndex(notes, embedder_factory=FakeFactory()) as live:
        def ask() -> None:
            try:
                while not done.is_set():
                    data = answers.search(live, "note about topic", top_k=1000, per_file=None)
                    paths = {h["path"] for h in data["results"]}
                    batches = {p.split("-")[0] for p in paths if p.startswith("batch")}
                    # Each update adds a whole batch of 20 files: never part of one.
                    for b in batches:
                        assert sum(1 for p in paths if p.startswith(b + "-")) == 20, sorted(paths)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        readers = [threading.Thread(target=ask) for _ in range(6)]
        for t in readers:
            t.start()
        try:
            for batch in range(5):
                for i in range(20):
                    (notes / f"batch{batch}-{i:02}.md").write_text(f"A note about topic {batch}, number {i}.\n")
                sync(notes, embedder_factory=FakeFactory())
        finally:
            done.set()
            for t in readers:
                t.join(60)
    assert not errors, errors[0]
