"""The command line, end to end: with the real default model on a copy of sample_corpus/
(slow), and its mechanics (formats, exit codes, errors, help) also with the fake embedder."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.main import get_command_name
from typer.testing import CliRunner

import semsearch.embedders
from semsearch.cli import app

from .fakes import Interrupting

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


QUERY = "what to do with kitchen scraps and fallen leaves"


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.slow)])
def sample_index(request: pytest.FixtureRequest) -> Path:
    """A copy of sample_corpus/ indexed with the fake embedder (which the command line then
    loads), or with the real model: what does not depend on the model is checked with both."""
    if request.param == "fake":
        request.getfixturevalue("fake_model")
        return request.getfixturevalue("sample_fake")
    return request.getfixturevalue("sample_copy")


@pytest.mark.parametrize("fmt", ["json", "jsonl", "tsv", "csv", "paths", "table"])
def test_every_format_parses(sample_index: Path, fmt: str) -> None:
    # --min-score 0: four rows whatever the default floor keeps (it is tested in test_semantic.py)
    result = run("query", QUERY, "--index", sample_index, "-k", "4", "--format", fmt, "--min-score", "0")
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "json":
        rows = json.loads(out)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
    elif fmt == "tsv":
        rows = [dict(zip(["rank", "score", "path", "start_line", "end_line", "text"], line.split("\t"), strict=False))
                for line in out.splitlines()]
        assert all(len(line.split("\t")) == 6 for line in out.splitlines())
    elif fmt == "paths":
        assert len(out.splitlines()) == 4 and all((sample_index / p).is_file() for p in out.splitlines())
        return
    else:
        # A table with its header, or (a long path on a narrow terminal) results stacked rg-style.
        assert ("score" in out and "location" in out) or re.search(r"^ +1 +\d\.\d{3} +\S", out, re.M), out
        return
    assert len(rows) == 4
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    for r in rows:
        lines = (sample_index / r["path"]).read_text(encoding="utf-8").splitlines()
        start, end = int(r["start_line"]), int(r["end_line"])
        assert 1 <= start <= end <= len(lines)
        if fmt != "tsv":  # tsv flattens whitespace; the others carry the passage verbatim
            text = r["text"]
            if fmt == "csv" and text.startswith("'") and text[1:2] in ("=", "+", "-", "@"):
                text = text[1:]  # CSV defuses a cell a spreadsheet would run as a formula
            assert text.splitlines()[0].strip() in lines[start - 1]


def test_piped_output_defaults_to_tsv_with_nothing_else_on_stdout(sample_index: Path) -> None:
    result = run("query", QUERY, "--index", sample_index, "-k", "3", "--min-score", "0")
    assert result.exit_code == 0
    assert [len(line.split("\t")) for line in result.stdout.splitlines()] == [6, 6, 6]
    assert result.stderr == ""


def test_query_from_stdin_and_from_a_batch(sample_index: Path, tmp_path: Path) -> None:
    single = run("query", "-", "--index", sample_index, "-k", "1", "--format", "json", input=QUERY + "\n")
    assert single.exit_code == 0
    expected = json.loads(single.stdout)[0]["path"]

    questions = tmp_path / "questions.txt"
    questions.write_text(f"{QUERY}\n\n   \nhow to set up passwordless login to a server\n")
    for source, stdin in ((questions, None), ("-", questions.read_text())):
        batch = run("query", "--batch", source, "--index", sample_index, "-k", "2", "--format", "json",
                    "--min-score", "0", input=stdin)
        assert batch.exit_code == 0, batch.output
        sets = json.loads(batch.stdout)
        assert [s["query"] for s in sets] == [QUERY, "how to set up passwordless login to a server"]
        assert sets[0]["results"][0]["path"] == expected and len(sets[1]["results"]) == 2
    lines = run("query", "--batch", questions, "--index", sample_index, "-k", "2", "--format", "jsonl",
                "--min-score", "0").stdout
    assert [json.loads(line)["query"] for line in lines.splitlines()] == [QUERY, QUERY] + [
        "how to set up passwordless login to a server"
    ] * 2


@pytest.mark.slow
def test_exit_codes(sample_index: Path, tmp_path: Path) -> None:
    assert run("query", QUERY, "--index", sample_index).exit_code == 0
    none = run("query", QUERY, "--index", sample_index, "--min-score", "0.99")
    assert none.exit_code == 1 and none.stdout == ""
    assert run("query", QUERY, "--index", sample_index, "--path", "no/such/*").exit_code == 1
    missing = run("query", QUERY, "--index", tmp_path)
    assert missing.exit_code == 2 and "no index found" in missing.stderr and "semsearch index" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    assert run("query", "--index", sample_index).exit_code == 2  # neither TEXT nor --batch
    assert run("query", QUERY, "--index", sample_index, "-k", "0").exit_code == 2
    assert run("query", QUERY, "--index", sample_index, "--format", "xml").exit_code == 2
    assert run("index", tmp_path / "nowhere").exit_code == 2
    assert run("similar", tmp_path / "nowhere.md", "--index", sample_index).exit_code == 2


@pytest.mark.slow
def test_query_refuses_another_model(sample_copy: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-model"
    other.mkdir()
    (other / "modules.json").write_text("[]")
    result = run("query", QUERY, "--index", sample_copy, "--model", other)
    assert result.exit_code == 2 and "built with sentence-transformers/all-MiniLM-L6-v2" in result.stderr
    assert run("query", QUERY, "--index", sample_copy, "--model", "all-MiniLM-L6-v2").exit_code == 0


def test_unknown_model_fails_at_once_offline(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("hello")
    result = run("index", tmp_path, "--model", "nobody/no-such-model-anywhere")
    assert result.exit_code == 2 and "not available offline" in result.stderr
    assert not (tmp_path / ".semsearch").exists()


@pytest.mark.slow
def test_similar_from_file_outside_and_stdin(sample_copy: Path, tmp_path: Path) -> None:
    source = next(p for p in sorted((sample_copy / "garden").glob("*.md")))
    rel = source.relative_to(sample_copy).as_posix()
    inside = json.loads(run("similar", source, "--index", sample_copy, "--format", "json").stdout)
    assert rel not in [h["relpath"] for h in inside] and len(inside) == 10
    outside = tmp_path / "copy.md"
    shutil.copy(source, outside)
    copied = json.loads(run("similar", outside, "--index", sample_copy, "--format", "json").stdout)
    assert copied[0]["relpath"] == rel and copied[0]["score"] > 0.99  # the same text finds its twin first
    piped = run("similar", "-", "--index", sample_copy, "--format", "json", input=source.read_text())
    assert json.loads(piped.stdout)[0]["relpath"] == rel


@pytest.mark.slow
def test_info(sample_copy: Path) -> None:
    result = run("info", "--index", sample_copy, "--format", "json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    files = [p for p in sample_copy.rglob("*") if p.is_file() and ".semsearch" not in p.relative_to(sample_copy).parts]
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2" and info["dimension"] == 384
    assert info["files"] == len(files) and info["passages"] >= len(files) - 1 and info["stale"] == 0
    assert info["size_bytes"] > 0
    table = run("info", "--index", sample_copy)
    assert "passages" in table.stdout and "stale" in table.stdout


def command_lines(typer_app=app, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group the app registers, as typed after ``semsearch``."""
    found = []
    for command in typer_app.registered_commands:
        found.append((*prefix, command.name or get_command_name(command.callback.__name__)))
    for group in typer_app.registered_groups:
        name = group.name or group.typer_instance.info.name
        found += [(*prefix, name), *command_lines(group.typer_instance, (*prefix, name))]
    return found


