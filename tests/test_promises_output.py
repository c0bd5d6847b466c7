"""What reaches a terminal: findings 4 (terminal injection) and 11 (file names that are not
UTF-8) of the hostile review, each through the real command line."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from .promises import assert_one_line_error, child, cli, no_raw_controls

ESC_TEXT = "Bread: flour\x1b[31m RED \x1b]8;;http://evil.example/\x07click\x1b]8;;\x07 \x9b2J and water.\n"
LINK_NAME = "[link=file:/etc/passwd]notes.md[/link] \x1b[2J.md"  # "/": folders on the way
CLOSE_NAME = "odd [/x] name.md"


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A folder whose names and notes are attacks on the terminal, in a folder whose own name is markup."""
    root = tmp_path / "notes [/x] [bold]"  # a folder "notes [" holding "x] [bold]"
    root.mkdir(parents=True)
    (root / "logs.md").write_text("Rotate log files weekly with logrotate.\n")
    formula = "=HYPERLINK(\"http://evil.example\",\"bread\") bread recipe\n"
    for name, text in ((LINK_NAME, ESC_TEXT), (CLOSE_NAME, formula)):
        (root / name).parent.mkdir(parents=True, exist_ok=True)  # a "/" in a name is a folder on the way
        (root / name).write_text(text)
    return root


def test_table_summary_and_info_show_file_names_and_text_escaped(hostile: Path, monkeypatch) -> None:
    """Rich markup in a name ([link=…], [/x]) is shown as written, not drawn or crashed on;
    escape sequences are shown as \\x1b, never sent."""
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line
    made = cli(monkeypatch, "index", hostile)
    assert made.exit_code == 0, made.output
    assert "notes [/x] [bold]" in made.stdout and no_raw_controls(made.stdout)
    table = cli(monkeypatch, "query", "bread flour water", "--index", hostile, "--format", "table")
    assert table.exit_code == 0, table.output
    assert "[link=file:/etc/passwd]notes.md[/link] \\x1b[2J.md:1-1" in table.stdout
    assert "odd [/x] name.md:1-1" in table.stdout and "flour\\x1b[31m RED" in table.stdout
    assert no_raw_controls(table.stdout)
    batch = cli(monkeypatch, "query", "--batch", "-", "--index", hostile, "--format", "table",
                input="bread [/x] flour\n")
    assert batch.exit_code == 0 and "bread [/x] flour" in batch.stdout, batch.output
    info = cli(monkeypatch, "info", "--index", hostile, "--format", "table")
    assert info.exit_code == 0 and "notes [/x] [bold]" in info.stdout, info.output


def test_tsv_shows_control_characters_and_json_keeps_exact_strings(hostile: Path, monkeypatch) -> None:
    assert cli(monkeypatch, "index", hostile).exit_code == 0
    tsv = cli(monkeypatch, "query", "bread flour water", "--index", hostile)  # piped: TSV by default
    assert tsv.exit_code == 0 and no_raw_controls(tsv.stdout, "\n\t"), tsv.stdout
    assert "\\x1b[31m" in tsv.stdout and "\\x9b2J" in tsv.stdout
    assert all(len(line.split("\t")) == 6 for line in tsv.stdout.splitlines())
    data = json.loads(cli(monkeypatch, "query", "bread flour water", "--index", hostile, "--format", "json").stdout)
    assert {h["relpath"] for h in data} >= {LINK_NAME, CLOSE_NAME}
    assert ESC_TEXT.strip() in {h["text"] for h in data}
    paths = cli(monkeypatch, "query", "bread flour water", "--index", hostile, "--format", "paths").stdout
    assert str(hostile / LINK_NAME) in paths.splitlines()  # scripts get the exact name (absolute: run from outside)


def test_csv_cells_are_not_spreadsheet_formulas(hostile: Path, monkeypatch) -> None:
    assert cli(monkeypatch, "index", hostile).exit_code == 0
    out = cli(monkeypatch, "query", "bread recipe", "--index", hostile, "--format", "csv", "--mode", "lexical")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    texts = [r["text"] for r in rows]
    assert texts and all(not t.startswith(("=", "+", "-", "@")) for t in texts)
    assert "'=HYPERLINK(\"http://evil.example\",\"bread\") bread recipe" in texts
    assert all(not r["score"].startswith("'") for r in rows)  # numbers stay numbers


def test_notices_and_errors_show_names_escaped(tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "gone\x1b[2J[/x]"
    result = cli(monkeypatch, "index", missing)
    assert_one_line_error(result, "does not exist")
    assert "\x1b" not in result.stderr and "\\x1b[2J[/x]" in result.stderr


# -- 11: names that are not UTF-8 -------------------------------------------------------

@pytest.mark.slow
def test_names_that_are_not_utf8_are_indexed_shown_escaped_and_forgotten_when_deleted(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "logs.md").write_text("Rotate log files weekly with logrotate.\n")
    latin1 = os.fsdecode(b"caf\xe9 bread.md")  # a Latin-1 name: not UTF-8
    (root / latin1).write_text("Bread: flour, water, yeast and salt.\n")
    first = child("index", root)
    assert first.returncode == 0, first.stderr
    tsv = child("query", "bread flour", "--index", root)
    assert tsv.returncode == 0 and b"caf\\xe9 bread.md" in tsv.stdout and no_raw_controls(tsv.stdout.decode(), "\n\t")
    exact = child("query", "bread flour", "--index", root, "--format", "paths")
    assert b"caf\xe9 bread.md\n" in exact.stdout  # the exact bytes, for scripts
    data = json.loads(child("query", "bread flour", "--index", root, "--format", "json").stdout)
    assert os.fsencode(data[0]["relpath"]) == b"caf\xe9 bread.md"  # JSON says \udce9: the byte, recoverable
    (root / latin1).unlink()
    (root / "new.md").write_text("Sourdough starter: feed it flour daily.\n")
    again = child("index", root, "--format", "json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["added"] == ["new.md"] and [os.fsencode(p) for p in report["removed"]] == [b"caf\xe9 bread.md"]
    paths = child("query", "bread flour", "--index", root, "--format", "paths").stdout
    assert b"caf\xe9" not in paths and b"new.md" in paths
    assert child("index", root).returncode == 0  # and every later run
