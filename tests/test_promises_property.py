"""Hostile input against the real command line (finding 16 of the hostile review, and the
promise behind the others): hypothesis makes file names (bytes, control characters, Rich
markup), file contents, ignore-file lines, globs, environment and argument values, and
every run must

- end with 0, 1 or 2: never a traceback, never an exception out of the command;
- exit 1 only when nothing matched (nothing on stdout but an empty JSON list);
- print no raw control character (``-0``/``paths`` carry exact names by design, so the
  formats drawn here are the escaped ones);
- leave the previous index answering the same queries as before.

The runs go through the real Typer app in this process with the fast fake embedder
(thousands of examples in the default tier); one test sends a few hundred through the
real model (slow tier). The example counts are in ``EXAMPLES``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import typer
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import semsearch.embedders
from semsearch.cli import app
from semsearch.render.machine import FIELDS

from .conftest import copy_sample
from .fakes import fake_loader
from .promises import no_raw_controls

runner = CliRunner()
COMMAND = typer.main.get_command(app)  # the click group `semsearch` runs; built once (most of an in-process run's time)

# Examples per test in a default run: 2,400 in all, 2,250 with the fake embedder and 150
# through the real model (the last is in the slow tier).
EXAMPLES = {"folders": 150, "filters": 150, "queries": 1500, "similar": 300, "environment": 150, "real": 150}

FORMATS = ["table", "tsv", "json", "jsonl", "csv", "vimgrep"]
CANARY = "sourdough starter flour water"  # the garden/ and kitchen notes of sample_corpus answer it

# Pieces that broke terminals, parsers and shells before: Rich markup, escape sequences,
# control characters, bidi overrides, option look-alikes, glob and shell metacharacters.
NASTY = ["[link=https://evil.example]ok[/link]", "[/x]", "[bold red]", "[/]", "\x1b[31m", "\x1b]8;;http://x\x07",
         "\x1b[2J", "\x07", "\r", "\n", "\t", "\x08", "\x7f", "\x9b", "\u202e", "\u200b", "-rf", "--help", "-", " ",
         "..", ".semsearch", ".git", "*", "**", "?", "[", "]", "[!a]", "{a,b}", "\\", "~", "$(id)", "`id`", "%s",
         "\ufeff", "é", "東京", "🙂", "NUL", "con", "=cmd|' /c calc'!A0", "+1", "@x"]

_piece = st.one_of(st.sampled_from(NASTY), st.text(max_size=6))
HOSTILE_TEXT = st.one_of(st.lists(_piece, max_size=8).map("".join), st.text(max_size=60))


def _name(raw: bytes) -> bytes:
    """A name POSIX can hold: no slash, no NUL, not . or .., at most 200 bytes."""
    raw = raw.replace(b"/", b"_").replace(b"\0", b"_")[:200]
    return raw if raw not in (b"", b".", b"..") else b"_" + raw


FILE_NAMES = st.one_of(
    st.binary(min_size=1, max_size=30),
    st.tuples(HOSTILE_TEXT, st.sampled_from([".md", ".txt", ".log", ".rst", ".py", ""])).map(
        lambda parts: (parts[0] + parts[1]).encode("utf-8", "surrogateescape")),
).map(_name)

CONTENTS = st.one_of(
    st.binary(max_size=600),
    st.lists(st.one_of(_piece, st.from_regex(r"[a-z]{2,9}( [a-z]{2,9}){0,12}\.?", fullmatch=True),
                       st.sampled_from(["\n", "\n\n", "# Heading\n", "\0", "\r\n"])), max_size=40)
    .map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass")),
)

GLOBS = st.one_of(st.lists(st.sampled_from(["*", "**", "?", "[", "]", "!", "{", "}", "/", "\\", ".", "md", "txt",
                                            "garden", "a", "-", " ", "\n", "[!x]", "[a-", "\x1b"]),
                           min_size=1, max_size=6).map("".join), st.text(min_size=1, max_size=12))
IGNORE_LINES = st.lists(st.one_of(GLOBS, st.sampled_from(["!", "#", "\\#x", "!*.md", "/", "**/", "\\", "*\\",
                                                          "[z-a]", "a/**/b", " ", "\r"])), max_size=8)
NUMBERS = st.one_of(st.sampled_from(["0", "-1", "1", "3", "1e300", "nan", "inf", "-inf", "0.5", "1.5", "",
                                     "99999999999999999999", "0x10", "1_000", " 2", "١"]),
                    st.integers(-5, 10**6).map(str), st.floats(allow_nan=True).map(str), st.text(max_size=5))


NO_ROWS = ",".join(FIELDS)  # the CSV header
SGR = re.compile(r"\x1b\[[0-9;]*m")


def invoke(args: list[str | bytes], env: dict[str, str | None] | None = None, input: str | None = None,
           colour: bool = False):
    """The real command line (in this process, fake embedder), checked for the promises that
    hold whatever the input: an exit of 0, 1 or 2, no exception, no raw control character
    (but colour codes where ``colour`` was asked for), exit 1 only with no result printed."""
    argv = [os.fsdecode(a) if isinstance(a, bytes) else a for a in args]
    result = runner.invoke(COMMAND, argv, env=env, input=input)
    stdout, stderr = (SGR.sub("", out) if colour else out for out in (result.stdout, result.stderr))
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (argv, repr(result.exception))
    assert "Traceback" not in result.stderr and "unexpected " not in result.stderr, (argv, result.stderr)
    assert no_raw_controls(stdout, allowed="\n\t") and no_raw_controls(stderr, allowed="\n"), (argv, stdout, stderr)
    if result.exit_code == 1:  # nothing printed but an empty list or a CSV header
        assert set(result.stdout.split()) <= {"[]", NO_ROWS, "query," + NO_ROWS}, (argv, result.stdout)
    if result.exit_code == 2:
        assert result.stderr.strip(), argv  # an error always says something
    return result


def answers(root: Path, query: str = CANARY) -> list[tuple[str, int, float]]:
    """What the index at ``root`` answers to ``query`` by meaning, outside ``hostile/``:
    (file, first line, cosine) of each hit. (Dense, as a new file changes the word
    statistics that lexical and hybrid scores rest on.)"""
    result = invoke(["query", query, "--index", str(root), "--format", "json", "-k", "20", "--mode", "dense"])
    assert result.exit_code == 0, result.stderr
    return [(hit["relpath"], hit["start_line"], round(hit["score"], 5)) for hit in json.loads(result.stdout)
            if not hit["relpath"].startswith("hostile/")]


@pytest.fixture
def fake_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The fake embedder in the command line; the current folder an empty temporary one."""
    monkeypatch.setattr(semsearch.embedders, "load", fake_loader)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of sample_corpus/ indexed by the command line with the fake embedder."""
    root = copy_sample(tmp_path_factory.mktemp("property") / "notes")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(semsearch.embedders, "load", fake_loader)
        assert runner.invoke(COMMAND, ["index", str(root)]).exit_code == 0
    return root


def _write(folder: bytes, name: bytes, data: bytes) -> None:
    try:
        fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except (FileExistsError, IsADirectoryError):
        return  # the same name drawn twice
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _fresh(base: Path) -> Path:
    """A new indexed folder: two good notes (the canary's answers) in a temporary folder."""
    root = Path(tempfile.mkdtemp(dir=base)) / "notes"
    copy_sample(root, "garden")
    assert invoke(["index", str(root), "-q"]).exit_code == 0
    return root


_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}


