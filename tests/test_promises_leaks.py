"""Small leaks (finding 18 of the hostile review): an ONNX export that was killed leaves a
90 MB temporary folder (now removed by a later run), and an out-of-range --chunk-tokens
was silently ignored by a rebuild or answered with advice to rebuild."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch.cli import app

from .promises import assert_one_line_error, cli


@pytest.mark.parametrize("args, says", [
    (["--chunk-tokens", "0"], "--chunk-tokens 0 is too small"),
    (["--rebuild", "--chunk-tokens", "0"], "--chunk-tokens 0 is too small"),
    (["--rebuild", "--chunk-tokens", "-5"], "--chunk-tokens -5 is too small"),
    (["--overlap", "-1"], "--overlap -1 is negative"),
])
def test_chunking_out_of_range_is_one_line_and_never_a_rebuild_hint(notes: Path, args, says, monkeypatch) -> None:
    assert cli(monkeypatch, "index", notes).exit_code == 0
    generation = (notes / ".semsearch" / "catalog.sqlite").stat().st_mtime_ns
    result = cli(monkeypatch, "index", notes, *args)
    assert_one_line_error(result, says)
    assert "--rebuild" not in result.stderr
    assert (notes / ".semsearch" / "catalog.sqlite").stat().st_mtime_ns == generation
    assert not (notes / ".semsearch.building").exists()


@pytest.mark.slow
def test_temp_folders_of_killed_onnx_exports_are_removed(notes: Path, model_cache: Path) -> None:
    """The real default model on its ONNX backend: a run cleans what killed exports left."""
    copies = model_cache / "onnx"
    copies.mkdir(exist_ok=True)
    dead = copies / "all-MiniLM-L6-v2-0123456789abcdef.999999.k1ll3d.tmp"  # no process 999999 here
    old = copies / "all-MiniLM-L6-v2-0123456789abcdef.oldnaming.tmp"  # before pids were in the name
    live = copies / f"all-MiniLM-L6-v2-0123456789abcdef.{os.getpid()}.working.tmp"  # an export still running
    for folder in (dead, old, live):
        folder.mkdir()
        (folder / "raw.onnx").write_bytes(b"\0" * 4096)
    hours_ago = time.time() - 7200
    os.utime(old, (hours_ago, hours_ago))
    try:
        result = CliRunner().invoke(app, ["index", str(notes)])
        assert result.exit_code == 0, result.output
        assert not dead.exists() and not old.exists()
        assert live.is_dir()
    finally:
        for folder in (dead, old, live):
            if folder.exists():
                for f in folder.iterdir():
                    f.unlink()
                folder.rmdir()
