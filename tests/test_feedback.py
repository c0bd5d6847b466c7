"""Feedback on long work, through the real command line: the first ONNX export is announced
before it starts, a log gets a plain progress line every so often (none with -q), the time
left comes from passages per second, a query during an index run is not told of damage, and
a result whose file was deleted is dropped with one notice."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import semsearch.embedders.onnx_export
from semsearch.cli import app
from semsearch.records import Progress
from semsearch.render import IndexProgressBar

from .clirun import cli, environment, garden


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return garden(tmp_path)


def test_the_first_onnx_export_is_announced_before_it_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("Garlic goes in in October.\n")
    monkeypatch.setenv("SEMSEARCH_CACHE_DIR", str(tmp_path / "fresh-cache"))
    told_first: list[bool] = []

    def export(ref: object, folder: Path) -> None:  # stands in for the 20 s export, then stops the run
        told_first.append(True)
        raise KeyboardInterrupt

    monkeypatch.setattr(semsearch.embedders.onnx_export, "_export", export)
    result = CliRunner().invoke(app, ["index", str(tmp_path / "notes")])
    assert told_first and result.exit_code == 130
    lines = result.stderr.splitlines()
    assert lines[0].startswith("semsearch: making the ONNX copy of sentence-transformers/all-MiniLM-L6-v2, once "
                               "(about 20 s"), lines
    assert "interrupted" in lines[-1]
    quiet = CliRunner().invoke(app, ["index", "-q", str(tmp_path / "notes")])
    assert quiet.exit_code == 130 and "making the ONNX copy" not in quiet.stderr


@pytest.mark.slow
def test_a_log_gets_plain_progress_lines_and_quiet_gets_none(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for n in range(30):
        (root / f"note{n:02d}.md").write_text(f"Note {n}. " + "Some words about gardening and cooking. " * 50)
    logged = cli("index", cwd=root, fake=True, env={"SEMSEARCH_PROGRESS_SECONDS": "0"})
    assert logged.returncode == 0, logged.stderr
    lines = logged.stderr.splitlines()
    assert len(lines) >= 20 and all(line.startswith("semsearch: indexing: ") for line in lines), lines
    assert "/30 files, " in lines[-1] and "passages embedded" in lines[-1] and "\x1b" not in logged.stderr
    (root / "late.md").write_text("A late note.\n")
    quiet = cli("index", "-q", cwd=root, fake=True, env={"SEMSEARCH_PROGRESS_SECONDS": "0"})
    assert quiet.returncode == 0 and quiet.stderr == "" and "1 added" in quiet.stdout
    wrong = cli("index", cwd=root, fake=True, env={"SEMSEARCH_PROGRESS_SECONDS": "often"})
    assert wrong.returncode == 2 and "SEMSEARCH_PROGRESS_SECONDS" in wrong.stderr


def test_the_time_left_comes_from_passages_per_second() -> None:
    """One small file and one big one: half the files done is not half the work."""
    now = [0.0]
    err = io.StringIO()
    bar = IndexProgressBar(Console(file=err, width=200), every=0, clock=lambda: now[0])
    events = [  # (seconds, files done, passages embedded, bytes read, passages cut)
        (0, 0, 0, 0, 0), (5, 1, 256, 1_000, 300), (15, 1, 512, 1_000, 600),
    ]
    for seconds, files, embedded, read, cut in events:
        now[0] = seconds
        bar.update(Progress(files, 2, embedded, "", read, 10_000, cut))
    # 25.6 passages/s; 600 passages cut from 1,000 of 10,000 bytes: about 6,000 to embed, 5,488 left: 214 s.
    assert err.getvalue().splitlines()[-1] == ("semsearch: indexing: 1/2 files, 512 passages embedded, "
                                               "26 passages/s, about 3m34s left")


@pytest.mark.slow
def test_a_query_during_an_index_run_is_not_told_of_damage(notes: Path) -> None:
    (notes / ".semsearch" / "vectors.faiss").unlink()  # as while a first index runs: written when it is done
    hold = ("import time\nfrom pathlib import Path\nfrom semsearch.storage import writer_lock\n"
            f"with writer_lock(Path({str(notes / '.semsearch')!r})):\n"
            "    print('held', flush=True)\n    time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", hold], env=environment(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        during = cli("query", "slugs", "lettuce", "-f", "paths", cwd=notes, fake=True)
        assert during.returncode == 0 and during.stderr == "semsearch: index in progress: searching the 5 files " \
                                                           "committed so far\n", during.stderr
    finally:
        holder.kill()
        holder.wait()
    after = cli("query", "slugs", "lettuce", "-f", "paths", cwd=notes, fake=True)  # no writer: it is damage
    assert after.returncode == 0 and "vectors.faiss was missing; rebuilt it" in after.stderr


@pytest.mark.slow
def test_a_deleted_file_is_dropped_with_one_notice(notes: Path, tmp_path: Path) -> None:
    (notes / "kitchen" / "salad.md").unlink()
    queries = tmp_path / "queries.txt"
    queries.write_text("slugs lettuce leaves\nwash the lettuce\n")
    done = cli("query", "--batch", queries, "--all", "-f", "json", cwd=notes / "garden", fake=True)
    assert done.returncode == 0, done.stderr
    sets = json.loads(done.stdout)
    assert all(r["relpath"] != "kitchen/salad.md" for s in sets for r in s["results"])
    assert all([r["rank"] for r in s["results"]] == list(range(1, len(s["results"]) + 1)) for s in sets)
    assert done.stderr == ("semsearch: ../kitchen/salad.md was deleted since it was indexed; left out "
                           "(run `semsearch index ..` to update)\n")

