"""Helpers for the tests of the promises under attack (tests/test_promises_*.py): the real
command line with the fast fake embedder, and what a one-line error looks like."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import semsearch.embedders
from semsearch.cli import app

from .conftest import REPO
from .fakes import fake_loader

runner = CliRunner()
CHILD = REPO / "tests" / "crash_child.py"  # the real command line, in a process of its own, with the fake model


def cli(monkeypatch: pytest.MonkeyPatch, *args: object, input: str | bytes | None = None):
    """The real command line (in this process) with the fake embedder."""
    monkeypatch.setattr(semsearch.embedders, "load", fake_loader)
    return runner.invoke(app, [a if isinstance(a, str) else os.fspath(a) for a in args], input=input)


def child(*args: object, cwd: Path | None = None, env: dict[str, str] | None = None,
          input: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real command line as its own process (``python tests/crash_child.py -- ARGS``), fake embedder."""
    argv = [sys.executable, str(CHILD), "--", *(os.fsencode(a) if isinstance(a, (str, Path)) else a for a in args)]
    return subprocess.run(argv, cwd=cwd, env=env, input=input, capture_output=True, timeout=timeout, check=False)


def assert_one_line_error(result, *says: str, code: int = 2) -> None:
    """Exit ``code`` (2) and one line on stderr that starts ``semsearch: error:`` and says ``says``."""
    stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode("utf-8", "replace")
    exit_code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert exit_code == code, (exit_code, stderr)
    assert stderr.startswith("semsearch: error:"), stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    for words in says:
        assert words in stderr, stderr


def no_raw_controls(text: str, allowed: str = "\n") -> bool:
    """Whether ``text`` holds no control character but those ``allowed``."""
    return not any((ord(c) < 32 or 0x7F <= ord(c) < 0xA0) and c not in allowed for c in text)
