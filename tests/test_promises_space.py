"""A full disk (finding 15 of the hostile review): one line that names the file system,
exit 2, no temporary file left behind, and the index keeps answering as it did."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .promises import assert_one_line_error, cli

# The index folder's own files (no -wal, no .tmp): the catalog and the vector files of
# storage/local.py (passages and files, each a main segment and a delta).
OURS = {".gitignore", "catalog.sqlite", "lock", "vectors.faiss", "vectors.delta", "files.faiss", "files.delta"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1.5 MB file system of its own (tmpfs; needs root)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small file system needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500k", "tmpfs", str(mount)], capture_output=True,
                      check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _big_note(path: Path) -> None:
    rng = random.Random(1)
    words = [f"word{i}" for i in range(3000)]
    path.write_text("\n\n".join(" ".join(rng.choice(words) for _ in range(60)) for _ in range(1500)))


@pytest.mark.slow
def test_a_disk_that_fills_up_during_index(small_disk: Path, monkeypatch) -> None:
    notes = small_disk / "notes"
    notes.mkdir()
    (notes / "logs.md").write_text("Rotate log files weekly with logrotate.\n")
    (notes / "bread.md").write_text("Bread: flour, water, yeast, salt.\n")
    assert cli(monkeypatch, "index", notes).exit_code == 0
    before = cli(monkeypatch, "query", "bread flour", "--index", notes, "--format", "json").stdout
    _big_note(notes / "big.md")  # half a megabyte of text: its passages, vectors and FTS entries do not fit
    full = cli(monkeypatch, "index", notes)
    assert_one_line_error(full, f"no space left on the file system at {small_disk}", "run the same command again")
    assert "rebuild" not in full.stderr
    assert set(os.listdir(notes / ".semsearch")) <= OURS  # no -wal, no .tmp left behind
    after = cli(monkeypatch, "query", "bread flour", "--index", notes, "--format", "json")
    assert after.exit_code == 0 and json.loads(after.stdout) == json.loads(before)
    (notes / "big.md").unlink()
    assert cli(monkeypatch, "index", notes).exit_code == 0


def test_a_disk_that_fills_up_while_vectors_are_written(notes: Path, monkeypatch) -> None:
    """ENOSPC where the file system reports it late, at fsync (injected there: a file
    system that fills up exactly between the catalog's commit and this write is not
    something a test can arrange for real)."""
    assert cli(monkeypatch, "index", notes).exit_code == 0
    (notes / "new.md").write_text("A new note about sourdough starters.\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    result = cli(monkeypatch, "index", notes)
    assert_one_line_error(result, "no space left on the file system at", "keeps its last complete commit")
    assert set(os.listdir(notes / ".semsearch")) <= OURS
    monkeypatch.undo()
    found = cli(monkeypatch, "query", "sourdough starter", "--index", notes, "--format", "paths")
    assert found.exit_code == 0 and "new.md" in found.stdout  # committed; the vectors rebuilt from the catalog
    assert cli(monkeypatch, "index", notes).exit_code == 0
