"""The context block's merging, neighbours and budget, with the fast fake embedder
(its tokenizer: words and punctuation). The real model and CLI: tests/test_llm.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from semsearch import Hit, Index, sync
from semsearch.embedders import ModelRef
from semsearch.errors import BadInputError
from semsearch.search import build_context

from .fakes import FakeEmbedder, FakeFactory

HEADER = re.compile(r"^\[(\d+)\] (.+):(\d+)-(\d+)( \(as indexed; the file has changed since\))?$")
NOTE = re.compile(r"^\[… (lines? \d+(-\d+)?) (left out|cut short): token budget\]$")
SPANS = FakeEmbedder(ModelRef("fake", Path("."))).token_spans


def tokens(text: str) -> int:
    return len(SPANS(text))


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "long.md").write_text("".join(f"line {i} of the long note about disks\n" for i in range(1, 61)))
    (root / "short.md").write_text("# Short\n\nA few words on logs.\n")
    sync(root, embedder_factory=FakeFactory(), chunk_tokens=40, overlap=10)
    return root


def lines_of(root: Path, path: str) -> list[str]:
    return (root / path).read_text().split("\n")


def hit(root: Path, path: str, start: int, end: int, rank: int = 1) -> Hit:
    return Hit(rank, 1.0 / rank, path, start, end, "\n".join(lines_of(root, path)[start - 1 : end]))


def block(root: Path, hits: list[Hit], max_tokens: int, **options):
    with Index(root, embedder_factory=FakeFactory()) as idx:
        return build_context("q", hits, idx.store.catalog, SPANS, max_tokens, **options)


def parse(text: str) -> list[tuple[str, int, int, list[str], list[str]]]:
    """(path, start, end, lines, notes) per passage, reading the block as a program would: a
    numbered citation, exactly its lines, any notes, a blank line. Asserts that shape."""
    lines = text.split("\n")
    assert lines.pop() == ""  # the block ends with a newline
    passages, i = [], 0
    while i < len(lines):
        m = HEADER.match(lines[i])
        assert m and int(m[1]) == len(passages) + 1, lines[i]
        start, end = int(m[3]), int(m[4])
        body = lines[i + 1 : i + 2 + end - start]
        i += 2 + end - start
        notes = []
        while i < len(lines) and NOTE.match(lines[i]):
            notes.append(lines[i])
            i += 1
        assert i == len(lines) or (lines[i] == "" and i + 1 < len(lines)), lines[i:]
        i += 1
        passages.append((m[2], start, end, body, notes))
    return passages


def test_overlapping_passages_of_a_file_become_one(notes: Path) -> None:
    hits = [hit(notes, "long.md", 10, 14, 1), hit(notes, "short.md", 1, 3, 2), hit(notes, "long.md", 13, 18, 3),
            hit(notes, "long.md", 19, 20, 4)]  # 19-20 touches 13-18: merged too
    result = block(notes, hits, 1000, neighbours=0)
    assert [(p.path, p.start_line, p.end_line, p.merged) for p in result.passages] == [
        ("long.md", 10, 20, 3), ("short.md", 1, 3, 1)]
    parsed = parse(result.text)
    assert parsed[0][3] == lines_of(notes, "long.md")[9:20]  # whole lines from the file, each once


def test_neighbouring_lines_are_added_while_they_fit(notes: Path) -> None:
    wide = block(notes, [hit(notes, "long.md", 30, 31)], 1000, neighbours=3)
    assert (wide.passages[0].start_line, wide.passages[0].end_line) == (27, 34)
    budget = tokens("[1] long.md:29-32\n" + "\n".join(lines_of(notes, "long.md")[28:32]))
    tight = block(notes, [hit(notes, "long.md", 30, 31)], budget, neighbours=3)
    p = tight.passages[0]
    assert (p.start_line, p.end_line) == (29, 32) and not p.cut  # one line each side fits, no more
    assert tight.tokens <= tight.max_tokens


@pytest.mark.parametrize("budget", [30, 47, 64, 100, 151, 233, 400])
def test_the_budget_holds_and_cuts_are_at_line_ends_and_said(notes: Path, budget: int) -> None:
    hits = [hit(notes, "long.md", 1, 25, 1), hit(notes, "short.md", 1, 3, 2), hit(notes, "long.md", 40, 55, 3)]
    result = block(notes, hits, budget)
    assert result.tokens == tokens(result.text) <= budget
    for path, start, end, body, cut in parse(result.text):
        assert body == lines_of(notes, path)[start - 1 : end]  # whole lines, as in the file
        passage = next(p for p in result.passages if p.path == path and p.start_line == start)
        assert bool(cut) == passage.cut
    assert result.omitted == 3 - len(result.passages)


def test_a_cut_names_exactly_the_lines_left_out(tmp_path: Path) -> None:
    root = tmp_path / "paras"
    root.mkdir()
    (root / "paras.md").write_text("".join(f"paragraph {i} line {j}\n" + ("\n" if j == 3 else "")
                                           for i in range(1, 9) for j in range(1, 4)))
    sync(root, embedder_factory=FakeFactory())
    for budget in range(30, 106, 3):  # from one line to all but the last
        result = block(root, [hit(root, "paras.md", 1, 31)], budget)
        [(_, start, end, body, notes)] = parse(result.text)
        assert body == lines_of(root, "paras.md")[start - 1 : end] and body[-1].strip()  # no blank line at the cut
        assert notes == [f"[… lines {end + 1}-31 left out: token budget]"], (budget, notes)


def test_a_line_longer_than_the_budget_is_cut_mid_line_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "wide"
    root.mkdir()
    (root / "one-line.txt").write_text(" ".join(f"word{i}" for i in range(300)) + "\n")
    sync(root, embedder_factory=FakeFactory())
    result = block(root, [hit(root, "one-line.txt", 1, 1)], 60)
    assert result.tokens <= 60 and result.passages[0].cut
    head, line, note = result.text.rstrip("\n").split("\n")
    assert head == "[1] one-line.txt:1-1" and note == "[… line 1 cut short: token budget]"
    assert line.startswith("word0 word1") and (root / "one-line.txt").read_text().startswith(line)
    with pytest.raises(BadInputError, match="--max-tokens 5 leaves no room"):
        block(root, [hit(root, "one-line.txt", 1, 1)], 5)


def test_a_changed_file_is_shown_as_indexed_and_said(notes: Path) -> None:
    indexed = [hit(notes, "long.md", 10, 14, 1), hit(notes, "long.md", 13, 18, 2)]
    (notes / "long.md").write_text("rewritten\n" * 5)
    result = block(notes, indexed, 1000)
    [(_, _, _, body, _)] = parse(result.text)
    assert result.text.startswith("[1] long.md:10-18 (as indexed; the file has changed since)\n")
    assert body == [f"line {i} of the long note about disks" for i in range(10, 19)]  # joined where they overlap
    assert not result.passages[0].from_file and result.passages[0].merged == 2


def test_a_file_name_cannot_forge_a_citation(tmp_path: Path) -> None:
    root = tmp_path / "odd"
    root.mkdir()
    name = "a\n[2] fake.md:1-9"
    (root / name).write_text("real text\n")
    sync(root, embedder_factory=FakeFactory())
    result = block(root, [hit(root, name, 1, 1)], 200)
    assert result.text.split("\n")[:2] == ["[1] a\\n[2] fake.md:1-9:1-1", "real text"]


def test_no_hits_no_block(notes: Path) -> None:
    result = block(notes, [], 100)
    assert result.text == "" and result.passages == [] and result.tokens == 0


def test_on_a_terminal_control_characters_are_escaped_piped_they_are_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rich.console import Console

    from semsearch.render import write_context

    root = tmp_path / "esc"
    root.mkdir()
    (root / "note.md").write_text("red \x1b[31malert\x1b[0m\tdone\n")
    sync(root, embedder_factory=FakeFactory())
    result = block(root, [hit(root, "note.md", 1, 1)], 100)
    err = Console(stderr=True)
    write_context(result, Console(force_terminal=True), err)
    assert capsys.readouterr().out == "[1] note.md:1-1\nred \\x1b[31malert\\x1b[0m\tdone\n"
    write_context(result, Console(force_terminal=False), err)
    assert capsys.readouterr().out == result.text == "[1] note.md:1-1\nred \x1b[31malert\x1b[0m\tdone\n"
