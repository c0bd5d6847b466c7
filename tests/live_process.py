"""A long-lived ``semsearch`` command (watch, serve) in a child process, with its stderr
read line by line, for tests to wait on (bounded waits, never timed assertions)."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from typing_extensions import Self

CHILD = Path(__file__).with_name("crash_child.py")


def indexed_copy(base: Path) -> Path:
    """``base/notes``: a copy of sample_corpus/ indexed with the fake embedder, holding a hidden
    ``.env`` (never indexed), with ``base/secret.txt`` outside it: what a server must never read."""
    from semsearch import sync

    from .conftest import copy_sample
    from .fakes import FakeFactory

    root = base / "notes"
    copy_sample(root)
    (root / ".env").write_text("API_KEY=never-readable\n")
    (base / "secret.txt").write_text("outside the root\n")
    sync(root, embedder_factory=FakeFactory())
    return root


class LiveProcess:
    """``semsearch ARGS`` in a child: with the fake embedder (through tests/crash_child.py)
    unless ``real_model``; ``action`` is e.g. ("--kill", "committed:5")."""

    def __init__(self, *args: object, real_model: bool = False, action: tuple[str, str] | None = None,
                 env: dict[str, str] | None = None, stdin: int | None = subprocess.DEVNULL) -> None:
        options = ["--real-model"] if real_model else []
        if action:
            options += list(action)
        command = [sys.executable, str(CHILD), *options, "--", *map(str, args)]
        self.proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)

    def wait_for(self, pattern: str, timeout: float = 120, after: int = 0) -> re.Match[str]:
        """The first stderr line from line ``after`` on that matches ``pattern``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            for line in self.lines[seen:]:
                match = re.search(pattern, line)
                if match:
                    return match
            seen = max(seen, len(self.lines))
            if self.proc.poll() is not None and seen >= len(self.lines):
                time.sleep(0.2)  # the last lines may still be on their way
                if seen >= len(self.lines):
                    raise AssertionError(f"exited {self.proc.returncode} before {pattern!r}:\n" + "\n".join(self.lines))
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} within {timeout}s:\n" + "\n".join(self.lines))
            with contextlib.suppress(queue.Empty):
                self._new.get(timeout=0.1)

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, then the exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serving(proc: LiveProcess) -> str:
    """The URL of a ``serve`` child, once it says it is serving."""
    return proc.wait_for(r"serving .* at (http://127\.0\.0\.1:\d+)").group(1)