@given(files=st.lists(st.tuples(FILE_NAMES, CONTENTS), min_size=1, max_size=5), gitignore=IGNORE_LINES,
       semsearchignore=IGNORE_LINES, fmt=st.sampled_from(FORMATS), query=HOSTILE_TEXT)
@settings(max_examples=EXAMPLES["folders"], **_SETTINGS)
@pytest.mark.slow
def test_hostile_folders(fake_cli: Path, files, gitignore, semsearchignore, fmt: str, query: str) -> None:
    """Hostile names, contents and ignore files in a subfolder: indexed, listed, searched;
    the notes that were there before still answer as before."""
    root = _fresh(fake_cli)
    before = answers(root)
    hostile = os.fsencode(root / "hostile")
    os.mkdir(hostile)
    _write(hostile, b".gitignore", "\n".join(gitignore).encode("utf-8", "surrogatepass"))
    _write(hostile, b".semsearchignore", "\n".join(semsearchignore).encode("utf-8", "surrogatepass"))
    for name, data in files:
        _write(hostile, name, data)
    invoke(["index", str(root), "--format", "json" if fmt == "json" else "table"])
    assert answers(root) == before  # only hostile/ changed; the garden notes answer as before
    invoke(["query", query or "x", "--index", str(root), "--format", fmt])
    invoke(["info", "--index", str(root)])
    invoke(["query", CANARY, "--index", str(root), "--format", fmt, "--path", "hostile/*"])
    shutil.rmtree(root.parent)


