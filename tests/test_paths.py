"""Paths and scope through the real command line, like git grep and rg: paths print relative
to the current folder, --path globs are read from it, a subfolder is searched by default, an
index inside an indexed tree updates the enclosing one, the index folder ignores itself for
git, and several unquoted words are one query. The fake embedder: the model is not the point."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from semsearch import Index, sync

from .clirun import LONG, cli, command, environment, garden, tty
from .fakes import FakeFactory

QUERY = ("slugs", "eating", "lettuce")


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return garden(tmp_path)


@pytest.mark.slow
def test_paths_from_a_subfolder_feed_xargs(notes: Path) -> None:
    line = shlex.join(command(["query", *QUERY, "--format", "paths"], fake=True)) + " | xargs wc -l"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=notes / "garden", env=environment(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    counted = dict(reversed(row.split(None, 1)) for row in done.stdout.strip().splitlines()[:-1])
    assert counted == {"pests/slugs.md": "6", "compost.md": "4", LONG.removeprefix("garden/"): "12"}
    assert "No such file" not in done.stderr


@pytest.mark.slow
def test_every_format_prints_paths_from_the_current_folder(notes: Path) -> None:
    here = notes / "garden"
    outputs = {fmt: cli("query", *QUERY, "-f", fmt, cwd=here, fake=True) for fmt in
               ("tsv", "csv", "paths", "vimgrep", "json", "jsonl")}
    assert all(d.returncode == 0 for d in outputs.values()), {f: d.stderr for f, d in outputs.items()}
    paths = {
        "tsv": [row.split("\t")[2] for row in outputs["tsv"].stdout.splitlines()],
        "csv": [row["path"] for row in csv.DictReader(io.StringIO(outputs["csv"].stdout))],
        "paths": outputs["paths"].stdout.splitlines(),
        "vimgrep": [row.split(":")[0] for row in outputs["vimgrep"].stdout.splitlines()],
        "json": [r["path"] for r in json.loads(outputs["json"].stdout)],
        "jsonl": [json.loads(row)["path"] for row in outputs["jsonl"].stdout.splitlines()],
    }
    expected = paths["json"]
    assert "pests/slugs.md" in expected and all(not p.startswith(("/", "garden/")) for p in expected)
    assert all(v == expected for v in paths.values()), paths
    for record in json.loads(outputs["json"].stdout):  # scripts can always rebuild the root-relative path
        assert record["root"] == str(notes) and (here / record["path"]).resolve() == notes / record["relpath"]
        assert record["relpath"].startswith("garden/")


@pytest.mark.slow
def test_paths_above_beside_and_absolute(notes: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    above = cli("query", *QUERY, "--index", notes, "-f", "paths", cwd=tmp_path, fake=True).stdout.splitlines()
    assert "notes/garden/pests/slugs.md" in above and "notes/kitchen/salad.md" in above
    beside = cli("query", *QUERY, "--index", notes, "-f", "paths", cwd=elsewhere, fake=True).stdout.splitlines()
    assert str(notes / "garden/pests/slugs.md") in beside and all(os.path.isabs(p) for p in beside)
    forced = cli("query", *QUERY, "--absolute", "-f", "paths", cwd=notes, fake=True).stdout.splitlines()
    assert str(notes / "kitchen/salad.md") in forced and all(os.path.isabs(p) for p in forced)
    with Index(notes, embedder_factory=FakeFactory()) as idx:  # the library keeps root-relative paths
        assert "garden/pests/slugs.md" in [h.path for h in idx.query(" ".join(QUERY))]


@pytest.mark.slow
def test_a_subfolder_is_searched_unless_all(notes: Path) -> None:
    inside = cli("query", *QUERY, "-f", "paths", cwd=notes / "garden", fake=True).stdout.splitlines()
    assert inside and not any(p.startswith("..") for p in inside)
    everything = cli("query", *QUERY, "--all", "-f", "paths", cwd=notes / "garden", fake=True).stdout.splitlines()
    assert "../kitchen/salad.md" in everything and set(inside) < set(everything)
    nothing = tty("query", "sourdough", "starter", "--mode", "lexical", cwd=notes / "garden" / "pests", fake=True)
    assert nothing.returncode == 1 and "no results in this folder (--all searches the whole index)" in nothing.stderr


@pytest.mark.slow
def test_path_globs_are_read_from_the_current_folder(notes: Path) -> None:
    here = notes / "garden"

    def paths(*globs: str) -> list[str]:
        args = [a for g in globs for a in ("--path", g)]
        return cli("query", *QUERY, *args, "-f", "paths", cwd=here, fake=True).stdout.splitlines()

    assert paths("pests/*") == ["pests/slugs.md"]
    assert set(paths("../kitchen/*")) == {"../kitchen/salad.md", "../kitchen/bread.md"}  # a place named: taken as given
    assert set(paths("*.md")) == {"pests/slugs.md", "compost.md", LONG.removeprefix("garden/")}  # in garden only
    outside = cli("query", *QUERY, "--path", "../../*", cwd=here, fake=True)
    assert outside.returncode == 2 and "outside the index" in outside.stderr
    assert len(outside.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_similar_reads_and_prints_paths_from_the_current_folder(notes: Path) -> None:
    done = cli("similar", "pests/slugs.md", "--all", "-f", "paths", cwd=notes / "garden", fake=True)
    assert done.returncode == 0, done.stderr
    shown = done.stdout.splitlines()
    assert "pests/slugs.md" not in shown and "../kitchen/salad.md" in shown
    assert all((notes / "garden" / p).is_file() for p in shown)


@pytest.mark.slow
def test_index_in_a_subfolder_updates_the_enclosing_index(notes: Path) -> None:
    (notes / "garden" / "pests" / "aphids.md").write_text("Aphids on the roses: soapy water.\n")
    (notes / "kitchen" / "soup.md").write_text("Leek soup.\n")  # outside the folder walked: not seen yet
    (notes / "kitchen" / "bread.md").unlink()  # outside too: not removed yet
    done = cli("index", "pests", "-f", "json", cwd=notes / "garden", fake=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["root"] == str(notes) and report["within"] == "garden/pests/"
    assert report["added"] == ["garden/pests/aphids.md"] and report["removed"] == []
    assert not (notes / "garden" / "pests" / ".semsearch").exists() and not (notes / "garden" / ".semsearch").exists()
    with Index(notes) as idx:
        assert idx.info().stale_new == ["kitchen/soup.md"] and idx.info().stale_removed == ["kitchen/bread.md"]
    text = cli("index", cwd=notes / "kitchen", fake=True)  # no PATH: the current folder, like git
    assert text.returncode == 0 and "walking only kitchen/" in text.stdout
    with Index(notes) as idx:
        assert idx.info().stale == 0


@pytest.mark.slow
def test_a_nested_index_only_when_asked(notes: Path) -> None:
    nested = cli("index", "--nested", "-f", "json", cwd=notes / "kitchen", fake=True)
    assert nested.returncode == 0, nested.stderr
    assert json.loads(nested.stdout)["root"] == str(notes / "kitchen") and (notes / "kitchen" / ".semsearch").is_dir()
    again = cli("index", "-f", "json", cwd=notes / "kitchen", fake=True)  # its own index now
    assert json.loads(again.stdout)["root"] == str(notes / "kitchen")
    rebuild = cli("index", "pests", "--rebuild", cwd=notes / "garden", fake=True)
    assert rebuild.returncode == 2 and f"semsearch index {notes} --rebuild" in rebuild.stderr


def test_the_library_sync_of_a_folder_is_unchanged(notes: Path) -> None:
    fake = FakeFactory()
    report = sync(notes / "garden", embedder_factory=fake)  # the library makes the index it is asked for
    assert report.created and report.root == notes / "garden" and report.within == ""
    assert sync(notes, embedder_factory=fake).within == ""
    with pytest.raises(Exception, match="--rebuild remakes the whole index"):
        sync(notes, within="garden", rebuild=True, embedder_factory=fake)


@pytest.mark.slow
def test_the_index_folder_is_ignored_by_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "note.md").write_text("Planting garlic in October.\n")
    git = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env={**os.environ, **git})
    assert cli("index", cwd=repo, fake=True).returncode == 0
    assert (repo / ".semsearch" / ".gitignore").read_text() == "*\n"
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, check=True,
                            capture_output=True, text=True, env={**os.environ, **git}).stdout
    assert status.splitlines() == ["?? note.md"]


@pytest.mark.slow
def test_a_linked_gitignore_is_refused(notes: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    ignore = notes / ".semsearch" / ".gitignore"
    ignore.unlink()
    ignore.symlink_to(target)
    done = cli("index", cwd=notes, fake=True)
    assert done.returncode == 2 and ".gitignore is a symbolic link" in done.stderr
    assert target.read_text() == "keep me\n"


@pytest.mark.slow
def test_several_unquoted_words_are_one_query(notes: Path) -> None:
    unquoted = cli("query", "how", "do", "slugs", "eat", "lettuce", "-f", "json", cwd=notes, fake=True)
    quoted = cli("query", "how do slugs eat lettuce", "-f", "json", cwd=notes, fake=True)
    assert unquoted.returncode == 0, unquoted.stderr
    assert json.loads(unquoted.stdout) == json.loads(quoted.stdout)
    piped = cli("query", "-", "-f", "json", cwd=notes, fake=True, input="how do slugs eat lettuce\n")
    assert json.loads(piped.stdout) == json.loads(quoted.stdout)
