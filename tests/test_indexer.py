"""Incremental indexing, bad input, and the index on disk (fast: a fake embedder).

The real model is exercised end to end in test_e2e.py; here the embedder is a
deterministic word hasher so storage logic can be tested in milliseconds.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from semsearch import Index, defaults, sync
from semsearch.errors import (
    BadInputError,
    CorruptIndexError,
    IndexLockedError,
    IndexNotFoundError,
    NoTextFilesError,
    SettingsMismatchError,
)
from semsearch.storage import writer_lock

from .conftest import FakeFactory, fingerprint, notices, permissions_bind
from .fakes import Interrupting


def index(root: Path, fake: FakeFactory, **kwargs):
    return sync(root, embedder_factory=fake, **kwargs)


def open_index(root: Path, fake: FakeFactory, **kwargs) -> Index:
    return Index(root, embedder_factory=fake, **kwargs)


def bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_first_index_then_nothing_changed(notes: Path, fake: FakeFactory) -> None:
    report = index(notes, fake)
    assert report.created and sorted(report.added) == ["bread.txt", "logs.md", "sub/kyoto.md"]
    assert report.passages_embedded == report.passages == 3
    assert (notes / ".semsearch" / "catalog.sqlite").is_file() and (notes / ".semsearch" / "vectors.faiss").is_file()
    assert (notes / ".semsearch").stat().st_mode & 0o077 == 0  # owner-only: it holds every note's text

    again = FakeFactory()
    report = index(notes, again)
    assert not report.changed and report.unchanged == 3 and report.passages_embedded == 0
    assert again.made == []  # nothing to embed: the model is not even loaded


def test_edit_delete_add_embeds_only_what_changed(notes: Path, fake: FakeFactory) -> None:
    index(notes, fake)
    (notes / "logs.md").write_text("# Logs\n\nShip logs to a central syslog server instead.\n")
    (notes / "bread.txt").unlink()
    (notes / "sub" / "tea.md").write_text("Green tea: steep at 80 degrees for two minutes.\n")
    bump_mtime(notes / "sub" / "kyoto.md")  # touched, content unchanged

    second = FakeFactory()
    report = index(notes, second)
    assert report.updated == ["logs.md"] and report.added == ["sub/tea.md"] and report.removed == ["bread.txt"]
    assert report.unchanged == 1 and report.passages_embedded == 2 == second.passages_embedded

    with open_index(notes, FakeFactory()) as idx:
        assert idx.query("central syslog server")[0].path == "logs.md"
        assert idx.query("steep green tea")[0].path == "sub/tea.md"
        assert "bread.txt" not in {h.path for h in idx.query("flour yeast knead", top_k=10)}
        assert idx.info().stale == 0


def test_results_carry_line_ranges_and_respect_filters(notes: Path, fake: FakeFactory) -> None:
    long = "\n".join(f"paragraph {i} about gardening tomatoes and compost" for i in range(400))
    (notes / "garden.md").write_text(long + "\n")
    index(notes, fake, chunk_tokens=40, overlap=0)
    with open_index(notes, FakeFactory()) as idx:
        best = idx.query("gardening tomatoes compost", top_k=5)
        assert best[0].path == "garden.md" and len({h.path for h in best}) == len(best)  # one per file
        passages = idx.query("gardening tomatoes compost", top_k=5, per_file=None)
        assert [h.path for h in passages] == ["garden.md"] * 5
        for hit in passages:
            lines = long.splitlines()[hit.start_line - 1 : hit.end_line]
            assert hit.text == "\n".join(lines)
        assert [h.rank for h in passages] == [1, 2, 3, 4, 5]
        assert all(h.path.startswith("sub/") for h in idx.query("anything at all", path_glob=["sub/*"]))
        assert idx.query("gardening tomatoes", mode="dense", min_score=0.999) == []  # cosine
        assert idx.query("gardening tomatoes", min_score=1.001) == []  # hybrid scores are at most 1


def test_similar_uses_stored_vectors_for_an_indexed_file(notes: Path, fake: FakeFactory) -> None:
    (notes / "logs2.md").write_text("Compress and rotate old log files with logrotate every week.\n")
    index(notes, fake)
    searching = FakeFactory()
    with open_index(notes, searching) as idx:
        hits = idx.similar(notes / "logs.md")
        assert hits[0].path == "logs2.md" and "logs.md" not in {h.path for h in hits}
        assert searching.passages_embedded == 0  # no re-embedding for an indexed file
        outside = notes.parent / "outside.txt"
        outside.write_text("Knead the bread dough with flour and yeast.\n")
        assert idx.similar(outside)[0].path == "bread.txt"
        assert idx.similar(text="temples and gardens in Kyoto")[0].path == "sub/kyoto.md"


@pytest.mark.parametrize("make", ["missing", "file", "empty", "only_binary", "only_ignored"])
def test_nothing_to_index_is_a_clear_error_and_writes_nothing(tmp_path: Path, fake: FakeFactory, make: str) -> None:
    root = tmp_path / "folder"
    if make == "file":
        root.write_text("a file, not a folder")
    elif make != "missing":
        root.mkdir()
    if make == "only_binary":
        (root / "blob").write_bytes(b"\x00\xff" * 100)
    if make == "only_ignored":
        (root / "a.md").write_text("hello")
        (root / ".gitignore").write_text("*.md\n")
    error = BadInputError if make in ("missing", "file") else NoTextFilesError
    with pytest.raises(error) as exc:
        index(root, fake)
    assert "\n" not in str(exc.value)
    if root.is_dir():
        assert not (root / ".semsearch").exists()


def test_skips_are_counted_with_reasons_and_remembered(notes: Path, fake: FakeFactory) -> None:
    (notes / "big.txt").write_text("x " * 60_000)
    (notes / "blob.bin2").write_bytes(b"\x00\x01" * 500)
    (notes / "empty.txt").write_text("")
    report = index(notes, fake, max_file_size=100_000)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["big.txt"].startswith("larger than --max-file-size") and reasons["blob.bin2"] == "binary"
    assert "empty.txt" in report.added  # an empty note is indexed, with no passages
    report = index(notes, FakeFactory(), max_file_size=100_000)
    assert not report.changed and {s.path for s in report.skipped} == {"big.txt", "blob.bin2"}
    report = index(notes, FakeFactory(), max_file_size=1_000_000)  # limit raised: the big file comes in
    assert report.added == ["big.txt"]


def test_unreadable_file_is_skipped_and_the_rest_indexed(notes: Path, fake: FakeFactory) -> None:
    secret = notes / "secret.md"
    secret.write_text("private")
    secret.chmod(0)
    with permissions_bind():  # as root too: the OS refuses the read as it would for a user
        report = index(notes, fake)
    assert [(s.path, s.reason) for s in report.skipped] == [("secret.md", "unreadable (Permission denied)")]
    assert len(report.added) == 3


def test_invalid_utf8_is_decoded_not_fatal(notes: Path, fake: FakeFactory) -> None:
    latin = "Crème brûlée: caramélisez le sucre à la flamme, servez très froid.\n"
    (notes / "latin.txt").write_bytes(latin.encode("cp1252"))
    (notes / "mixed.txt").write_bytes(b"valid start \xff\xfe\xfa then garbage \x80\x81 end\n")
    report = index(notes, fake)
    assert "latin.txt" in report.added
    with open_index(notes, FakeFactory()) as idx:
        assert "brûlée" in idx.query("crème brûlée caramélisez")[0].text


def test_model_mismatch_is_refused_with_the_fix(notes: Path, fake: FakeFactory, tmp_path: Path) -> None:
    index(notes, fake)
    other = tmp_path / "other-model"
    other.mkdir()
    (other / "modules.json").write_text("[]")
    before = fingerprint(notes)
    with pytest.raises(SettingsMismatchError, match="--rebuild"):
        index(notes, fake, model=str(other))
    with pytest.raises(SettingsMismatchError, match="--rebuild"):
        open_index(notes, fake, model=str(other))
    with pytest.raises(SettingsMismatchError, match="--chunk-tokens"):
        index(notes, fake, chunk_tokens=64)
    assert fingerprint(notes) == before


def test_query_without_an_index_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="semsearch index"):
        Index(tmp_path)


def test_index_is_found_from_a_subfolder(notes: Path, fake: FakeFactory) -> None:
    index(notes, fake)
    with open_index(notes / "sub", FakeFactory()) as idx:
        assert idx.root == notes.resolve()
    with open_index(notes / ".semsearch", FakeFactory()) as idx:
        assert idx.root == notes.resolve()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "not_ours"])
def test_corrupt_catalog_is_reported_and_left_alone(notes: Path, fake: FakeFactory, damage: str) -> None:
    index(notes, fake)
    catalog = notes / ".semsearch" / "catalog.sqlite"
    if damage == "garbage":
        catalog.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        catalog.write_bytes(catalog.read_bytes()[:1000])
    else:
        catalog.unlink()
        conn = sqlite3.connect(catalog)
        conn.execute("CREATE TABLE t (x)")
        conn.close()
    damaged = catalog.read_bytes()
    with pytest.raises(CorruptIndexError, match="--rebuild"):
        index(notes, fake)
    with pytest.raises(CorruptIndexError, match="--rebuild"):
        Index(notes)
    assert catalog.read_bytes() == damaged
    report = index(notes, fake, rebuild=True)
    assert report.created and report.files == 3


def test_foreign_semsearch_folder_is_not_touched(notes: Path, fake: FakeFactory) -> None:
    foreign = notes / ".semsearch"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("someone else's file")
    with pytest.raises(CorruptIndexError, match="not a semsearch index"):
        index(notes, fake)
    assert sorted(p.name for p in foreign.iterdir()) == ["mine.txt"]


def test_second_writer_is_refused_while_one_holds_the_lock(notes: Path, fake: FakeFactory) -> None:
    index(notes, fake)
    with writer_lock(notes / ".semsearch"), pytest.raises(IndexLockedError, match=f"pid {os.getpid()}"):
        index(notes, fake)
    index(notes, fake)  # released: the next run goes ahead


def many_notes(root: Path, n: int) -> None:
    for i in range(n):
        (root / f"note{i:03}.md").write_text(f"Note {i} about topic {i % 7} and idea {i * 13 % 11}.\n")


def test_interrupted_first_index_keeps_its_batches_and_resumes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(defaults, "COMMIT_EVERY", 10)
    root = tmp_path / "many"
    root.mkdir()
    many_notes(root, 45)
    with pytest.raises(KeyboardInterrupt):
        sync(root, embedder_factory=Interrupting(at_call=3))
    with Index(root, embedder_factory=FakeFactory()) as idx:
        # Progressive: every file's text was committed first; two batches of 10 vectors before Ctrl-C.
        info = idx.info()
        assert (info.files, info.passages, info.unembedded) == (45, 45, 25)
        assert info.to_dict()["passages_embedded"] == 20
        assert idx.query("topic 3")  # and they answer
        assert idx.query("44", mode="lexical")[0].path == "note044.md"  # the last file, by its words
        for path in idx.store.catalog.files():  # stored vectors for the embedded files only
            embedded = bool(idx.store.catalog.file_vectors(path)[0])
            assert idx.similarity(root / path, "topic").a.from_index == embedded
    resumed = FakeFactory()
    report = sync(root, embedder_factory=resumed)
    # Nothing is read or chunked again: only the 25 passages without a vector are embedded.
    assert not report.added and report.unchanged == 45 and resumed.passages_embedded == 25
    assert report.passages_embedded == 25
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    many_notes(fresh, 45)
    sync(fresh, embedder_factory=FakeFactory())
    with Index(root, embedder_factory=FakeFactory()) as a, Index(fresh, embedder_factory=FakeFactory()) as b:
        assert [(h.path, round(h.score, 5)) for h in a.query("topic 3 idea 5")] == [
            (h.path, round(h.score, 5)) for h in b.query("topic 3 idea 5")
        ]


def test_interrupted_update_and_rebuild_leave_the_last_good_index(notes: Path, fake: FakeFactory, monkeypatch) -> None:
    index(notes, fake)
    before = fingerprint(notes)
    (notes / "logs.md").write_text("changed content entirely\n")
    with pytest.raises(KeyboardInterrupt):
        sync(notes, embedder_factory=Interrupting(at_call=1))
    # The new text was committed before embedding began: found by its words, not yet by meaning.
    after_text = fingerprint(notes)
    assert after_text["files"] == before["files"]
    with open_index(notes, FakeFactory()) as idx:
        assert idx.query("changed content entirely", mode="lexical")[0].path == "logs.md"
        assert idx.info().unembedded == 1
    with pytest.raises(KeyboardInterrupt):
        sync(notes, embedder_factory=Interrupting(at_call=1), rebuild=True)
    # The old index answers as it was; the rebuild's committed text waits beside it, for the next --rebuild.
    assert fingerprint(notes) == after_text and (notes / ".semsearch.building").exists()
    report = index(notes, FakeFactory())
    assert report.passages_embedded == 1 and not report.updated


def test_stale_or_missing_faiss_file_is_rebuilt_from_the_catalog(notes: Path, fake: FakeFactory) -> None:
    index(notes, fake)
    faiss_file = notes / ".semsearch" / "vectors.faiss"
    with open_index(notes, FakeFactory()) as idx:
        expected = [(h.path, h.score) for h in idx.query("rotate logs")]
    for damage in (lambda: faiss_file.unlink(), lambda: faiss_file.write_bytes(b"SEMSFAI1" + b"\x00" * 30)):
        damage()
        with open_index(notes, FakeFactory()) as idx, notices() as told:
            assert [(h.path, h.score) for h in idx.query("rotate logs")] == expected
            assert any("rebuilt it from the catalog" in n for n in told)
        report = index(notes, FakeFactory())
        assert report.passages_embedded == 0 and faiss_file.is_file()
        with open_index(notes, FakeFactory()) as idx, notices() as told:
            idx.query("rotate logs")
            assert told == []


def test_info_reports_stale_files(notes: Path, fake: FakeFactory) -> None:
    index(notes, fake)
    (notes / "new.md").write_text("new")
    time.sleep(0.01)
    (notes / "logs.md").write_text("edited")
    (notes / "bread.txt").unlink()
    with open_index(notes, fake) as idx:
        info = idx.info()
    assert (info.stale_new, info.stale_changed, info.stale_removed) == (["new.md"], ["logs.md"], ["bread.txt"])
    assert info.files == 3 and info.passages == 3 and info.settings.model == defaults.DEFAULT_MODEL


def test_bad_query_options_are_errors(notes: Path, fake: FakeFactory) -> None:
    index(notes, fake)
    with open_index(notes, FakeFactory()) as idx:
        for kwargs in ({"top_k": 0}, {"per_file": 0}):
            with pytest.raises(BadInputError):
                idx.query("logs", **kwargs)
        with pytest.raises(BadInputError, match="empty"):
            idx.query("   ")
        with pytest.raises(BadInputError, match="not a file"):
            idx.similar(notes / "nope.md")


def test_rebuild_keeps_the_recorded_settings_unless_overridden(notes: Path, fake: FakeFactory) -> None:
    index(notes, fake, chunk_tokens=40, overlap=8, include=["*.md"])
    report = index(notes, FakeFactory(), rebuild=True)
    assert report.created and sorted(report.added) == ["logs.md", "sub/kyoto.md"]  # still only *.md
    with open_index(notes, FakeFactory()) as idx:
        settings = idx.settings
        assert (settings.chunk_tokens, settings.overlap, settings.include) == (40, 8, ("*.md",))
    index(notes, FakeFactory(), rebuild=True, include=[], chunk_tokens=64)
    with open_index(notes, FakeFactory()) as idx:
        assert (idx.settings.chunk_tokens, idx.settings.include, idx.info().files) == (64, (), 3)


def test_symlink_loop_and_outside_links_do_not_trap_or_leak(notes: Path, fake: FakeFactory, tmp_path: Path) -> None:
    outside = tmp_path / "private.md"
    outside.write_text("outside the indexed folder")
    os.symlink(notes, notes / "sub" / "loop")
    os.symlink(outside, notes / "link.md")
    report = index(notes, fake)
    assert sorted(report.added) == ["bread.txt", "logs.md", "sub/kyoto.md"]
    assert {s.path for s in report.skipped} == {"link.md", "sub/loop"}


def test_the_index_records_its_backend_and_keeps_it(notes: Path) -> None:
    fake = FakeFactory()
    report = sync(notes, backend="onnx-int8", embedder_factory=fake)
    assert report.backend == "onnx-int8" and fake.made[-1].backend == "onnx-int8"
    (notes / "new.md").write_text("A new note about sourdough.\n")
    sync(notes, embedder_factory=fake)  # no --backend: the index's own
    assert fake.made[-1].backend == "onnx-int8"
    with pytest.raises(SettingsMismatchError, match="--backend torch --rebuild"):
        sync(notes, backend="torch", embedder_factory=fake)
    with Index(notes, embedder_factory=fake) as idx:
        assert idx.info().settings.backend == "onnx-int8"
        idx.query("bread")
    assert fake.made[-1].backend == "onnx-int8"  # queries use the index's backend
    sync(notes, backend="torch", rebuild=True, embedder_factory=fake)
    with Index(notes, embedder_factory=fake) as idx:
        assert idx.info().settings.backend == "torch"
