"""The results table on a real (pseudo-)terminal: readable from 60 columns up, passages with
their lines, the query's words highlighted, NO_COLOR, -C context lines, "no results", and
nothing from a file reaching the terminal unescaped. The fake embedder: the model is not the point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .clirun import LONG, cli, garden, tty

QUERY = ("lettuce", "slugs", "long", "story")
SCORE = re.compile(r"\b\d\.\d{3}\b")


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return garden(tmp_path)


@pytest.mark.parametrize("columns", [60, 80, 100, 160])
@pytest.mark.slow
def test_score_path_and_passage_show_at_every_width(notes: Path, columns: int) -> None:
    done = tty("query", *QUERY, "-k", "3", cwd=notes, columns=columns, fake=True)
    assert done.returncode == 0, done.stderr
    out = done.plain
    assert len(SCORE.findall(out)) == 3, out
    name = LONG.rsplit("/", 1)[1]
    if columns == 100:  # a table whose long path is shortened in the middle, keeping the file name
        assert "garden/" in out and f"{name}:1-12" in out and "…" in out and LONG not in out
    else:  # room for it all (160), or stacked (60, 80): the whole path, never cut
        assert f"{LONG}:1-12" in out
    assert "Line 1: lettuce and slugs, a long story." in out  # the passage, whole lines of it
    assert "Slugs eating lettuce at night." in out
    for line in out.splitlines():
        assert len(line) <= columns or LONG in line, (columns, line)  # only a stacked heading may wrap
    if columns < 100:
        # rg's heading mode
        assert re.search(rf"^ ?1  {SCORE.pattern}  {re.escape(LONG)}:1-12$", out, re.MULTILINE), out
        assert "\n    Line 1: lettuce" in out  # the passage indented below


@pytest.mark.slow
def test_passages_keep_their_lines_and_show_a_few(notes: Path) -> None:
    out = tty("query", *QUERY, "-k", "5", cwd=notes, columns=100, fake=True).plain
    shown = [line.strip() for line in out.splitlines()]
    assert "Slugs eating lettuce at night." in shown and "Use beer traps." in shown  # one line each, not run together
    assert any(line.endswith("Line 6: lettuce and slugs, a long story.") for line in shown)
    assert not any("Line 7:" in line for line in shown)  # a few lines, then …
    assert any(line.endswith("…") for line in shown)


@pytest.mark.slow
def test_the_query_words_are_highlighted_and_no_color_is_honoured(notes: Path) -> None:
    coloured = tty("query", "slugs", "eating", "lettuce", cwd=notes, columns=100, fake=True).stdout
    assert re.search(r"\x1b\[[0-9;]*m(lettuce|Lettuce)\x1b\[0m", coloured), coloured  # a single query, too
    word = r"\x1b\[[0-9;]*m{}\x1b\[0m"
    assert re.search(" ".join(word.format(w) for w in ("Slugs", "eating", "lettuce")) + " at night", coloured)
    plain = tty("query", "slugs", "eating", "lettuce", cwd=notes, columns=100, fake=True, env={"NO_COLOR": "1"})
    assert plain.returncode == 0 and "\x1b" not in plain.stdout and "Slugs eating lettuce at night." in plain.stdout


@pytest.mark.slow
def test_context_lines_come_from_an_unchanged_file(notes: Path) -> None:
    long_note = notes / "kitchen" / "almanac.md"
    long_note.write_text("".join(f"Almanac line {i}: sowing and harvest notes.\n" for i in range(1, 301)).replace(
        "line 150: sowing", "line 150: zucchini sowing"))
    assert cli("index", cwd=notes, fake=True).returncode == 0
    hit = json.loads(cli("query", "zucchini", "--mode", "lexical", "-k", "1", "-f", "json", cwd=notes).stdout)[0]
    start, end = hit["start_line"], hit["end_line"]
    assert hit["path"] == "kitchen/almanac.md" and 2 < start <= 150 <= end < 298
    out = tty("query", "zucchini", "--mode", "lexical", "-k", "1", "-C", "2", cwd=notes, columns=120).plain
    for i in (start - 2, start - 1, end + 1, end + 2):
        assert f"Almanac line {i}:" in out
    assert f"Almanac line {start - 3}:" not in out and f"Almanac line {end + 3}:" not in out
    long_note.write_text("Rewritten since it was indexed.\n" + long_note.read_text())  # lines no longer match
    changed = tty("query", "zucchini", "--mode", "lexical", "-k", "1", "-C", "2", cwd=notes, columns=120).plain
    assert f"Almanac line {start}:" in changed and f"Almanac line {start - 1}:" not in changed  # the passage alone
    piped = cli("query", "zucchini", "--mode", "lexical", "-C", "2", "-f", "json", cwd=notes)
    assert piped.returncode == 2 and "-C/--context" in piped.stderr


@pytest.mark.slow
def test_no_results_is_said_on_a_terminal(notes: Path) -> None:
    done = tty("query", "quantum", "chromodynamics", "--mode", "lexical", cwd=notes, columns=80)
    assert done.returncode == 1 and done.plain.strip() == "" and done.stderr.strip() == "semsearch: no results"
    piped = cli("query", "quantum", "chromodynamics", "--mode", "lexical", cwd=notes)
    assert piped.returncode == 1 and piped.stdout == "" and piped.stderr == ""  # grep-like: silence in a pipe


@pytest.mark.slow
def test_what_comes_from_a_file_is_escaped(notes: Path) -> None:
    (notes / "kitchen" / "evil\x1b[2Jname.md").write_text("Pickled lettuce \x1b]0;pwned\x07 recipe \x1b[31mred\n")
    assert cli("index", cwd=notes, fake=True).returncode == 0
    for columns in (60, 160):
        out = tty("query", "pickled", "lettuce", "recipe", "--mode", "lexical", cwd=notes, columns=columns,
                  env={"NO_COLOR": "1"}).stdout
        assert "evil\\x1b[2Jname.md" in out and "\\x1b]0;pwned\\x07" in out, out
        assert "\x1b" not in out
