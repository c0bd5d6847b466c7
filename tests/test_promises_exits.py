"""How every command ends (finding 16 of the hostile review): never a traceback, never
exit 1 for an error; each input the review broke it with goes through the real command line."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .promises import assert_one_line_error, child, cli


@pytest.fixture
def indexed(notes: Path, monkeypatch) -> Path:
    assert cli(monkeypatch, "index", notes).exit_code == 0
    return notes


@pytest.mark.parametrize("value", ["inf", "nan", "1e300"])
def test_max_file_size_that_is_not_a_size(indexed: Path, value: str, monkeypatch) -> None:
    assert_one_line_error(cli(monkeypatch, "index", indexed, "--max-file-size", value), "--max-file-size")


@pytest.mark.slow
def test_query_that_is_not_utf8(indexed: Path) -> None:
    argv = child("query", b"caf\xe9 \xff", "--index", indexed)
    assert_one_line_error(argv, "not valid UTF-8")
    stdin = child("query", "-", "--index", indexed, input=b"caf\xe9 \xff\n")
    assert_one_line_error(stdin, "not valid UTF-8")
    similar = child("similar", "-", "--index", indexed, input=b"\xff\xfe\xfa")
    assert_one_line_error(similar, "not valid UTF-8")


@pytest.mark.slow
def test_folders_a_thousand_deep(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "deep"
    root.mkdir()
    (root / "top.md").write_text("A note at the top about gardens.\n")
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(1000):  # by descriptor: no path ever gets long
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        note = os.open("deep.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(note, b"A note a thousand folders down, about bread.\n")
        os.close(note)
    finally:
        os.close(fd)
    try:
        result = cli(monkeypatch, "index", root, "--format", "json")
        assert result.exit_code == 0, result.output
        added = json.loads(result.stdout)["added"]
        assert "top.md" in added and any(p.endswith("/d/deep.md") for p in added)
        assert cli(monkeypatch, "info", "--index", root).exit_code == 0
    finally:
        _flatten(root)


def _flatten(root: Path) -> None:
    """Move each level of the deep tree up to ``root`` (pytest's recursive cleanup would overflow)."""
    level, n = root / "d", 0
    while (level / "d").is_dir():
        os.rename(level / "d", root / f"level{n}")
        level, n = root / f"level{n}", n + 1


def _dataset(folder: Path, corpus: list[dict], queries: list[dict], qrels: str) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    return folder


def test_eval_with_long_ids_and_bad_query_text(tmp_path: Path, monkeypatch) -> None:
    long_id = "doc-" + "x" * 400
    corpus = [{"_id": long_id, "title": "Bread", "text": "flour water yeast salt"},
              {"_id": "d2", "title": None, "text": "rotate log files weekly"}]
    good = _dataset(tmp_path / "good", corpus, [{"_id": "q1", "text": "bread flour"}], f"q1\t{long_id}\t1\n")
    result = cli(monkeypatch, "eval", good, "--cache-dir", tmp_path / "cache", "--format", "json", "--mode", "lexical")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["scores"]["ndcg_at_10"] == 1.0
    bad = _dataset(tmp_path / "bad", corpus, [{"_id": "q1", "text": None}, {"_id": "q2", "text": 3}],
                   f"q1\t{long_id}\t1\n")
    assert_one_line_error(cli(monkeypatch, "eval", bad, "--cache-dir", tmp_path / "cache"), "needs `_id` and `text`")


@pytest.mark.parametrize("edit, says", [
    ("UPDATE meta SET value = 'soon' WHERE key = 'generation'", "meta generation"),
    ("UPDATE meta SET value = '{\"model_id\": 3}' WHERE key = 'settings'", "settings"),
    ("UPDATE chunks SET vector = x'00ff'", "stored vector"),
    ("UPDATE files SET size = 'big'", "file record"),
    ("UPDATE chunks SET start_line = 'one'", "passage record"),
])
def test_hand_edited_catalog_values_are_reported_as_damage(indexed: Path, edit: str, says: str, monkeypatch) -> None:
    with sqlite3.connect(indexed / ".semsearch" / "catalog.sqlite") as conn:
        conn.execute(edit)
    reported = 0
    for args in (["query", "rotate logs", "--index", indexed], ["info", "--index", indexed],
                 ["similar", indexed / "logs.md", "--index", indexed], ["index", indexed]):
        result = cli(monkeypatch, *args)
        if result.exit_code == 0:
            continue  # a command that never reads that value back
        assert_one_line_error(result, "is damaged", says, "--rebuild")
        reported += 1
    assert reported


def test_info_during_an_index_run_that_renames_its_temp_file_meanwhile(indexed: Path, monkeypatch) -> None:
    """``info`` sums the index folder's files while ``index`` renames its temp file there:
    here the file goes just after it was first looked at (the race, made certain)."""
    temp = indexed / ".semsearch" / "vectors.faiss.4242.tmp"
    temp.write_bytes(b"being written")
    looked_at = os.stat

    def index_renames_it_now(path, *args, **kwargs):
        result = looked_at(path, *args, **kwargs)
        if os.fspath(path) == str(temp):
            with contextlib.suppress(FileNotFoundError):
                os.rename(temp, temp.with_suffix(".renamed"))
        return result

    monkeypatch.setattr(os, "stat", index_renames_it_now)
    result = cli(monkeypatch, "info", "--index", indexed, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"] == 3


def test_an_unexpected_error_is_one_line_with_exit_2_and_a_traceback_with_debug(indexed: Path, monkeypatch) -> None:
    """A bug (here: the catalog failing in a way nothing expects) never ends in exit 1."""
    from semsearch.storage import catalog

    def broken(self, *args, **kwargs):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(catalog.SqliteCatalog, "count_files", broken)
    plain = cli(monkeypatch, "info", "--index", indexed)
    assert_one_line_error(plain, "unexpected ZeroDivisionError: simulated bug", "--debug")
    debug = cli(monkeypatch, "--debug", "info", "--index", indexed)
    assert debug.exit_code == 2 and "Traceback" in debug.stderr and "simulated bug" in debug.stderr


def test_exit_1_means_nothing_found_only(indexed: Path, monkeypatch) -> None:
    nothing = cli(monkeypatch, "query", "rotate logs", "--index", indexed, "--mode", "dense", "--min-score", "0.999")
    assert nothing.exit_code == 1 and nothing.stdout == "" and nothing.stderr == ""
    usage = cli(monkeypatch, "query", "x", "--top-k", "zero")
    assert usage.exit_code == 2


@pytest.mark.slow
def test_an_unwritable_home_falls_back_to_torch_with_a_notice(tmp_path: Path) -> None:
    """The ONNX copy cannot be cached (HOME lies under a file: no folder can be made there,
    even by root), so the model runs on torch, as the README promises, with one notice."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "logs.md").write_text("Rotate log files weekly with logrotate.\n")
    (notes / "bread.md").write_text("Bread: flour, water, yeast, salt.\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cache_vars = ("SEMSEARCH_CACHE_DIR", "XDG_CACHE_HOME", "SEMSEARCH_BACKEND")
    env = {k: v for k, v in os.environ.items() if k not in cache_vars}
    env["HOME"] = str(blocker / "home")
    made = subprocess.run([sys.executable, "-m", "semsearch", "index", str(notes)], env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert made.returncode == 0, made.stderr
    assert "cannot run on the onnx backend" in made.stderr and "using torch" in made.stderr
    assert "Traceback" not in made.stderr
    found = subprocess.run([sys.executable, "-m", "semsearch", "query", "baking a loaf", "--index", str(notes),
                            "--format", "paths"], env=env, capture_output=True, text=True, timeout=900, check=False)
    assert found.returncode == 0 and found.stdout.splitlines()[0].endswith("/bread.md"), found.stderr
