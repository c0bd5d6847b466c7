"""Owner-only files, and advice that never destroys: findings 3 (eval's cache), 5 (a folder
semsearch did not make), 10 (a read-only index) and 17 (a catalog from a newer semsearch) of
the hostile review, through the real command line; the cross-user ones as uid 65534."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO
from .promises import assert_one_line_error, cli

NOBODY = 65534
needs_root = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="acting as another user needs root and setpriv",
)


def as_nobody(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    setpriv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(setpriv + argv, capture_output=True, text=True, timeout=300, check=False, **kwargs)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder every user can reach (pytest's own temporary folders are root's only)."""
    folder = Path(tempfile.mkdtemp(prefix="semsearch-promises-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def _dataset(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": "d1", "title": "Diagnosis", "text": "The patient's private medical history."},
              {"_id": "d2", "title": "", "text": "Rotate log files weekly."}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "medical history"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    return folder


@needs_root
def test_eval_keeps_its_copy_of_a_private_dataset_owner_only(shared: Path, monkeypatch) -> None:
    cache = shared / "cache"
    cache.mkdir(mode=0o755)
    cache.chmod(0o755)  # a cache others can enter: only what is in it protects the corpus
    result = cli(monkeypatch, "eval", _dataset(shared / "data"), "--cache-dir", cache, "--mode", "lexical")
    assert result.exit_code == 0, result.output
    (kept,) = cache.iterdir()
    for path in [kept, *kept.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    doc = kept / "docs" / "d1.txt"
    assert "private medical history" in doc.read_text()
    attempt = as_nobody(["cat", str(doc)])  # another user, trying to read the copy
    assert attempt.returncode != 0 and "Permission denied" in attempt.stderr
    listing = as_nobody(["ls", str(kept / "docs")])
    assert listing.returncode != 0 and "Permission denied" in listing.stderr


# -- 5: a folder semsearch did not make ---------------------------------------------------

@pytest.mark.parametrize("has_catalog", [False, True], ids=["no-catalog", "damaged-catalog"])
def test_a_folder_semsearch_did_not_make_is_never_advised_away_nor_deleted(
    notes: Path, has_catalog: bool, monkeypatch
) -> None:
    folder = notes / ".semsearch"
    folder.mkdir()
    (folder / "thesis.tex").write_text("Three years of someone's work.\n")
    if has_catalog:
        (folder / "catalog.sqlite").write_bytes(b"not a database" * 100)
    before = sorted(p.name for p in folder.iterdir())
    for args in (["index", notes], ["query", "x", "--index", notes], ["info", "--index", notes],
                 ["index", notes, "--rebuild"]):
        result = cli(monkeypatch, *args)
        assert_one_line_error(result, "thesis.tex", "move it away", f"mv {folder} {folder}.old")
        assert "--rebuild" not in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == before
    assert (folder / "thesis.tex").read_text() == "Three years of someone's work.\n"


@pytest.mark.slow
def test_a_damaged_index_of_our_own_is_still_rebuilt(notes: Path, monkeypatch) -> None:
    assert cli(monkeypatch, "index", notes).exit_code == 0
    (notes / ".semsearch" / "catalog.sqlite").write_bytes(b"not a database" * 100)
    assert_one_line_error(cli(monkeypatch, "index", notes), f"semsearch index {notes} --rebuild")
    assert cli(monkeypatch, "index", notes, "--rebuild").exit_code == 0
    assert cli(monkeypatch, "query", "rotate logs", "--index", notes).exit_code == 0


# -- 17: a catalog from a newer semsearch --------------------------------------------------

def test_an_index_from_a_newer_semsearch_is_never_rebuilt(notes: Path, monkeypatch) -> None:
    assert cli(monkeypatch, "index", notes).exit_code == 0
    catalog = notes / ".semsearch" / "catalog.sqlite"
    with sqlite3.connect(catalog) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    before = catalog.read_bytes()
    for args in (["query", "rotate logs", "--index", notes], ["info", "--index", notes], ["index", notes],
                 ["index", notes, "--rebuild"]):
        result = cli(monkeypatch, *args)
        assert_one_line_error(result, "made by a newer semsearch (schema 99", "upgrade semsearch")
        assert "--rebuild" not in result.stderr
    assert catalog.read_bytes() == before


# -- 10: a read-only index ----------------------------------------------------------------

def _nobodys_index(shared: Path) -> tuple[Path, dict[str, str], object]:
    """A folder of notes that nobody owns and has indexed, nobody's environment, and a way
    to run the real command line (fake model) as nobody."""
    from .test_security import _python_as_nobody

    root = shared / "notes"
    root.mkdir()
    (root / "logs.md").write_text("Rotate log files weekly with logrotate.\n")
    (root / "bread.md").write_text("Bread: flour, water, yeast, salt.\n")
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(root)], check=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "HOME": str(shared)}
    python = _python_as_nobody(shared)

    def run(*args: object) -> subprocess.CompletedProcess:
        return python([str(REPO / "tests" / "crash_child.py"), "--", *map(str, args)], env)

    made = run("index", root)
    assert made.returncode == 0, made.stderr
    return root, env, run


READS = (["query", "bread flour", "--format", "paths"], ["similar", "logs.md", "--format", "paths"],
         ["info", "--check", "--format", "json"])


@pytest.mark.slow
@needs_root
def test_an_index_made_read_only_still_answers_its_owner(shared: Path) -> None:
    root, _, run = _nobodys_index(shared)
    subprocess.run(["chmod", "-R", "a-w", str(root)], check=True)
    try:
        for args in READS:
            args = [a if a != "logs.md" else str(root / "logs.md") for a in args]
            done = run(*args, "--index", root)
            assert done.returncode == 0 and done.stdout and done.stderr == "", (args, done.stderr)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(root)], check=True)


@needs_root
def test_an_index_on_read_only_media_answers(notes: Path, tmp_path: Path, monkeypatch) -> None:
    assert cli(monkeypatch, "index", notes).exit_code == 0
    view = tmp_path / "cdrom"
    view.mkdir()
    if subprocess.run(["mount", "--bind", str(notes), str(view)], capture_output=True, check=False).returncode:
        pytest.skip("cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        for args in READS:
            args = [a if a != "logs.md" else str(view / "logs.md") for a in args]
            result = cli(monkeypatch, *args, "--index", view)
            assert result.exit_code == 0 and result.stdout and result.stderr == "", (args, result.output)
    finally:
        subprocess.run(["umount", str(view)], check=True)


@pytest.mark.slow
@needs_root
@pytest.mark.parametrize("locked", ["folder", "catalog"])
def test_an_index_the_reader_may_not_read_says_so_and_never_rebuild(shared: Path, locked: str) -> None:
    """Root's index, shut to others: nobody is told it cannot be read, not to rebuild it."""
    from .test_security import _python_as_nobody

    root = shared / "roots-notes"
    root.mkdir()
    (root / "logs.md").write_text("Rotate log files weekly with logrotate.\n")
    from semsearch import sync

    from .fakes import FakeFactory

    sync(root, embedder_factory=FakeFactory())
    root.chmod(0o755)
    index_dir = root / ".semsearch"
    index_dir.chmod(0o700 if locked == "folder" else 0o755)
    (index_dir / "catalog.sqlite").chmod(0o600)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "HOME": str(shared)}
    python = _python_as_nobody(shared)
    for args in (["query", "logs"], ["info"]):
        done = python([str(REPO / "tests" / "crash_child.py"), "--", *args, "--index", str(root)], env)
        assert_one_line_error(done, "cannot read", "permission denied", "ask its owner")
        assert "rebuild" not in done.stderr