@given(include=st.lists(GLOBS, max_size=2), exclude=st.lists(GLOBS, max_size=2), yes=st.booleans())
@settings(max_examples=EXAMPLES["filters"], **_SETTINGS)
@pytest.mark.slow
def test_hostile_filters(fake_cli: Path, include: list[str], exclude: list[str], yes: bool) -> None:
    """Hostile --include/--exclude globs: a clear refusal leaves the index as it was; a run
    that went ahead leaves an index that answers (or finds nothing) without error."""
    root = _fresh(fake_cli)
    before = answers(root)
    args = ["index", str(root), "--format", "json"]
    for glob in include:
        args += ["--include", glob]
    for glob in exclude:
        args += ["--exclude", glob]
    result = invoke([*args, *(["--yes"] if yes else [])])
    if result.exit_code == 2:
        assert answers(root) == before
    else:
        invoke(["query", CANARY, "--index", str(root), "--format", "json"])
    assert invoke(["info", "--index", str(root), "--format", "json"]).exit_code == 0
    shutil.rmtree(root.parent)


@st.composite
def query_args(draw: st.DrawFn, root: str) -> list[str]:
    args = ["query", *draw(st.lists(HOSTILE_TEXT, min_size=1, max_size=3)), "--index", root]
    for option in draw(st.lists(st.sampled_from(["-k", "--min-score", "--path", "--mode", "--format", "-C",
                                                 "--per-file", "--chunks", "--max-tokens", "--absolute", "--all",
                                                 "--query-prompt", "-0"]), max_size=4, unique=True)):
        if option in ("--chunks", "--absolute", "--all"):
            args.append(option)
        elif option == "-0":
            args += ["-0", "--format", "json"]  # -0 with names as they are is for xargs, not a terminal
        elif option == "--path":
            args += ["--path", draw(GLOBS)]
        elif option == "--mode":
            args += ["--mode", draw(st.one_of(st.sampled_from(["dense", "lexical", "hybrid"]), HOSTILE_TEXT))]
        elif option == "--format":
            args += ["--format", draw(st.one_of(st.sampled_from([*FORMATS, "context"]), HOSTILE_TEXT))]
        elif option == "--query-prompt":
            args += ["--query-prompt", draw(HOSTILE_TEXT)]
        else:
            args += [option, draw(NUMBERS)]
    return args


@given(data=st.data())
@settings(max_examples=EXAMPLES["queries"], **_SETTINGS)
@pytest.mark.slow
def test_hostile_queries(fake_cli: Path, indexed: Path, data) -> None:
    """Any query text and option values against an index: 0, 1 or 2, and the index unchanged."""
    args = data.draw(query_args(str(indexed)), label="args")
    if "--format" not in args:
        args += ["--format", data.draw(st.sampled_from(FORMATS), label="format")]
    invoke(args)
    stdin = data.draw(st.one_of(st.none(), HOSTILE_TEXT), label="stdin")
    if stdin is not None:
        invoke(["query", "-", "--index", str(indexed), "--format", "tsv"], input=stdin)
        invoke(["query", "--batch", "-", "--index", str(indexed), "--format", "jsonl"], input=stdin)


@pytest.mark.slow
def test_hostile_queries_leave_the_index_answering(fake_cli: Path, indexed: Path) -> None:
    """After the runs above (same module index), the canary answers as a fresh index of the same notes."""
    fresh = copy_sample(fake_cli / "whole")
    assert invoke(["index", str(fresh), "-q"]).exit_code == 0
    assert answers(indexed) == answers(fresh)


