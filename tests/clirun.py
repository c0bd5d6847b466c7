"""Running the real ``semsearch`` command in a child process: from a given folder, with its
output piped or on a pseudo-terminal of a given width, and with the fake embedder or the real model.

``python -m semsearch`` is the product as installed; ``fake=True`` runs the same entry
point with the test embedder put in place of the model loader (tests only).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAKE = ("import semsearch.embedders as e; from tests.fakes import fake_loader; e.load = fake_loader; "
        "from semsearch.cli import run; run()")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str

    @property
    def plain(self) -> str:
        """stdout without escape codes or carriage returns (what a person reads)."""
        return ANSI.sub("", self.stdout).replace("\r", "")


def command(args: Sequence[object], fake: bool = False) -> list[str]:
    head = [sys.executable, "-c", FAKE] if fake else [sys.executable, "-m", "semsearch"]
    return head + [str(a) for a in args]


def environment(extra: dict[str, str] | None = None, columns: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES", "FORCE_COLOR")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env.setdefault("TERM", "xterm-256color")
    if columns is not None:
        env["COLUMNS"] = str(columns)
    env.update(extra or {})
    return env


def cli(*args: object, cwd: Path, fake: bool = False, env: dict[str, str] | None = None, input: str | None = None,
        timeout: float = 300) -> Done:
    """Run semsearch with stdout and stderr piped."""
    done = subprocess.run(command(args, fake), cwd=cwd, env=environment(env), input=input, capture_output=True,
                          text=True, timeout=timeout, check=False)
    return Done(done.returncode, done.stdout, done.stderr)


def tty(*args: object, cwd: Path, columns: int = 80, fake: bool = False, env: dict[str, str] | None = None,
        timeout: float = 300) -> Done:
    """Run semsearch with stdout on a pseudo-terminal ``columns`` wide (stderr piped)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(command(args, fake), cwd=cwd, env=environment(env, columns), stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], timeout)
        if not ready:
            proc.kill()
            raise TimeoutError(f"semsearch {args} took more than {timeout}s")
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.wait(timeout)
    return Done(proc.returncode, b"".join(chunks).decode(errors="replace"), stderr)


LONG = "garden/a-long-folder-names/and-a-deeper-ones/notes-on-lettuce-slugs.md"  # 70 characters


def garden(parent: Path) -> Path:
    """A small notes folder (garden/, garden/pests/, kitchen/, a 70-character path),
    indexed with the fake embedder; returns its root."""
    from semsearch import sync

    from .fakes import FakeFactory

    root = parent / "notes"
    files = {
        "garden/pests/slugs.md": "# Slugs\n\nSlugs eating lettuce at night.\nUse beer traps.\n\n"
                                 "Copper tape works too.\n",
        "garden/compost.md": "# Compost\n\nKitchen scraps and fallen leaves make compost.\nTurn the heap monthly.\n",
        "kitchen/bread.md": "# Bread\n\nFlour, water, yeast, salt. Knead ten minutes; proof the dough overnight.\n",
        "kitchen/salad.md": "# Salad\n\nWash the lettuce twice; slugs hide in the leaves.\n",
        LONG: "".join(f"Line {i}: lettuce and slugs, a long story.\n" for i in range(1, 13)),
    }
    assert len(LONG) == 70
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    sync(root, embedder_factory=FakeFactory())
    return root
