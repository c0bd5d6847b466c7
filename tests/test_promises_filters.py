"""A mistyped filter (finding 6 of the hostile review): a change of the remembered filters
that would drop most of an index asks first (--yes, or an answer at a terminal), the
summary says which filter removed what, info shows the remembered filters, and
--reset-filters clears them."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .promises import CHILD, assert_one_line_error, cli


@pytest.fixture
def notes7(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    for i, subject in enumerate(["compost", "bread", "kyoto", "logrotate", "sourdough", "temples"]):
        (root / f"{subject}.md").write_text(f"Note {i} about {subject}.\n")
    (root / "todo.txt").write_text("Buy flour.\n")
    assert cli(monkeypatch, "index", root).exit_code == 0
    return root


def info(root: Path, monkeypatch) -> dict:
    return json.loads(cli(monkeypatch, "info", "--index", root, "--format", "json").stdout)


def test_a_typo_in_include_is_refused_without_yes(notes7: Path, monkeypatch) -> None:
    result = cli(monkeypatch, "index", notes7, "--include", "*.mdx")
    assert_one_line_error(result, "--include '*.mdx' would remove 7 of the 7 indexed files", "--yes")
    now = info(notes7, monkeypatch)
    assert now["files"] == 7 and now["include"] == []  # nothing removed, nothing remembered


@pytest.mark.slow
def test_with_yes_the_summary_names_the_filter_and_info_remembers_it(notes7: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = cli(monkeypatch, "index", notes7, "--include", "*.txt", "--yes", "--format", "table")
    assert result.exit_code == 0, result.output
    assert "removed:  6 left out by the new filters: --include '*.txt'" in result.stdout
    data = json.loads(cli(monkeypatch, "index", notes7, "--format", "json").stdout)
    assert data["removed_by"] == ""  # unchanged filters remove nothing
    assert info(notes7, monkeypatch)["include"] == ["*.txt"]
    table = cli(monkeypatch, "info", "--index", notes7, "--format", "table").stdout
    assert "--include *.txt (remembered; `semsearch index --reset-filters` clears them)" in table
    reset = cli(monkeypatch, "index", notes7, "--reset-filters", "--format", "json")
    assert reset.exit_code == 0 and len(json.loads(reset.stdout)["added"]) == 6
    after = info(notes7, monkeypatch)
    assert after["include"] == [] and after["exclude"] == [] and after["files"] == 7


def test_a_small_filter_change_needs_no_confirmation(notes7: Path, monkeypatch) -> None:
    result = cli(monkeypatch, "index", notes7, "--exclude", "*.txt", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["removed"] == ["todo.txt"] and report["removed_by"] == "--exclude '*.txt'"


@pytest.mark.slow
@pytest.mark.parametrize("answer, code", [(b"n\n", 2), (b"y\n", 0)])
def test_at_a_terminal_the_question_is_asked(notes7: Path, answer: bytes, code: int) -> None:
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(CHILD), "--", "index", str(notes7), "--include", "*.mdx"],
                            stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    seen, deadline = b"", time.monotonic() + 120
    while b"go on?" not in seen and time.monotonic() < deadline:
        seen += os.read(controller, 4096)
    assert b"would remove 7 of the 7 indexed files from the index; go on?" in seen
    os.write(controller, answer)
    assert proc.wait(timeout=120) == code
    os.close(controller)
