"""``semsearch watch``: the real command in a child process (fast fake embedder), driven
by real file writes; bounded waits for its log lines, never timed assertions."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from semsearch import Index, sync

from .conftest import FakeFactory, copy_sample
from .live_process import LiveProcess

pytestmark = pytest.mark.slow  # real watchers and child processes: out of the fast tier


def paths_and_texts(root: Path) -> dict[str, list[str]]:
    with Index(root, embedder_factory=FakeFactory()) as idx:
        catalog = idx.store.catalog
        return {p: [r.text for r in catalog.passages(catalog.file_vectors(p)[0]).values()]
                for p, rec in catalog.files().items() if rec.skipped is None}


def embedded(lines: list[str]) -> int:
    """Passages embedded, summed over the summary lines logged so far."""
    return sum(int(m.group(1)) for m in (re.search(r"\((\d+) embedded in", line) for line in lines) if m)


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "logs.md").write_text("# Logs\n\nRotate log files weekly with logrotate.\n")
    (root / "sub" / "kyoto.md").write_text("Trip to Kyoto in autumn: temples and gardens.\n")
    return root


def test_edits_additions_renames_and_deletions_are_applied(notes: Path) -> None:
    with LiveProcess("watch", notes) as proc:
        proc.wait_for(r"indexed .*: 2 files")
        mark = len(proc.lines)
        (notes / "bread.txt").write_text("Bread: flour, water, yeast, salt.\n")
        proc.wait_for(r"added bread\.txt", after=mark)
        proc.wait_for(r"updated .*: 3 files", after=mark)
        assert "Bread: flour, water, yeast, salt." in paths_and_texts(notes)["bread.txt"]

        mark = len(proc.lines)
        (notes / "logs.md").write_text("# Logs\n\nKeep journald under 500 MB with SystemMaxUse.\n")
        proc.wait_for(r"updated logs\.md", after=mark)
        proc.wait_for(r"updated .*: 3 files", after=mark)
        assert any("SystemMaxUse" in t for t in paths_and_texts(notes)["logs.md"])

        mark = len(proc.lines)
        (notes / "sub" / "kyoto.md").rename(notes / "sub" / "japan.md")
        proc.wait_for(r"added sub/japan\.md", after=mark)
        proc.wait_for(r"removed sub/kyoto\.md", after=mark)
        proc.wait_for(r"updated .*: 3 files", after=mark)
        assert embedded(proc.lines[mark:]) == 0  # moved, not re-embedded

        mark = len(proc.lines)
        (notes / "bread.txt").unlink()
        proc.wait_for(r"removed bread\.txt", after=mark)
        proc.wait_for(r"updated .*: 2 files", after=mark)
        assert sorted(paths_and_texts(notes)) == ["logs.md", "sub/japan.md"]
        assert proc.interrupt() == 130
    assert "stopped watching" in proc.lines[-1]


def test_ignore_rules_and_hidden_files_are_honoured(notes: Path) -> None:
    with LiveProcess("watch", notes) as proc:
        proc.wait_for(r"indexed .*: 2 files")
        mark = len(proc.lines)
        (notes / ".hidden.md").write_text("a hidden note\n")
        (notes / ".cache").mkdir()
        (notes / ".cache" / "x.md").write_text("a file in a hidden folder\n")
        (notes / ".gitignore").write_text("drafts/\n")
        (notes / "drafts").mkdir()
        (notes / "drafts" / "wip.md").write_text("an ignored draft\n")
        (notes / "seen.md").write_text("a note that counts\n")
        proc.wait_for(r"added seen\.md", after=mark)
        proc.wait_for(r"updated .*: 3 files", after=mark)
        assert sorted(paths_and_texts(notes)) == ["logs.md", "seen.md", "sub/kyoto.md"]
        # A new ignore rule takes an indexed file out.
        mark = len(proc.lines)
        (notes / ".gitignore").write_text("drafts/\nseen.md\n")
        proc.wait_for(r"removed seen\.md", after=mark)
        assert not any(re.search(r"(added|updated) (drafts|\.)", line) for line in proc.lines)


def test_a_burst_is_batched_and_unchanged_content_is_not_re_embedded(notes: Path) -> None:
    with LiveProcess("watch", notes) as proc:
        proc.wait_for(r"indexed .*: 2 files")
        mark = len(proc.lines)
        burst = notes / "burst"
        burst.mkdir()
        for i in range(1000):
            (burst / f"note-{i:04}.md").write_text(f"Note number {i}.\n\nIt says something about topic {i % 37}.\n")
        proc.wait_for(r"updated .*: 1002 files", after=mark, timeout=300)
        runs = [line for line in proc.lines[mark:] if re.search(r"updated .*files", line)]
        first_burst = embedded(proc.lines[mark:])
        assert first_burst == 1000  # one passage per new note
        assert len(runs) < 100, runs  # batched, not one run per file

        # Every file touched (a checkout that rewrites them all), ten really changed.
        mark = len(proc.lines)
        for i in range(1000):
            path = burst / f"note-{i:04}.md"
            text = path.read_text() + ("An edit.\n" if i % 100 == 0 else "")
            path.write_text(text)
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        proc.wait_for(r"updated burst/note-0900\.md", after=mark, timeout=300)
        proc.wait_for(r"updated .*: 1002 files", after=mark, timeout=300)
        # Wait for the watcher to have caught up with everything, then count.
        (notes / "zz-last.md").write_text("the last change\n")
        proc.wait_for(r"added zz-last\.md", after=mark, timeout=300)
        proc.wait_for(r"updated .*: 1003 files", after=mark, timeout=300)
        assert embedded(proc.lines[mark:]) == 10 + 1  # the ten edited notes, and the new one


def test_kill_9_mid_burst_leaves_a_consistent_index(notes: Path, tmp_path: Path) -> None:
    # Killed at its 5th commit: after the first index (one commit), mid-way through the burst.
    with LiveProcess("watch", notes, action=("--kill", "committed:5"),
                     env={"SEMSEARCH_TEST_COMMIT_EVERY": "8"}) as proc:
        proc.wait_for(r"indexed .*: 2 files")
        for i in range(200):
            (notes / f"n{i:03}.md").write_text(f"Note {i}: something about topic {i % 11}.\n")
        assert proc.proc.wait(300) == -9
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        assert 2 < idx.info().files < 202  # some of the burst committed, not all
    sync(notes, embedder_factory=FakeFactory())
    fresh = tmp_path / "fresh"
    shutil.copytree(notes, fresh, ignore=shutil.ignore_patterns(".semsearch*"))
    sync(fresh, embedder_factory=FakeFactory())
    assert paths_and_texts(notes) == paths_and_texts(fresh)
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        info = idx.info()
        assert info.files == 202 and info.stale == 0
        assert len(idx.store.vectors()) == info.passages


def test_moved_files_keep_their_passages(notes: Path, tmp_path: Path) -> None:
    """A renamed folder (or file) with unchanged content is not re-embedded, and the index
    is the one a fresh run would make."""
    for i in range(30):
        (notes / "sub" / f"n{i:02}.md").write_text(f"Note {i} about topic {i % 7}.\n\nMore words {i}.\n")
    sync(notes, embedder_factory=FakeFactory())
    (notes / "sub").rename(notes / "moved")
    (notes / "logs.md").write_text((notes / "logs.md").read_text() + "An edit.\n")
    (notes / "copy.md").write_text((notes / "moved" / "n00.md").read_text())  # a copy is a new file
    fake = FakeFactory()
    report = sync(notes, embedder_factory=fake)
    assert fake.passages_embedded == report.passages_embedded == 1  # the edited note (a copy reuses stored vectors)
    assert sorted(report.removed) == sorted(["sub/kyoto.md"] + [f"sub/n{i:02}.md" for i in range(30)])
    assert len(report.added) == 32 and report.updated == ["logs.md"]
    fresh = tmp_path / "fresh"
    shutil.copytree(notes, fresh, ignore=shutil.ignore_patterns(".semsearch*"))
    sync(fresh, embedder_factory=FakeFactory())
    assert paths_and_texts(notes) == paths_and_texts(fresh)
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        hits = idx.query("Note 3 about topic 3", mode="lexical", top_k=1)
        assert hits[0].path == "moved/n03.md" and len(idx.store.vectors()) == idx.info().passages


def test_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    with LiveProcess("watch", tmp_path / "nope") as proc:
        assert proc.proc.wait(120) == 2
    assert "does not exist" in proc.lines[-1]


def test_real_model_edit_is_searchable(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    copy_sample(root, "garden")
    with LiveProcess("watch", root, real_model=True) as proc:
        proc.wait_for(r"indexed ", timeout=600)
        mark = len(proc.lines)
        (root / "fermenting.md").write_text("# Kimchi\n\nSalt the napa cabbage overnight, rinse, then pack it "
                                            "with chili paste into jars and leave it to sour for a week.\n")
        proc.wait_for(r"added fermenting\.md", after=mark, timeout=300)
        proc.wait_for(r"updated ", after=mark, timeout=300)
    with Index(root) as idx:
        hits = idx.query("how do I make spicy pickled vegetables", mode="dense", top_k=1)
    assert hits[0].path == "fermenting.md"
