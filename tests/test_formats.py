"""Editors and pipes, through the real command line: the vimgrep format opens vim at the right
line, -0 for xargs -0, scores with six decimals, one name for the model in every JSON record,
info's formats follow query's rules, and a closed pipe ends quietly. The fake embedder."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from semsearch.records import EvalReport

from .clirun import LONG, cli, command, environment, garden, tty

QUERY = ("slugs", "eating", "lettuce")


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return garden(tmp_path)


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
@pytest.mark.slow
def test_vimgrep_opens_vim_at_the_line(notes: Path, tmp_path: Path) -> None:
    (notes / "kitchen" / "pickles.md").write_text("\n\n\nPickled cucumbers need dill and garlic.\nBrine: 5% salt.\n")
    assert cli("index", cwd=notes, fake=True).returncode == 0
    here = notes / "kitchen"
    done = cli("query", "pickled", "cucumbers", "dill", "--mode", "lexical", "-k", "1", "-f", "vimgrep", cwd=here)
    assert done.stdout == "pickles.md:4:1:Pickled cucumbers need dill and garlic.\n"  # the first line with text
    quickfix, where = tmp_path / "qf.txt", tmp_path / "where.txt"
    quickfix.write_text(done.stdout)
    report = f"call writefile([expand('%:p'), line('.'), getline('.')], '{where}')"
    subprocess.run(["vim", "-Nes", "-u", "NONE", "-i", "NONE", "-c", "set errorformat=%f:%l:%c:%m",
                    "-c", f"cfile {quickfix}", "-c", report, "-c", "qa!"], cwd=here, check=True, timeout=60,
                   env=environment())
    assert where.read_text().splitlines() == [str(here / "pickles.md"), "4", "Pickled cucumbers need dill and garlic."]
    every = cli("query", *QUERY, "-f", "vimgrep", cwd=notes, fake=True).stdout.splitlines()
    for row in every:
        path, line, column, text = row.split(":", 3)
        assert column == "1" and (notes / path).read_text().splitlines()[int(line) - 1] == text


@pytest.mark.slow
def test_null_separates_paths_for_xargs(notes: Path) -> None:
    nul = cli("query", *QUERY, "-0", cwd=notes, fake=True)
    assert nul.returncode == 0 and nul.stdout.endswith("\0") and "\n" not in nul.stdout
    assert nul.stdout.split("\0")[:-1] == cli("query", *QUERY, "-f", "paths", cwd=notes, fake=True).stdout.splitlines()
    assert LONG in nul.stdout.split("\0")
    line = shlex.join(command(["query", *QUERY, "-0", "--format", "paths"], fake=True)) + " | xargs -0 wc -l"
    counted = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=notes, env=environment(),
                             capture_output=True, text=True, timeout=120, check=False)
    assert counted.returncode == 0 and f"12 {LONG}" in counted.stdout
    wrong = cli("query", *QUERY, "-0", "-f", "json", cwd=notes, fake=True)
    assert wrong.returncode == 2 and "-0/--null" in wrong.stderr


@pytest.mark.slow
def test_scores_have_six_decimals_in_every_machine_format(notes: Path) -> None:
    six = re.compile(r"^-?\d+\.\d{6}$")
    tsv = cli("query", *QUERY, "-f", "tsv", cwd=notes, fake=True).stdout
    assert all(six.match(row.split("\t")[1]) for row in tsv.splitlines()), tsv
    rows = list(csv.DictReader(io.StringIO(cli("query", *QUERY, "-f", "csv", cwd=notes, fake=True).stdout)))
    assert rows and all(six.match(r["score"]) for r in rows)
    assert any(r["score"].endswith("0") for r in rows + [{"score": row.split("\t")[1]} for row in tsv.splitlines()])
    for record in json.loads(cli("query", *QUERY, "-f", "json", cwd=notes, fake=True).stdout):
        assert record["score"] == round(record["score"], 6)


@pytest.mark.slow
def test_the_model_has_one_name_in_every_record(notes: Path) -> None:
    report = json.loads(cli("index", "-f", "json", cwd=notes, fake=True).stdout)
    info = json.loads(cli("info", "-f", "json", cwd=notes).stdout)
    assert report["model"] == info["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "model_id" not in report and "model_id" not in info
    evaluation = EvalReport("d", "test", "m", "onnx", 1, notes, 0.0, False, 0).to_dict()
    assert evaluation["model"] == "m" and "model_id" not in evaluation


@pytest.mark.slow
def test_info_follows_the_format_rules_of_query(notes: Path) -> None:
    piped = cli("info", cwd=notes)
    assert piped.returncode == 0 and piped.stdout.startswith(f"root\t{notes}\n")
    assert all(len(row.split("\t")) == 2 for row in piped.stdout.splitlines())
    table = cli("info", "--format", "csv", cwd=notes).stdout
    rows = list(csv.reader(io.StringIO(table)))
    assert rows[0] == ["key", "value"] and ["root", str(notes)] in rows and ["files", "5"] in rows
    terminal = tty("info", cwd=notes, columns=80)
    assert "root" in terminal.plain and "\t" not in terminal.plain and "stale" in terminal.plain
    wrong = cli("info", "-f", "vimgrep", cwd=notes)
    assert wrong.returncode == 2 and "info has no vimgrep format" in wrong.stderr


@pytest.mark.parametrize("args", [
    ("query", *QUERY, "-k", "50", "--all"),
    ("query", *QUERY, "-k", "50", "--all", "-f", "json"),
    ("query", *QUERY, "-k", "50", "--all", "-f", "table"),
    ("similar", "kitchen/salad.md"),
    ("info",),
])
@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(notes: Path, args: tuple[str, ...]) -> None:
    for n in range(40):  # output enough to need a second write
        (notes / "kitchen" / f"note{n}.md").write_text(f"Note {n}: slugs eating lettuce. " * 40 + "\n")
    assert cli("index", cwd=notes, fake=True).returncode == 0
    proc = subprocess.Popen(command(args, fake=True), cwd=notes, env=environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line, as with `| head -0` or `| true`
    stderr = proc.stderr.read().decode()
    assert proc.wait(120) in (0, 141) and stderr == "", stderr