@pytest.mark.slow
def test_every_command_has_help() -> None:
    commands = command_lines()
    assert {("index",), ("query",), ("similar",), ("info",), ("status",), ("eval",)} <= set(commands)
    for command in commands:
        result = run(*command, "--help")
        assert result.exit_code == 0 and len(result.stdout) > 200, command
    assert "Exit codes" in run("--help").stdout


def test_bad_input_leaves_the_index_answering(sample_index: Path, tmp_path: Path) -> None:
    """Every failed command leaves the existing index exactly as it was, still answering."""
    before = run("query", QUERY, "--index", sample_index, "--format", "json").stdout
    catalog = sample_index / ".semsearch" / "catalog.sqlite"
    stamp = catalog.stat().st_mtime_ns, catalog.stat().st_size
    other = tmp_path / "other-model"
    other.mkdir()
    (other / "modules.json").write_text("[]")
    for args in (
        ["index", sample_index, "--model", other],
        ["index", sample_index, "--chunk-tokens", "99"],
        ["index", sample_index / "howto" / "logrotate.md"],
        ["index", sample_index, "--chunk-tokens", "100000", "--rebuild"],
        ["query", "   ", "--index", sample_index],
        ["similar", sample_index / "nope.md", "--index", sample_index],
    ):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("semsearch: error:") and len(result.stderr.strip().splitlines()) == 1
    assert (catalog.stat().st_mtime_ns, catalog.stat().st_size) == stamp
    assert run("query", QUERY, "--index", sample_index, "--format", "json").stdout == before


def test_huge_file_is_skipped_without_being_read(tmp_path: Path, fake_model: None) -> None:
    (tmp_path / "note.md").write_text("A short note about planting garlic in October.\n")
    with open(tmp_path / "huge.log.txt", "wb") as fh:
        fh.truncate(1 << 30)  # 1 GiB, sparse: costs no disk, and would take long to read
    result = run("index", tmp_path, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == ["note.md"]
    assert report["skipped"] == [{"path": "huge.log.txt", "reason": "larger than --max-file-size (1073.7 MB > 5.0 MB)"}]
    assert "skipped (larger than --max-file-size" in run("index", tmp_path).stdout


def test_corrupt_index_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    (tmp_path / ".semsearch").mkdir()
    (tmp_path / ".semsearch" / "catalog.sqlite").write_bytes(b"\x00garbage" * 512)
    for args in (["query", QUERY, "--index", tmp_path], ["info", "--index", tmp_path], ["index", tmp_path]):
        result = run(*args)
        assert result.exit_code == 2 and f"semsearch index {tmp_path} --rebuild" in result.stderr


def test_ctrl_c_exits_130_and_says_how_to_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "note.md").write_text("A short note about planting garlic in October.\n")
    monkeypatch.setattr(semsearch.embedders, "load", Interrupting(at_call=1))  # Ctrl-C while embedding
    result = run("index", tmp_path)
    assert result.exit_code == 130 and "again to resume" in result.stderr


def test_cli_rejects_an_unknown_backend(notes: Path) -> None:
    result = runner.invoke(app, ["index", str(notes), "--backend", "tensorflow", "-f", "json"])
    assert result.exit_code == 2
    assert "choose one of torch, onnx, onnx-int8" in result.output
    assert not (notes / ".semsearch").exists()
