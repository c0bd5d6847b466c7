"""Rebuilds that are killed: findings 7 (a killed --rebuild threw away all its work) and 8
(without renameat2, a kill during the swap left no index, and every later --rebuild failed)
of the hostile review, with real kills (SIGKILL) of the real command line."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .promises import CHILD, child

pytestmark = pytest.mark.slow  # real kills of the command line in child processes

COMMIT_EVERY = 8


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    words = ["compost", "bread", "kyoto", "logrotate", "sourdough", "temple", "garden", "server", "backup", "cat"]
    for i in range(40):
        lines = [f"Note {i} about {words[i % 10]} and {words[(i * 3) % 10]}."] + [
            f"Line {j}: {words[(i + j) % 10]} {words[(i * j) % 10]} {words[(j * 7) % 10]}." for j in range(30)]
        (root / f"n{i:02}.md").write_text("\n\n".join(lines) + "\n")
    assert child("index", root).returncode == 0
    return root


def index(root: Path, *args: str, kill: str | None = None) -> subprocess.CompletedProcess:
    options = ["--kill", kill] if kill else []
    argv = [sys.executable, str(CHILD), *options, "--", "index", str(root), *args, "--format", "json"]
    return subprocess.run(argv, env={**os.environ, "SEMSEARCH_TEST_COMMIT_EVERY": str(COMMIT_EVERY)},
                          capture_output=True, text=True, timeout=600, check=False)


def committed(folder: Path) -> int:
    with sqlite3.connect(folder / "catalog.sqlite") as conn:
        return conn.execute("SELECT count(*) FROM chunks WHERE vector != x''").fetchone()[0]  # embedded


def answers(root: Path) -> list:
    done = child("query", "sourdough temple", "--index", root, "--format", "json", "-k", "5")
    return [(Path(h["path"]).name, round(h["score"], 5)) for h in json.loads(done.stdout)]


# Progressive indexing: every file's text is committed first; these kills land in the embedding phase
# ("vectors" is reached once per row a batch stores: the 60th is a few batches in).
@pytest.mark.parametrize("kill", ["embed:4", "vectors:60"], ids=["after-a-commit", "mid-batch"])
def test_a_killed_rebuild_resumes_re_embedding_at_most_one_batch(corpus: Path, kill: str) -> None:
    killed = index(corpus, "--rebuild", "--chunk-tokens", "64", kill=kill)
    assert killed.returncode == -9, killed.stderr
    building = corpus / ".semsearch.building"
    kept = committed(building)
    assert kept >= 2 * COMMIT_EVERY  # work that a rebuild used to throw away
    resumed = index(corpus, "--rebuild", "--chunk-tokens", "64")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the rebuild an interrupted run left" in resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["passages_embedded"] == report["passages"] - kept  # nothing embedded twice
    assert not building.exists()
    fresh = corpus.parent / "fresh"
    subprocess.run(["cp", "-r", str(corpus), str(fresh)], check=True)
    subprocess.run(["rm", "-rf", str(fresh / ".semsearch")], check=True)
    assert index(fresh, "--chunk-tokens", "64").returncode == 0
    assert answers(corpus) == answers(fresh)  # the same index as one built in one go


def test_a_killed_rebuild_with_other_settings_starts_afresh(corpus: Path) -> None:
    assert index(corpus, "--rebuild", "--chunk-tokens", "64", kill="committed:2").returncode == -9
    other = index(corpus, "--rebuild", "--chunk-tokens", "100")
    assert other.returncode == 0, other.stderr
    report = json.loads(other.stdout)
    assert report["passages_embedded"] == report["passages"] and "resuming" not in other.stderr


def test_a_plain_index_run_keeps_a_rebuild_in_progress(corpus: Path) -> None:
    assert index(corpus, "--rebuild", "--chunk-tokens", "64", kill="committed:2").returncode == -9
    kept = committed(corpus / ".semsearch.building")
    assert index(corpus).returncode == 0  # the live index is updated as usual
    assert committed(corpus / ".semsearch.building") == kept
    resumed = index(corpus, "--rebuild", "--chunk-tokens", "64")
    assert json.loads(resumed.stdout)["passages_embedded"] == json.loads(resumed.stdout)["passages"] - kept


# -- 8: no renameat2, and a kill between the swap's renames --------------------------------

_NO_RENAMEAT2 = """
import ctypes, os, signal, sys
sys.path.insert(0, {repo!r})
def no_libc(*args, **kwargs):
    raise OSError("no renameat2 here")
ctypes.CDLL = no_libc
rename, seen = os.rename, []
def counted(a, b, *args, **kwargs):
    if str(b).endswith(".swap") or seen:
        seen.append(b)
        if len(seen) == {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)
    return rename(a, b, *args, **kwargs)
os.rename = counted
from tests.crash_child import run
run(["--", *sys.argv[1:]])
"""


def no_renameat2(root: Path, *args: str, kill_at: int = 0) -> subprocess.CompletedProcess:
    """The real command line where the OS has no renameat2 (as on macOS or NFS), killed
    just before the swap's ``kill_at``-th rename (0: never)."""
    script = _NO_RENAMEAT2.format(repo=str(CHILD.parent.parent), kill_at=kill_at)
    return subprocess.run([sys.executable, "-c", script, "index", str(root), *args], capture_output=True,
                          text=True, timeout=600, check=False)


@pytest.mark.parametrize("kill_at", [2, 3], ids=["after-first-rename", "after-second-rename"])
def test_a_kill_during_the_three_rename_swap_is_recovered_by_the_next_run(corpus: Path, kill_at: int) -> None:
    killed = no_renameat2(corpus, "--rebuild", "--chunk-tokens", "64", kill_at=kill_at)
    assert killed.returncode == -9, killed.stderr
    assert (corpus / ".semsearch.swap").is_dir()  # the old index, half swapped out
    again = no_renameat2(corpus, "--rebuild", "--chunk-tokens", "100")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert sorted(p.name for p in corpus.iterdir() if p.name.startswith(".semsearch")) == [".semsearch"]
    info = json.loads(child("info", "--index", corpus, "--format", "json").stdout)
    assert info["chunk_tokens"] == 100 and info["files"] == 40
    assert answers(corpus)


def test_a_plain_run_after_the_kill_finishes_the_swap(corpus: Path) -> None:
    assert no_renameat2(corpus, "--rebuild", "--chunk-tokens", "64", kill_at=2).returncode == -9
    assert not (corpus / ".semsearch").exists()  # between the renames there is no index at all
    done = child("index", corpus, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["passages_embedded"] == 0  # the complete new index, moved in
    info = json.loads(child("info", "--index", corpus, "--format", "json").stdout)
    assert info["chunk_tokens"] == 64
    assert sorted(p.name for p in corpus.iterdir() if p.name.startswith(".semsearch")) == [".semsearch"]