@given(source=st.one_of(HOSTILE_TEXT.map(lambda t: ("text", t)), FILE_NAMES.map(lambda n: ("name", n))),
       top_k=NUMBERS, fmt=st.sampled_from(FORMATS), min_score=st.one_of(st.none(), NUMBERS))
@settings(max_examples=EXAMPLES["similar"], **_SETTINGS)
@pytest.mark.slow
def test_hostile_similar(fake_cli: Path, indexed: Path, source, top_k: str, fmt: str, min_score) -> None:
    kind, value = source
    extra = ["-k", top_k, "--format", fmt, *(["--min-score", min_score] if min_score is not None else [])]
    if kind == "text":
        invoke(["similar", "-", "--index", str(indexed), *extra], input=value)
    else:
        _write(os.fsencode(fake_cli), value, b"Feeding a sourdough starter with flour and water.\n")
        invoke(["similar", "--index", str(indexed), *extra, "--", os.fsdecode(value)])


ENV_NAMES = ["HOME", "COLUMNS", "LINES", "TERM", "NO_COLOR", "FORCE_COLOR", "SEMSEARCH_CACHE_DIR", "SEMSEARCH_DEVICE",
             "SEMSEARCH_INDEX", "XDG_CACHE_HOME", "LANG", "LC_ALL", "TMPDIR"]


@given(env=st.dictionaries(st.sampled_from(ENV_NAMES), st.one_of(st.none(), HOSTILE_TEXT, NUMBERS), max_size=4),
       command=st.sampled_from(["query", "info", "similar"]), fmt=st.sampled_from(FORMATS))
@settings(max_examples=EXAMPLES["environment"], **_SETTINGS)
@pytest.mark.slow
def test_hostile_environment(fake_cli: Path, indexed: Path, env: dict[str, str | None], command: str,
                             fmt: str) -> None:
    """Unset, empty or odd HOME, terminal size, colour, cache and locale variables."""
    env = {k: (v.replace("\0", "") if v is not None else None) for k, v in env.items()}
    # Colour asked for: semsearch's own styling (SGR sequences) is expected; nothing else.
    # (These notes hold no control characters, so no SGR sequence can come from them.)
    colour = bool(env.get("FORCE_COLOR"))
    if command == "query":
        invoke(["query", CANARY, "--index", str(indexed), "--format", fmt], env=env, colour=colour)
    elif command == "info":
        invoke(["info", "--index", str(indexed)], env=env, colour=colour)
    else:
        invoke(["similar", "-", "--index", str(indexed), "--format", fmt], env=env, input=CANARY, colour=colour)


@pytest.mark.slow
@given(data=st.data())
@settings(max_examples=EXAMPLES["real"], **_SETTINGS)
def test_hostile_queries_through_the_real_model(sample_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path, data) -> None:
    """The same queries through the real default model and its tokenizer (the session's indexed copy)."""
    monkeypatch.chdir(tmp_path)
    before = None if data.draw(st.booleans(), label="skip canary") else answers(sample_copy)
    args = data.draw(query_args(str(sample_copy)), label="args")
    invoke([*args, "--format", "tsv"] if "--format" not in args else args)
    if before is not None:
        assert answers(sample_copy) == before


def test_names_with_c1_and_escape_sequences_in_json_and_vimgrep(fake_cli: Path) -> None:
    """Two cases the property test found: JSON left U+009B (an 8-bit CSI) raw, and vimgrep
    printed a path's escape sequence raw. JSON still carries the exact name."""
    root = fake_cli / "notes"
    root.mkdir()
    names = ["\x9b31m.md", "\x1b[31mred.md", "del\x7f.md"]
    for name in names:
        (root / name).write_text("Feeding a sourdough starter with flour and water.\n")
    assert invoke(["index", str(root), "-q"]).exit_code == 0
    result = invoke(["query", CANARY, "--index", str(root), "--format", "json"])
    assert "\\u009b" in result.stdout and "\\u007f" in result.stdout
    assert sorted(hit["relpath"] for hit in json.loads(result.stdout)) == sorted(names)
    vimgrep = invoke(["query", CANARY, "--index", str(root), "--format", "vimgrep"])
    assert len(vimgrep.stdout.splitlines()) == 3  # each a line of its own, made visible (checked by invoke)
