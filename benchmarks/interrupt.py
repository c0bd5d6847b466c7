"""How fast Ctrl-C stops `semsearch index` with the real model, mid-embedding.

    python benchmarks/interrupt.py [--docs 600] [--runs 5] [--write]

Writes --docs SciFact abstracts (from /work/shared/data/scifact, or --corpus) as text
files, starts `python -m semsearch index` on them, waits until the first batch is
committed and a random moment more, sends SIGINT, and times the gap until the process
has exited (exit code 130 expected). The baseline, in the same run, is the same command
through `cli.app()` directly, i.e. without the entry point's skipped interpreter teardown.
With --write, the table replaces the "interrupt" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "semsearch (entry point)": [sys.executable, "-m", "semsearch"],
    "baseline: cli.app() with full teardown": [sys.executable, "-c", "import sys; from semsearch.cli import app; "
                                               "app(sys.argv[1:], prog_name='semsearch')"],
}


def write_docs(corpus: Path, folder: Path, n: int) -> None:
    with open(corpus / "corpus.jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= n:
                break
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc.get('title', '')}\n\n{doc['text']}\n", encoding="utf-8")


def committed_files(catalog: Path) -> int:
    try:
        with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.Error:
        return 0


def one_stop(cmd: list[str], folder: Path, rng: random.Random) -> tuple[float, int, str]:
    shutil.rmtree(folder / ".semsearch", ignore_errors=True)
    proc = subprocess.Popen([*cmd, "index", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    catalog = folder / ".semsearch" / "catalog.sqlite"
    while committed_files(catalog) == 0:
        if proc.poll() is not None:
            raise SystemExit(f"index ended before its first commit: {proc.stderr.read()}")
        time.sleep(0.05)
    time.sleep(rng.uniform(0, 2))  # somewhere inside a later batch
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    proc.wait()
    return time.perf_counter() - sent, proc.returncode, proc.stderr.read().strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/data/scifact"))
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        write_docs(args.corpus, folder, args.docs)
        rows = []
        for name, cmd in COMMANDS.items():
            stops = [one_stop(cmd, folder, rng) for _ in range(args.runs)]
            codes = sorted({code for _, code, _ in stops})
            times = [t for t, _, _ in stops]
            rows.append(f"| {name} | {statistics.median(times):.2f} s | {max(times):.2f} s | {codes} |")
            print(rows[-1], "|", stops[-1][2], flush=True)
    table = "\n".join([
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()} with `python benchmarks/interrupt.py --docs {args.docs} --runs {args.runs} "
        f"--write`: {args.docs} SciFact abstracts, real default model, Ctrl-C at a random moment after the first "
        "commit.",
        "",
        "| command | median stop | worst stop | exit codes |",
        "|---|---|---|---|",
        *rows,
    ])
    if args.write:
        path = REPO / "BENCHMARKS.md"
        text = path.read_text()
        start, end = "<!-- interrupt:start -->", "<!-- interrupt:end -->"
        text = text[: text.index(start) + len(start)] + "\n" + table + "\n" + text[text.index(end):]
        path.write_text(text)
    print(table)


if __name__ == "__main__":
    main()
