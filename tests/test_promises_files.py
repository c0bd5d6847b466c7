"""Files that fight back: findings 9 (a damaged vectors.faiss with an intact header),
12 (ignore lines and globs pathspec rejects), 13 (ignore files and index files that hang
or never end) and 14 (a file that grows past --max-file-size before it is read) of the
hostile review, each through the real command line."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from semsearch.storage import codec

from .promises import CHILD, assert_one_line_error, cli

# -- 12: lines git accepts and pathspec rejects; bad globs on the command line -------------

BAD_LINES = ["bin\\", "!", "[z-a]"]


def test_bad_ignore_lines_are_skipped_with_a_notice_naming_file_and_line(notes: Path, monkeypatch) -> None:
    (notes / "sub" / ".gitignore").write_text("# notes\n" + "\n".join(BAD_LINES) + "\n*.log\n")
    (notes / "sub" / "debug.log").write_text("Rotate log files: a log that is ignored.\n")
    first = cli(monkeypatch, "index", notes, "--format", "json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert "sub/debug.log" not in report["added"] and "sub/kyoto.md" in report["added"]  # the good rules apply
    for number, line in enumerate(BAD_LINES, start=2):
        assert f"sub/.gitignore line {number}: {line!r} is not a rule semsearch can use" in first.stderr, first.stderr
    for args in (["index", notes], ["info", "--index", notes], ["query", "kyoto temples", "--index", notes]):
        assert cli(monkeypatch, *args).exit_code == 0  # and every later run


@pytest.mark.parametrize("option", ["--include", "--exclude"])
def test_a_bad_glob_for_index_is_one_line_and_not_remembered(notes: Path, option: str, monkeypatch) -> None:
    assert cli(monkeypatch, "index", notes).exit_code == 0
    result = cli(monkeypatch, "index", notes, option, "[z-a]")
    assert_one_line_error(result, f"{option} '[z-a]' is not a glob")
    info = json.loads(cli(monkeypatch, "info", "--index", notes, "--format", "json").stdout)
    assert info["include"] == [] and info["exclude"] == [] and info["files"] == 3


@pytest.mark.parametrize("glob", BAD_LINES)
def test_a_bad_path_glob_for_query_and_similar_is_one_line(notes: Path, glob: str, monkeypatch) -> None:
    assert cli(monkeypatch, "index", notes).exit_code == 0
    assert_one_line_error(cli(monkeypatch, "query", "logs", "--index", notes, "--path", glob), "--path")
    assert_one_line_error(cli(monkeypatch, "similar", notes / "logs.md", "--index", notes, "--path", glob), "--path")


# -- 13: ignore files and index files that hang or never end -------------------------------

def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # a run that reads /dev/zero fails, not the machine


def _run(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(CHILD), "--", *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=_limited, check=False)


@pytest.mark.slow
def test_an_ignore_file_linked_to_dev_zero_or_a_fifo_is_skipped_with_a_notice(notes: Path) -> None:
    (notes / ".gitignore").symlink_to("/dev/zero")
    os.mkfifo(notes / "sub" / ".semsearchignore")  # no one ever writes to it
    for args in (["index", notes], ["info", "--index", notes]):
        done = _run(*args)
        assert done.returncode == 0, done.stderr
        assert f"{notes / '.gitignore'} was not read (not a regular file)" in done.stderr
        assert f"{notes / 'sub' / '.semsearchignore'} was not read" in done.stderr


@pytest.mark.slow
def test_a_fifo_at_vectors_faiss_hangs_nothing(notes: Path) -> None:
    assert _run("index", notes).returncode == 0
    faiss_file = notes / ".semsearch" / "vectors.faiss"
    faiss_file.unlink()
    os.mkfifo(faiss_file)
    query = _run("query", "rotate logs", "--index", notes, "--format", "paths")
    assert query.returncode == 0 and query.stdout.splitlines()[0] == str(notes / "logs.md"), query.stderr
    assert "rebuilt it from the catalog" in query.stderr
    assert _run("index", notes).returncode == 0
    assert faiss_file.is_file()  # replaced by a real one
    assert _run("info", "--check", "--index", notes).returncode == 0


# -- 14: --max-file-size bounds what is read, whatever the file does meanwhile -------------

@pytest.mark.slow
def test_a_file_that_grows_after_the_walk_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    (root / "z").mkdir(parents=True)  # listed after the root's own files: the pause point
    (root / "app.log.md").write_text("13 bytes now\n")
    (root / "z" / "note.md").write_text("Rotate log files weekly.\n")
    flag = tmp_path / "paused"
    proc = subprocess.Popen([sys.executable, str(CHILD), "--pause", f"walk:2:{flag}", "--", "index", str(root),
                             "--max-file-size", "1", "--format", "json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not flag.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
        time.sleep(0.02)
    with open(root / "app.log.md", "a") as log:  # the log grows to 3 MB between the walk and the read
        log.write("a log line that keeps coming\n" * 110_000)
    flag.unlink()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["added"] == ["z/note.md"]
    assert {"path": "app.log.md", "reason": "larger than --max-file-size (grew past 1.0 MB while being read)"} in \
        report["skipped"]


# -- 9: vectors.faiss damaged behind an intact header --------------------------------------

@pytest.fixture
def thirty(tmp_path: Path, monkeypatch) -> Path:
    """Thirty notes, so that some vectors are not among the few checked on every load."""
    root = tmp_path / "thirty"
    root.mkdir()
    words = ["compost", "bread", "kyoto", "logrotate", "sourdough", "temple", "garden", "server", "backup", "cat"]
    for i in range(30):
        note = f"Note {i}: {words[i % 10]} and {words[(i * 3) % 10]} {words[(i * 7) % 10]}\n"
        (root / f"n{i:02}.md").write_text(note)
    assert cli(monkeypatch, "index", root).exit_code == 0
    return root


def _damage_vector(root: Path, position: int, value: float) -> None:
    """Overwrite, in vectors.faiss, the vector of the ``position``-th passage (by id) with
    ``value``s: there (a flat index) it is the float16 codes of the catalog's int8 vector."""
    with sqlite3.connect(root / ".semsearch" / "catalog.sqlite") as conn:
        blob = conn.execute("SELECT vector FROM chunks ORDER BY id LIMIT 1 OFFSET ?", (position,)).fetchone()[0]
    codes = codec.decode([blob], len(blob) - 4)[0].astype("<f2").tobytes()
    path = root / ".semsearch" / "vectors.faiss"
    data = bytearray(path.read_bytes())
    at = data.find(codes)
    assert at > 0
    data[at : at + len(codes)] = np.full(len(codes) // 2, value, "<f2").tobytes()
    path.write_bytes(bytes(data))


QUERY = ["query", "compost bread", "--mode", "dense", "--format", "json"]


@pytest.mark.parametrize("position, value", [(1, 10.5), (2, 6.5e4), (0, 0.01)],  # 6.5e4: the largest float16
                         ids=["cosine-10.5", "cosine-huge", "checked-on-load"])
def test_a_damaged_vectors_file_is_noticed_and_answered_from_the_catalog(
    thirty: Path, position: int, value: float, monkeypatch
) -> None:
    expected = json.loads(cli(monkeypatch, *QUERY, "--index", thirty).stdout)
    _damage_vector(thirty, position, value)
    damaged = cli(monkeypatch, *QUERY, "--index", thirty)
    assert damaged.exit_code == 0, damaged.output
    assert json.loads(damaged.stdout) == expected  # never a "cosine" of 10.5 ranking a stranger first
    assert "vectors.faiss was damaged" in damaged.stderr or "vectors.faiss is damaged" in damaged.stderr
    assert "rebuilt it from the catalog" in damaged.stderr


def test_info_check_and_index_verify_the_checksum(thirty: Path, monkeypatch) -> None:
    assert cli(monkeypatch, "info", "--check", "--index", thirty).exit_code == 0
    _damage_vector(thirty, 3, 0.125)  # a wrong vector that still gives believable scores
    assert_one_line_error(cli(monkeypatch, "info", "--check", "--index", thirty),
                          "vectors.faiss is damaged (its checksum does not match", f"semsearch index {thirty}")
    repaired = cli(monkeypatch, "index", thirty)
    assert repaired.exit_code == 0 and "vectors.faiss was damaged" in repaired.stderr
    assert "0 embedded" in repaired.stdout
    assert cli(monkeypatch, "info", "--check", "--index", thirty).exit_code == 0


def test_a_truncated_vectors_file_is_rebuilt(thirty: Path, monkeypatch) -> None:
    expected = json.loads(cli(monkeypatch, *QUERY, "--index", thirty).stdout)
    path = thirty / ".semsearch" / "vectors.faiss"
    path.write_bytes(path.read_bytes()[:-4000])
    result = cli(monkeypatch, *QUERY, "--index", thirty)
    assert result.exit_code == 0 and json.loads(result.stdout) == expected
    assert "rebuilt it from the catalog" in result.stderr
